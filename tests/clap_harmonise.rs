//! Harmonise mode through a real host (`clack-host`), in the bundle built with nice-plug's
//! `assert_process_allocs` (an allocation on the audio thread aborts the test): the player's
//! melody comes back thru on its channel, with alto, tenor and bass on theirs, each voice in its
//! range, monophonic, ended when the transport stops, and following the player's notes.
//!
//! Needs `target/bundled/cantus.clap`: `cargo xtask test` builds it before running the tests.

mod common;

use std::sync::{Mutex, MutexGuard, PoisonError};

use cantus::harmony::voices::VOICE_RANGES;
use common::clap_host::{Instance, TimedEvent, TransportInfo};
use common::instance;

const RATE: f64 = 48_000.0;
const BLOCK: u32 = 512;
const TEMPO: f64 = 120.0;
/// A step (a sixteenth at 120 BPM) in samples.
const STEP: u64 = 6_000;

/// The player's melody: (first step, pitch), each note a quarter (four steps), legato-free.
const MELODY: [(u64, u8); 16] = [
    (0, 67),
    (4, 67),
    (8, 69),
    (12, 71),
    (16, 72),
    (20, 71),
    (24, 69),
    (28, 67),
    (32, 69),
    (36, 71),
    (40, 72),
    (44, 74),
    (48, 72),
    (52, 71),
    (56, 69),
    (60, 67),
];

/// The real-time take measures how soon the voices answer the player. The offline render, run
/// beside it, keeps both of a two-core machine's cores busy (its audio thread waits for its
/// worker) and starves the real-time take's worker: then the test measures the machine, not the
/// plugin (8 to 14 of 16 notes answered in time, against 15 or 16 alone). One take at a time.
static ONE_TAKE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_take_at_a_time() -> MutexGuard<'static, ()> {
    ONE_TAKE_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// A note event the plugin sent, placed on the timeline.
#[derive(Debug, Clone, Copy)]
struct Placed {
    sample: u64,
    channel: u8,
    key: u8,
    on: bool,
}

/// An instance in Harmonise mode, given `state` first if any.
fn harmonising_instance(offline: bool, state: Option<&[u8]>) -> Instance {
    let mut plugin = instance();
    if let Some(state) = state {
        plugin.load_state(state).unwrap();
    }
    if offline {
        assert!(plugin.set_render_offline(true));
    }
    plugin.activate(RATE, 1, BLOCK);
    let mode = plugin.param_id("Mode");
    // The Mode enum's fourth value, as CLAP sees a stepped parameter: its index.
    plugin.set_param(mode, 3.0);
    plugin
}

/// Plays the melody (each note held three and a half steps) and two steps more, in blocks of
/// `BLOCK`, then stops; sleeps `pace` of each block's duration so the worker keeps up as in
/// real time. Returns every note event the plugin sent.
fn play_melody(plugin: &mut Instance, pace: f64) -> Vec<Placed> {
    let end = (MELODY.last().unwrap().0 + 6) * STEP;
    let mut transport = TransportInfo::playing(TEMPO);
    let mut placed = Vec::new();
    let mut start = 0u64;
    let mut stopped_blocks = 0;
    while stopped_blocks < 4 {
        if start >= end {
            transport.playing = false;
        }
        let block = start..start + u64::from(BLOCK);
        let mut input = Vec::new();
        for &(step, pitch) in &MELODY {
            let on = step * STEP;
            let off = on + STEP * 7 / 2;
            if transport.playing && block.contains(&on) {
                input.push(TimedEvent::note_on((on - start) as u32, 0, pitch, 0.8));
            }
            if transport.playing && block.contains(&off) {
                input.push(TimedEvent::note_off((off - start) as u32, 0, pitch, 0.0));
            }
        }
        input.sort_by_key(|e| e.time);
        let output = plugin.process(BLOCK, &input, Some(&transport));
        assert!(
            output.events.is_sorted_by_key(|e| e.time),
            "unsorted output: {:?}",
            output.events
        );
        for (time, note, on) in output.notes() {
            placed.push(Placed {
                sample: start + u64::from(time),
                channel: note.channel,
                key: note.key,
                on,
            });
        }
        if !transport.playing {
            stopped_blocks += 1;
        }
        transport = transport.advanced(BLOCK, RATE);
        start += u64::from(BLOCK);
        let seconds = f64::from(BLOCK) / RATE * pace;
        std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
    }
    placed
}

/// Each harmony voice (channels 2, 3, 4: zero-based 1..=3) is monophonic, in its range and
/// ends its last note; returns each voice's note-ons.
fn check_voices(events: &[Placed]) -> [Vec<Placed>; 3] {
    [1u8, 2, 3].map(|channel| {
        let (low, high) = VOICE_RANGES[usize::from(channel)];
        let mut sounding: Option<u8> = None;
        let mut ons = Vec::new();
        for event in events.iter().filter(|e| e.channel == channel) {
            match (event.on, sounding) {
                (true, None) => {
                    assert!(
                        (low..=high).contains(&event.key),
                        "voice {channel} out of range: {event:?}"
                    );
                    sounding = Some(event.key);
                    ons.push(*event);
                }
                (false, Some(key)) if key == event.key => sounding = None,
                _ => panic!("{event:?} while {sounding:?} sounds on channel {channel}"),
            }
        }
        assert_eq!(sounding, None, "voice {channel} left a note sounding");
        ons
    })
}

#[test]
fn harmonise_mode_adds_three_voices_that_follow_the_player() {
    let _alone = one_take_at_a_time();
    let mut plugin = harmonising_instance(false, None);
    let events = play_melody(&mut plugin, 0.5);
    // The player's notes come back thru on their channel, and nothing else plays there: the
    // melody engine is silent in this mode.
    let thru: Vec<u8> = events
        .iter()
        .filter(|e| e.channel == 0 && e.on)
        .map(|e| e.key)
        .collect();
    assert_eq!(thru, MELODY.map(|(_, p)| p));
    assert!(events.iter().all(|e| e.channel <= 3), "{events:?}");
    let voices = check_voices(&events);
    for (voice, ons) in voices.iter().enumerate() {
        assert!(
            ons.len() >= 4,
            "voice {} played {} notes",
            voice + 1,
            ons.len()
        );
    }
    // The chords follow the melody: most of the player's notes bring a voice to a new note
    // within 50 ms (on the step, or as a correction once the worker has heard the note).
    let window = (0.05 * RATE) as u64;
    let answered = MELODY
        .iter()
        .filter(|(step, _)| {
            let at = step * STEP;
            voices
                .iter()
                .flatten()
                .any(|on| (at..=at + window).contains(&on.sample))
        })
        .count();
    println!(
        "harmonise: {} alto, {} tenor, {} bass notes; {answered} of {} melody notes answered within 50 ms",
        voices[0].len(),
        voices[1].len(),
        voices[2].len(),
        MELODY.len()
    );
    assert!(
        answered * 4 >= MELODY.len() * 3,
        "{answered} of {}",
        MELODY.len()
    );
}

/// Offline, the host waits for the chords: two instances with the same state render the same
/// harmony, event for event.
#[test]
fn an_offline_render_of_the_harmony_repeats_exactly() {
    let _alone = one_take_at_a_time();
    let mut first = harmonising_instance(true, None);
    let state = first.save_state();
    let mut second = harmonising_instance(true, Some(&state));
    let render = |plugin: &mut Instance| -> Vec<(u64, u8, u8, bool)> {
        let events = play_melody(plugin, 0.0);
        check_voices(&events);
        events
            .iter()
            .map(|e| (e.sample, e.channel, e.key, e.on))
            .collect()
    };
    let (a, b) = (render(&mut first), render(&mut second));
    assert!(a.iter().filter(|e| e.1 != 0).count() >= 12, "{a:?}");
    assert_eq!(a, b);
    // Waiting for the chords leaves nothing to correct late: the voices move only on a step's
    // first sample or with one of the player's notes (a release mid-step lets the chord change),
    // and end when the transport stops.
    let player: Vec<u64> = a.iter().filter(|e| e.1 == 0).map(|e| e.0).collect();
    let stopped = (MELODY.last().unwrap().0 + 6) * STEP;
    for event in a.iter().filter(|e| e.1 != 0) {
        assert!(
            event.0 % STEP == 0 || player.contains(&event.0) || (event.0 >= stopped && !event.3),
            "a voice moved at {} between steps and notes: {event:?}",
            event.0
        );
    }
}
