//! Opening, closing and reopening the editor changes nothing in the sound. The bundled CLAP
//! plugin, hosted by `clack-host` with `clap.gui`, plays the same take twice from the same state:
//! a phrase, then Cantus's answer (offline render mode, so its inline engine makes the same notes
//! however fast the blocks come). In the second take its window is opened in an X11 window on a
//! private Xvfb display, closed and reopened while it plays, as a musician does in a DAW. Both
//! takes' audio and note events must be identical, sample for sample, and the screen must show
//! the editor, with the phrase on its roll, while it is open.
//!
//! Skipped, with a message, where Xvfb or xwd is missing, unless `CANTUS_REQUIRE_XVFB=1` (CI sets
//! it). Needs `target/bundled/cantus.clap`: `cargo xtask test` builds it first.

mod common;
mod xvfb_support;

use std::thread;
use std::time::Duration;

use common::clap_host::{Instance, TimedEvent, TransportInfo};
use common::instance;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, Window, WindowClass};
use x11rb::rust_connection::RustConnection;
use xvfb_support::{PLAYER, Xvfb, poll_until, wait_until};

const SAMPLE_RATE: f64 = 48_000.0;
const TEMPO: f64 = 120.0;
const BLOCK: u32 = 512;
/// A quarter note at 120 BPM, in samples.
const QUARTER: u64 = 24_000;
/// The take: 750 blocks of 512 samples, 8 s.
const BLOCKS: u64 = 750;
/// The blocks at which the second take opens the window, closes it, and opens it again.
const OPEN: u64 = 30;
const CLOSE: u64 = 300;
const REOPEN: u64 = 450;

/// A generated or forwarded note event at its absolute sample: `(sample, key, on)`.
type Placed = (u64, u8, bool);

/// What a take sounded like: its note events and its stereo audio, block after block.
struct Take {
    notes: Vec<Placed>,
    audio: [Vec<f32>; 2],
}

#[test]
fn opening_and_closing_the_editor_changes_nothing_in_the_sound() {
    let Some(mut xvfb) = Xvfb::start() else {
        return;
    };
    // SAFETY: set before any plugin is loaded, while this test (the only one in its binary) is
    // the process's only thread. The editor (baseview) opens the display named by DISPLAY.
    unsafe { std::env::set_var("DISPLAY", &xvfb.display) };
    let (x11, screen) = x11rb::connect(Some(&xvfb.display)).expect("a connection to Xvfb");
    let parent = host_window(&x11, screen);
    let threads_before = threads();

    // Fresh instances seed themselves at random: both takes start from one saved state.
    let state = instance().save_state();
    let closed = play(&state, |_, _| {});

    let mut seen_open = 0;
    let with_editor = play(&state, |block, plugin| match block {
        OPEN | REOPEN => {
            let size = plugin.open_editor_x11(parent);
            assert!(size.width > 0 && size.height > 0, "{size:?}");
            wait_until("the editor's window", Duration::from_secs(20), || {
                children(&x11, parent) > 0
            });
            seen_open += 1;
        }
        CLOSE => {
            // The window has been open for 270 blocks (about 3 s in real time, see below):
            // it shows the controls and the phrase.
            let shot = xvfb.screenshot().expect("a screenshot");
            let (colours, player) = (shot.distinct_colours(), shot.count(PLAYER));
            println!("editor: {colours} colours, {player} player-note pixels");
            assert!(colours > 20, "the editor's window looks blank");
            assert!(
                player > 200,
                "the phrase is not on the roll ({player} pixels)"
            );
            plugin.close_editor();
            wait_until("the editor's window to go", Duration::from_secs(20), || {
                children(&x11, parent) == 0
            });
        }
        _ => {}
    });
    assert_eq!(seen_open, 2);
    // The take ended with the window open, and the plugin was destroyed after it, as a DAW
    // closes a project: the host destroys the editor first (`Instance`'s drop), which joins the
    // window's thread. Nothing of the plugin may keep running after it: its engine, its window
    // and the GL threads end with it. (A thread still holding an X connection when Xvfb stops
    // makes Xlib exit the process from that thread: the crash a CI run saw.)
    poll_until(Duration::from_secs(20), || threads() == threads_before);
    assert_eq!(threads(), threads_before, "threads outlived the plugin");

    let note_ons = closed.notes.iter().filter(|n| n.2).count();
    assert!(note_ons > 8, "too few notes to compare: {:?}", closed.notes);
    assert!(
        closed.audio[0].iter().any(|s| s.abs() > 0.01),
        "the take is silent"
    );
    assert_eq!(
        with_editor.notes, closed.notes,
        "the notes changed with the editor open"
    );
    // Bit for bit, with no tolerance: the window must not touch the sound at all.
    for channel in 0..2 {
        let (a, b) = (&closed.audio[channel], &with_editor.audio[channel]);
        let first = a
            .iter()
            .zip(b)
            .position(|(x, y)| x.to_bits() != y.to_bits());
        assert_eq!(
            first, None,
            "channel {channel}'s audio changed at that sample"
        );
    }
    drop(x11);
    xvfb.stop();
}

/// Plays one take from `state` in Answer mode: a rising phrase of four quarter notes from the
/// second beat, then the answer. `at_block` runs before each block (on the host's main thread,
/// as a DAW's window events are); while the editor is open, blocks come at real-time pace, so
/// it draws while the plugin plays.
fn play(state: &[u8], mut at_block: impl FnMut(u64, &mut Instance)) -> Take {
    let mut plugin = instance();
    plugin.load_state(state).expect("the saved state loads");
    assert!(plugin.set_render_offline(true), "offline rendering refused");
    let mode = plugin.param_id("Mode");
    plugin.set_param(mode, 1.0); // Answer
    plugin.activate(SAMPLE_RATE, 1, BLOCK);

    let phrase: Vec<(u64, TimedEvent)> = [60u8, 62, 64, 67]
        .iter()
        .enumerate()
        .flat_map(|(i, &key)| {
            let start = QUARTER * (i as u64 + 1);
            [
                (start, TimedEvent::note_on(0, 0, key, 0.8)),
                (start + QUARTER - 1200, TimedEvent::note_off(0, 0, key, 0.0)),
            ]
        })
        .collect();
    let mut transport = TransportInfo::playing(TEMPO);
    let mut take = Take {
        notes: Vec::new(),
        audio: [Vec::new(), Vec::new()],
    };
    for block in 0..BLOCKS {
        at_block(block, &mut plugin);
        let start = block * u64::from(BLOCK);
        let events: Vec<TimedEvent> = phrase
            .iter()
            .filter(|(at, _)| (start..start + u64::from(BLOCK)).contains(at))
            .map(|(at, event)| TimedEvent {
                time: (at - start) as u32,
                ..*event
            })
            .collect();
        let output = plugin.process(BLOCK, &events, Some(&transport));
        for (time, note, on) in output.notes() {
            take.notes.push((start + u64::from(time), note.key, on));
        }
        for (kept, channel) in take.audio.iter_mut().zip(&output.audio) {
            kept.extend_from_slice(channel);
        }
        transport = transport.advanced(BLOCK, SAMPLE_RATE);
        if editor_is_open(block) {
            thread::sleep(Duration::from_secs_f64(f64::from(BLOCK) / SAMPLE_RATE));
        }
    }
    take
}

/// Whether the second take's window is open during `block`.
fn editor_is_open(block: u64) -> bool {
    (OPEN..CLOSE).contains(&block) || block >= REOPEN
}

/// The host's window for the editor: the whole 1024x720 screen, mapped.
fn host_window(x11: &RustConnection, screen: usize) -> Window {
    let root = &x11.setup().roots[screen];
    let window = x11.generate_id().expect("an X11 id");
    x11.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        window,
        root.root,
        0,
        0,
        root.width_in_pixels,
        root.height_in_pixels,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new().background_pixel(root.black_pixel),
    )
    .expect("create_window");
    x11.map_window(window).expect("map_window");
    x11.flush().expect("flush");
    window
}

/// The names of this process's threads (Linux).
fn threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

/// How many windows `window` holds.
fn children(x11: &RustConnection, window: Window) -> usize {
    let tree = x11.query_tree(window).expect("query_tree");
    tree.reply().expect("query_tree's reply").children.len()
}
