//! `cantus jam` when its JACK server goes away under it: a clear message and a non-zero exit,
//! never a hang. (Its own test binary: it stops its server.) The server is stopped with SIGTERM,
//! not killed: see `JackServer::stop`.

mod jam_support;

use std::thread;
use std::time::Duration;

use jam_support::{Cantus, JackServer, Keyboard, Synth};

#[test]
fn jam_ends_with_an_error_when_the_jack_server_dies() {
    let Some(mut server) = JackServer::start("dies") else {
        return;
    };
    let synth = Synth::open();
    let _keyboard = Keyboard::open();
    let mut cantus = Cantus::jam(
        &server,
        &["--in", "keys", "--out", "synth", "--mode", "solo"],
    );
    cantus.wait_for("jamming:", Duration::from_secs(30));
    thread::sleep(Duration::from_millis(1000));
    assert!(!synth.messages().is_empty(), "solo mode plays");
    server.stop();
    let status = cantus.wait(Duration::from_secs(15));
    assert_eq!(status.code(), Some(1), "{:#?}", cantus.seen);
    assert!(cantus.said("the JACK server stopped"), "{:#?}", cantus.seen);
}
