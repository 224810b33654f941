//! `cantus jam --mode harmonise` against a real JACK server (see `jam_support`): a fake keyboard
//! plays a tune, a fake synth hears alto, tenor and bass on their own channels, following it.
//! Skipped, with a message, where jackd is not installed (unless CANTUS_REQUIRE_JACK=1).

mod jam_support;

use std::thread;
use std::time::{Duration, Instant};

use cantus::harmony::voices::VOICE_RANGES;
use jam_support::{Cantus, JackServer, Keyboard, Synth, recorded_pitches, stuck_notes};

/// MIDI clock pulses a quarter note.
const PULSES: usize = 24;

/// A MIDI clock pulse at 120 BPM.
const PULSE: Duration = Duration::from_micros(500_000 / PULSES as u64);

/// How soon after the player's note a voice must move for it to count as following it: the
/// worker redraws the step and the jam's loop sends the change within a few milliseconds, plus
/// a JACK period each way and scheduling on a loaded machine.
const FOLLOW: Duration = Duration::from_millis(100);

#[test]
fn harmonise_mode_plays_three_voices_on_their_channels_under_the_tune() {
    let Some(server) = JackServer::start_synchronous("jam-harmonise") else {
        return;
    };
    let synth = Synth::open();
    let mut keyboard = Keyboard::open();
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("harmony.mid");
    let mut cantus = Cantus::jam(
        &server,
        &[
            "--in",
            "keys",
            "--out",
            "synth",
            "--mode",
            "harmonise",
            "--clock",
            "midi",
            "--tenor-channel",
            "7",
            "--seed",
            "11",
            "--record",
            recording.to_str().unwrap(),
        ],
    );
    cantus.wait_for("jamming:", Duration::from_secs(30));
    assert!(cantus.said("Harmonise mode"), "{:#?}", cantus.seen);

    // A chorale-like tune in quarter notes on the beats of the keyboard's MIDI clock, each
    // released two pulses before the next.
    let tune = [67u8, 69, 71, 72, 71, 69, 67, 66, 67];
    let mut sent = Vec::new();
    keyboard.send(&[0xFA]);
    let from = Instant::now();
    for k in 0..tune.len() * PULSES {
        thread::sleep((from + PULSE * k as u32).saturating_duration_since(Instant::now()));
        keyboard.send(&[0xF8]);
        let pitch = tune[k / PULSES];
        match k % PULSES {
            0 => {
                keyboard.send(&[0x90, pitch, 90]);
                sent.push(Instant::now());
            }
            22 => keyboard.send(&[0x80, pitch, 0]),
            _ => {}
        }
    }
    keyboard.send(&[0xFC]);
    thread::sleep(Duration::from_millis(200));
    cantus.interrupt();
    assert_eq!(cantus.wait(Duration::from_secs(20)).code(), Some(130));
    let heard = synth.messages();

    // Alto, tenor and bass on channels 2, 7 and 4 (the player's notes are not echoed without
    // --thru, and Cantus's own line is silent), each in its range, one note at a time.
    let channels = [1u8, 6, 3];
    let mut notes = [0usize; 3];
    for (voice, &channel) in channels.iter().enumerate() {
        let (low, high) = VOICE_RANGES[voice + 1];
        let mut sounding: Option<u8> = None;
        for m in heard.iter().filter(|m| m.bytes[0] & 0x0F == channel) {
            match m.bytes[0] & 0xF0 {
                0x90 => {
                    let pitch = m.bytes[1];
                    assert!((low..=high).contains(&pitch), "voice {voice}: {pitch}");
                    assert_eq!(sounding, None, "voice {voice} started {pitch} over a note");
                    sounding = Some(pitch);
                    notes[voice] += 1;
                }
                0x80 => {
                    assert_eq!(sounding, Some(m.bytes[1]), "voice {voice}");
                    sounding = None;
                }
                _ => {}
            }
        }
    }
    assert!(notes.iter().all(|&n| n >= 2), "notes per voice: {notes:?}");
    let others: Vec<_> = heard
        .iter()
        .filter(|m| m.bytes[0] & 0xF0 == 0x90 && !channels.contains(&(m.bytes[0] & 0x0F)))
        .collect();
    assert!(others.is_empty(), "notes outside the voices: {others:?}");

    // The harmony follows the tune: most of its notes move a voice within FOLLOW.
    let followed = sent
        .iter()
        .filter(|&&at| {
            heard.iter().any(|m| {
                m.bytes[0] & 0xF0 == 0x90
                    && m.at.checked_duration_since(at).is_some_and(|d| d <= FOLLOW)
            })
        })
        .count();
    println!(
        "harmonise: {notes:?} notes per voice; {followed} of {} tune notes followed within {FOLLOW:?}",
        tune.len()
    );
    assert!(
        4 * followed >= 3 * tune.len(),
        "{followed} of {}",
        tune.len()
    );

    // Ctrl-C ended every voice.
    assert_eq!(stuck_notes(&heard), []);
    // The recording holds the tune and, on Cantus's track, the voices (a unison between two
    // voices is one note there).
    let part = |name: &str| recorded_pitches(&recording, name).len();
    assert_eq!(part("Player"), tune.len());
    let voices = part("Cantus");
    assert!(
        voices >= 3 && voices <= notes.iter().sum::<usize>(),
        "{voices} recorded, {notes:?}"
    );
}
