//! The editor as a musician sees it: `cantus-standalone` on a private JACK server with its window
//! on a private Xvfb display; a phrase is played into it, the screen is captured with `xwd`, and
//! the piano roll must show the player's notes and Cantus's in their colours. The screenshot is
//! saved as `target/editor-xvfb.png` (the README's `docs/editor.png` is one of them). Skipped,
//! with a message, where Xvfb or xwd is missing, unless `CANTUS_REQUIRE_XVFB=1` (CI sets it).

mod jam_support;
mod xvfb_support;

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use jam_support::{Cantus, JackServer, JackTransport, Keyboard};
use xvfb_support::{CANTUS, PLAYER, Xvfb, wait_until};

const STANDALONE: &str = env!("CARGO_BIN_EXE_cantus-standalone");

/// A note of two steps on the roll covers some 300 pixels; the legend's swatches fewer than 100.
const NOTE_PIXELS: usize = 250;

#[test]
fn the_editor_shows_the_phrase_and_the_answer() {
    let Some(mut xvfb) = Xvfb::start() else {
        return;
    };
    let Some(server) = JackServer::start("editor") else {
        return;
    };
    let mut keyboard = Keyboard::open();
    let transport = JackTransport::open();
    let mut standalone = Cantus::spawn_on_display(
        STANDALONE,
        &server,
        &[
            "--backend",
            "jack",
            "--connect-jack-midi-input",
            "keyboard:keys",
        ],
        Some(&xvfb.display),
    );
    wait_until("the editor window", Duration::from_secs(60), || {
        standalone_alive(&mut standalone);
        xvfb.screenshot().is_some_and(|s| s.distinct_colours() > 8)
    });

    transport.start();
    thread::sleep(Duration::from_millis(500));
    // A rising phrase, two steps a note at the standalone's 120 BPM, then room to answer.
    for pitch in [60, 62, 64, 65, 67, 69] {
        keyboard.send(&[0x90, pitch, 100]);
        thread::sleep(Duration::from_millis(230));
        keyboard.send(&[0x80, pitch, 0]);
        thread::sleep(Duration::from_millis(20));
    }
    let mut shot = None;
    wait_until(
        "Cantus's notes on the roll",
        Duration::from_secs(20),
        || {
            standalone_alive(&mut standalone);
            thread::sleep(Duration::from_millis(500));
            shot = xvfb.screenshot();
            shot.as_ref()
                .is_some_and(|s| s.count(CANTUS) >= NOTE_PIXELS)
        },
    );
    let shot = shot.expect("a screenshot").window();
    let saved = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/editor-xvfb.png");
    shot.save_png(&saved);

    let (player, cantus) = (shot.count(PLAYER), shot.count(CANTUS));
    println!(
        "editor: {}x{}, {} colours, {player} player-note pixels, {cantus} Cantus-note pixels; {}",
        shot.width,
        shot.height,
        shot.distinct_colours(),
        saved.display()
    );
    assert!(shot.distinct_colours() > 20, "the window looks blank");
    assert!(
        player >= NOTE_PIXELS,
        "the player's notes are not on the roll ({player} pixels; see {})",
        saved.display()
    );
    assert!(cantus >= NOTE_PIXELS, "Cantus's notes are not on the roll");

    // Closing the window quits the standalone; here it is simply killed (its window open).
    let _ = standalone.child.kill();
    let _ = standalone.child.wait();
    transport.stop();
    xvfb.stop();
}

/// Fails the test with the standalone's output if it quit.
fn standalone_alive(standalone: &mut Cantus) {
    if let Some(status) = standalone.child.try_wait().unwrap() {
        let _ = standalone.wait(Duration::from_secs(1));
        panic!(
            "cantus-standalone quit ({status:?}): {:#?}",
            standalone.seen
        );
    }
}
