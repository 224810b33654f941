//! `cantus-standalone` (nice-plug's standalone wrapper around the plugin) on a real JACK server:
//! silent while JACK's transport is stopped, on the beat grid once it rolls, its note ended when
//! it stops, and a clean exit on Ctrl-C. Also that the dummy backend runs. Built and run by
//! `cargo xtask test` (feature `standalone`); skipped, with a message, where jackd is missing.

mod jam_support;

use std::thread;
use std::time::{Duration, Instant};

use jam_support::{Cantus, JackServer, JackTransport, Synth, period, stuck_notes, worst_stall};

const STANDALONE: &str = env!("CARGO_BIN_EXE_cantus-standalone");

/// The standalone's default: 120 BPM (`--tempo`), four steps a quarter: a step every 125 ms.
const STEP: Duration = Duration::from_millis(125);

#[test]
fn jam_standalone_plays_on_jack_once_the_transport_rolls() {
    let Some(server) = JackServer::start("standalone") else {
        return;
    };
    let synth = Synth::open();
    let transport = JackTransport::open();
    let mut standalone = Cantus::spawn(
        STANDALONE,
        &server,
        &[
            "--backend",
            "jack",
            "--connect-jack-midi-output",
            "synth:notes",
        ],
    );
    wait_for_port("cantus:midi_output", &mut standalone);

    // Synced to the host and the host is stopped: nothing.
    thread::sleep(Duration::from_millis(1500));
    let early = synth.messages();
    assert!(
        early.is_empty(),
        "played before the transport rolled: {early:?}"
    );

    transport.start();
    let rolled = Instant::now();
    let stall = worst_stall(Duration::from_secs(4));
    assert!(transport.rolling());
    let played = synth.messages();
    let ons: Vec<Instant> = played
        .iter()
        .filter(|m| m.bytes[0] & 0xF0 == 0x90 && m.bytes[2] > 0)
        .map(|m| m.at)
        .collect();
    assert!(ons.len() >= 4, "{} notes in 4 s: {played:?}", ons.len());
    assert!(ons[0] >= rolled, "a note before the transport rolled");

    // Each note starts a whole number of steps after the first: the synth stamps what a JACK
    // period brings on arrival, so each stamp is up to a period off, plus what this machine
    // stalls a sleeping thread.
    let tolerance = 2 * period() + Duration::from_millis(5).max(stall);
    for at in &ons {
        let since = (*at - ons[0]).as_secs_f64();
        let steps = (since / STEP.as_secs_f64()).round();
        let off = (since - steps * STEP.as_secs_f64()).abs();
        assert!(
            off <= tolerance.as_secs_f64(),
            "a note {since:.4} s after the first is {:.1} ms off the grid (tolerance {tolerance:?})",
            off * 1e3
        );
    }

    // Stopping the transport ends the sounding note, and then it is quiet.
    transport.stop();
    thread::sleep(Duration::from_millis(500));
    let stopped = synth.messages();
    assert_eq!(stuck_notes(&stopped), [], "the transport stopped");
    thread::sleep(Duration::from_millis(700));
    assert_eq!(synth.messages().len(), stopped.len(), "played after Stop");

    standalone.interrupt();
    let status = standalone.wait(Duration::from_secs(20));
    assert!(status.success(), "{status:?}: {:#?}", standalone.seen);
    println!(
        "standalone: {} notes in 4 s on the grid (tolerance {tolerance:?}, stall {stall:?})",
        ons.len()
    );

    // Without audio hardware: the dummy backend (its transport always rolls) runs until Ctrl-C.
    let mut dummy = Cantus::spawn(STANDALONE, &server, &["--backend", "dummy"]);
    thread::sleep(Duration::from_secs(2));
    assert!(
        dummy.child.try_wait().unwrap().is_none(),
        "the dummy backend quit: {:#?}",
        dummy.seen
    );
    dummy.interrupt();
    let status = dummy.wait(Duration::from_secs(20));
    assert!(status.success(), "{status:?}: {:#?}", dummy.seen);
    assert!(
        !dummy.seen.iter().any(|l| l.contains("panicked")),
        "{:#?}",
        dummy.seen
    );
}

/// Waits until JACK lists `port`, in any case (the standalone registers it once it is up).
fn wait_for_port(port: &str, standalone: &mut Cantus) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let midi = midir::MidiInput::new("lister").unwrap();
    loop {
        let ports = midi.ports();
        if ports.iter().any(|p| {
            midi.port_name(p)
                .is_ok_and(|name| name.eq_ignore_ascii_case(port))
        }) {
            return;
        }
        if let Some(status) = standalone.child.try_wait().unwrap() {
            let _ = standalone.wait(Duration::from_secs(1));
            panic!(
                "cantus-standalone quit ({status:?}): {:#?}",
                standalone.seen
            );
        }
        assert!(
            Instant::now() < deadline,
            "no {port} after 30 s: {:#?}",
            standalone.seen
        );
        thread::sleep(Duration::from_millis(100));
    }
}
