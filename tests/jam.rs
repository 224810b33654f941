//! `cantus jam` against a real JACK server (see `jam_support`): a fake keyboard plays a phrase,
//! a fake synth records what comes back. Skipped, with a message, where jackd is not installed
//! (unless CANTUS_REQUIRE_JACK=1).

mod jam_support;

use std::thread;
use std::time::{Duration, Instant};

use jam_support::{
    Cantus, JackServer, Keyboard, Synth, period, recorded_pitches, stuck_notes, worst_stall,
};

/// 120 BPM in sixteenths: a step every 125 ms.
const STEP: Duration = Duration::from_millis(125);

/// On top of one JACK period: the jam's loop wakes every millisecond and `sleep` overshoots by
/// up to another on an idle machine; the jam and both JACK clients run without real-time
/// priority, where a wake-up can come a few milliseconds late. 5 ms covers that and is far
/// below a step (125 ms). On a machine so loaded that sleepers stall for longer (a compiler on
/// every core), the test measures the stall with a sleeper of its own ([`worst_stall`]) and
/// allows that much too: Cantus's loop is such a sleeper, and the stall says nothing about it.
const SCHEDULING: Duration = Duration::from_millis(5);

#[test]
fn jam_over_jack_answers_on_the_grid_after_the_phrase_records_and_ends_cleanly() {
    let Some(server) = JackServer::start_synchronous("jam") else {
        return;
    };
    let synth = Synth::open();
    let mut keyboard = Keyboard::open();
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("jam.mid");

    // `cantus ports` lists both, each on its side.
    let ports = std::process::Command::new(env!("CARGO_BIN_EXE_cantus"))
        .arg("ports")
        .env("JACK_DEFAULT_SERVER", &server.name)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&ports.stdout);
    assert!(ports.status.success(), "{listing}");
    let outputs_at = listing.find("MIDI outputs").unwrap();
    assert!(
        listing.find("keyboard:keys").unwrap() < outputs_at,
        "{listing}"
    );
    assert!(
        listing.find("synth:notes").unwrap() > outputs_at,
        "{listing}"
    );

    // With no JACK server by that name and no ALSA sequencer (as in containers), `auto` says
    // that it found neither.
    if !std::path::Path::new("/dev/snd/seq").exists() {
        let none = std::process::Command::new(env!("CARGO_BIN_EXE_cantus"))
            .arg("ports")
            .env("JACK_DEFAULT_SERVER", "cantus-no-such-server")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&none.stderr);
        assert_eq!(none.status.code(), Some(1), "{said}");
        assert!(
            said.contains("found no MIDI system: no JACK server is running"),
            "{said}"
        );
    }

    // A name that matches no port is refused, with the ports to choose from.
    let mut missing = Cantus::jam(&server, &["--in", "keys", "--out", "piano"]);
    assert_eq!(missing.wait(Duration::from_secs(30)).code(), Some(1));
    assert!(
        missing.said("no MIDI output matches \"piano\"; the MIDI outputs are: synth:notes"),
        "{:#?}",
        missing.seen
    );

    let mut cantus = Cantus::jam(
        &server,
        &[
            "--in",
            "keys",
            "--out",
            "synth",
            "--mode",
            "answer",
            "--bpm",
            "120",
            "--seed",
            "5",
            "--answer-bars",
            "1",
            "--answer-now",
            "--record",
            recording.to_str().unwrap(),
        ],
    );
    cantus.wait_for("jamming:", Duration::from_secs(30));
    thread::sleep(Duration::from_millis(500));
    assert!(
        synth.messages().is_empty(),
        "answer mode waits for a phrase"
    );

    // The phrase: four eighth notes.
    for pitch in [60, 62, 64, 67] {
        keyboard.send(&[0x90, pitch, 100]);
        thread::sleep(2 * STEP);
        keyboard.send(&[0x80, pitch, 0]);
    }
    let phrase_end = Instant::now();
    // The answer: one bar (16 steps, 2 s) right after the release.
    let stall = worst_stall(Duration::from_secs(3));
    let answer = synth.messages();
    cantus.interrupt();
    let status = cantus.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(130), "{:#?}", cantus.seen);
    assert!(cantus.said("stopped: all notes off") && cantus.said("recorded the jam"));

    let ons = answer.iter().filter(|m| m.bytes[0] == 0x90).count();
    assert!(ons >= 2, "expected an answer of a few notes: {answer:?}");
    // Nothing before the phrase's end (the last note-off reaches Cantus within a period).
    let first = answer[0].at;
    assert!(
        first > phrase_end,
        "the answer began {:?} before the phrase ended",
        phrase_end - first
    );
    // Every event on the 125 ms grid: each one's distance from the grid line through the
    // first lies within a period plus the scheduling slack, whichever way.
    let tolerance = period() + SCHEDULING.max(stall);
    let mut worst = 0.0f64;
    for m in &answer {
        let since = (m.at - first).as_secs_f64();
        let steps = since / STEP.as_secs_f64();
        let off = (steps - steps.round()).abs() * STEP.as_secs_f64();
        worst = worst.max(off);
        assert!(
            off <= tolerance.as_secs_f64(),
            "{:?} at {since:.4} s is {:.1} ms off the grid (tolerance {tolerance:?})",
            m.bytes,
            off * 1000.0
        );
    }

    println!(
        "answer: {} events, {ons} notes, first {:.1} ms after the phrase; worst {:.1} ms off the grid (tolerance {tolerance:?}, stall {stall:?})",
        answer.len(),
        (first - phrase_end).as_secs_f64() * 1000.0,
        worst * 1000.0
    );

    // Ctrl-C ended every note, and said so to the synth.
    let all = synth.messages();
    assert_eq!(stuck_notes(&all), []);
    assert!(
        all.iter().any(|m| m.bytes == [0xB0, 123, 0]),
        "no All Notes Off"
    );

    // The recording: the phrase on one track, the answer on the other.
    let pitches = |name: &str| recorded_pitches(&recording, name);
    assert_eq!(pitches("Player"), [60, 62, 64, 67]);
    // Every note the synth heard is recorded. The recording may hold one more: a note-on sent in
    // the same JACK period as Ctrl-C reaches the file but not always the synth's capture, which
    // the test stops reading when the jam exits.
    let (recorded, heard) = (
        pitches("Cantus").len(),
        all.iter().filter(|m| m.bytes[0] == 0x90).count(),
    );
    assert!(
        (heard..=heard + 1).contains(&recorded),
        "{recorded} notes recorded, {heard} heard"
    );

    // Following a MIDI clock: nothing before Start, steps on every sixth pulse, silence after
    // Stop. A pulse is stamped when the test queues it, and leaves at the keyboard's next JACK
    // period; Cantus's note waits for its output's next period; and the synth's process thread,
    // which stamps it, runs when the scheduler lets it within its own period (no real-time
    // priority here). So here the grid allows three periods (a CI run saw 2.5 on two loaded
    // cores).
    let mut cantus = Cantus::jam(
        &server,
        &[
            "--in", "keys", "--out", "synth", "--mode", "solo", "--clock", "midi", "--seed", "4",
        ],
    );
    cantus.wait_for("jamming:", Duration::from_secs(30));
    let before = synth.messages().len();
    let pulse = STEP / 6;
    // Pulses every 20.8 ms (24 a quarter at 120 BPM), each stamped as it leaves.
    let tick = |keyboard: &mut Keyboard, count: usize, sent: &mut Vec<Instant>| {
        let from = Instant::now();
        for k in 0..count as u32 {
            thread::sleep((from + pulse * k).saturating_duration_since(Instant::now()));
            keyboard.send(&[0xF8]);
            sent.push(Instant::now());
        }
    };
    tick(&mut keyboard, 48, &mut Vec::new()); // a second while stopped: the tempo, no notes
    assert_eq!(synth.messages().len(), before, "played before Start");
    keyboard.send(&[0xFA]);
    let mut sent = Vec::new();
    let stall = {
        let measure = std::thread::spawn(|| worst_stall(Duration::from_secs(2)));
        tick(&mut keyboard, 96, &mut sent); // two seconds: 16 steps
        measure.join().unwrap()
    };
    thread::sleep(pulse.saturating_sub(sent[95].elapsed()));
    keyboard.send(&[0xFC]);
    let stopped = Instant::now();
    thread::sleep(Duration::from_millis(300));
    let followed: Vec<_> = synth.messages()[before..].to_vec();
    thread::sleep(Duration::from_millis(500));
    assert_eq!(
        synth.messages().len(),
        before + followed.len(),
        "played after Stop"
    );
    assert!(
        followed.iter().filter(|m| m.bytes[0] == 0x90).count() >= 2,
        "{followed:?}"
    );
    assert_eq!(
        stuck_notes(&followed),
        [],
        "Stop ends the sounding note: {:?}",
        followed
            .iter()
            .map(|m| (m.bytes.clone(), m.at.checked_duration_since(stopped)))
            .collect::<Vec<_>>()
    );
    // Each event comes after the pulse that starts its step (every sixth), within three periods:
    // under a third of a step at 120 BPM.
    let tolerance = 3 * period() + SCHEDULING.max(stall);
    let mut worst = Duration::ZERO;
    // Stop came a step after the last step's pulse: what arrives after it is the release.
    let (steps, release): (Vec<_>, Vec<_>) = followed.iter().partition(|m| m.at < stopped);
    assert!(release.iter().all(|m| m.bytes[0] == 0x80), "{release:?}");
    for m in steps {
        let step_pulse = sent
            .iter()
            .step_by(6)
            .rfind(|&&at| at <= m.at)
            .unwrap_or_else(|| panic!("{:?} came before the first pulse", m.bytes));
        let late = m.at - *step_pulse;
        worst = worst.max(late);
        assert!(
            late <= tolerance,
            "{:?} came {late:?} after its step's pulse (tolerance {tolerance:?})",
            m.bytes
        );
    }
    println!(
        "midi clock: {} events, worst {worst:?} after the step's pulse (tolerance {tolerance:?})",
        followed.len()
    );
    cantus.interrupt();
    assert_eq!(cantus.wait(Duration::from_secs(20)).code(), Some(130));

    // A keyboard unplugged mid-jam: Cantus says so, ends its note and exits non-zero.
    let mut cantus = Cantus::jam(
        &server,
        &[
            "--in", "keys", "--out", "synth", "--mode", "solo", "--seed", "2",
        ],
    );
    cantus.wait_for("jamming:", Duration::from_secs(30));
    thread::sleep(Duration::from_millis(1500));
    let before = synth.messages().len();
    keyboard.unplug();
    let status = cantus.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{:#?}", cantus.seen);
    assert!(
        cantus.said("the MIDI input keyboard:keys went away"),
        "{:#?}",
        cantus.seen
    );
    let all = synth.messages();
    let tail: Vec<_> = all[before.saturating_sub(6)..]
        .iter()
        .map(|m| &m.bytes)
        .collect();
    assert_eq!(stuck_notes(&all), [], "the last messages: {tail:02X?}");

    // A synth that goes away: nobody is left to end the note, and Cantus says so, exits
    // non-zero and neither hangs nor sends into the void.
    let _keyboard = Keyboard::open();
    let second = Synth::open_as("synth2");
    let mut cantus = Cantus::jam(
        &server,
        &[
            "--in", "keys", "--out", "synth2", "--mode", "solo", "--seed", "3",
        ],
    );
    cantus.wait_for("jamming:", Duration::from_secs(30));
    thread::sleep(Duration::from_millis(1000));
    assert!(!second.messages().is_empty(), "solo mode plays");
    drop(second);
    let status = cantus.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{:#?}", cantus.seen);
    assert!(
        cantus.said("the MIDI output synth2:notes went away"),
        "{:#?}",
        cantus.seen
    );
}
