//! A private JACK server and a fake keyboard and synth for the `cantus jam` tests.
//!
//! Each test binary starts its own `jackd` on the dummy backend (no sound card needed) under a
//! unique name, and points this process and the `cantus` it runs at it through
//! `JACK_DEFAULT_SERVER`. Only one test per binary may use it: the variable is process-wide.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use midir::os::unix::{VirtualInput, VirtualOutput};
use midir::{MidiInput, MidiInputConnection, MidiOutput, MidiOutputConnection};

/// The dummy backend's rate and period: one period is 512 / 48 000 s ≈ 10.7 ms, the grain in
/// which JACK hands MIDI from one client to the next.
pub const RATE: u32 = 48_000;
pub const PERIOD_FRAMES: u32 = 512;

pub fn period() -> Duration {
    Duration::from_secs_f64(f64::from(PERIOD_FRAMES) / f64::from(RATE))
}

/// A `jackd` of our own, killed when dropped.
pub struct JackServer {
    child: Option<Child>,
    pub name: String,
}

impl JackServer {
    /// Starts one, or `None` (after saying so) when `jackd` is not installed and
    /// `CANTUS_REQUIRE_JACK` is not 1.
    pub fn start(test: &str) -> Option<JackServer> {
        Self::start_with(test, false)
    }

    /// As [`JackServer::start`], in synchronous mode: each cycle waits for every client (up to
    /// the timeout) instead of dropping the MIDI a late client wrote, as the asynchronous
    /// default does on a busy machine. For tests that count every note; it slows the cycle on a
    /// loaded machine, and nice-plug's standalone may then not stop on Ctrl-C within 20 s.
    pub fn start_synchronous(test: &str) -> Option<JackServer> {
        Self::start_with(test, true)
    }

    fn start_with(test: &str, synchronous: bool) -> Option<JackServer> {
        let name = format!("cantus-{test}-{}", std::process::id());
        let child = Command::new("jackd")
            // Server options, then the backend's (after `-d`).
            .arg("--no-realtime")
            .args(synchronous.then_some("--sync"))
            .args(["-n", &name, "-d", "dummy"])
            .args(["-r", &RATE.to_string(), "-p", &PERIOD_FRAMES.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                assert!(
                    std::env::var("CANTUS_REQUIRE_JACK").as_deref() != Ok("1"),
                    "CANTUS_REQUIRE_JACK=1 but jackd is not installed (apt-get install jackd2)"
                );
                println!("skipped: jackd not installed");
                return None;
            }
            Err(error) => panic!("cannot start jackd: {error}"),
        };
        // Safety: set before this process opens any JACK client; each test binary holds one
        // JACK test, so no other thread reads the environment meanwhile.
        unsafe { std::env::set_var("JACK_DEFAULT_SERVER", &name) };
        let mut server = JackServer {
            child: Some(child),
            name,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        thread::sleep(Duration::from_millis(300));
        while MidiInput::new("probe").is_err() {
            let child = server.child.as_mut().unwrap();
            if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                let mut why = String::new();
                let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut why);
                panic!("jackd did not come up: {why}");
            }
            thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    /// Stops the server with SIGTERM, the way it stops when its user quits it, and waits for it
    /// (killing it after 10 s). A clean stop matters: a killed jackd leaves its entry in JACK's
    /// shared-memory server registry, which holds only a few, and later servers cannot start.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Safety: a plain kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for JackServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A MIDI message as the fake synth received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub bytes: Vec<u8>,
}

/// The fake synth: a JACK MIDI input `synth:notes` that keeps what arrives, stamped.
pub struct Synth {
    _connection: MidiInputConnection<()>,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Synth {
    pub fn open() -> Synth {
        Synth::open_as("synth")
    }

    /// A synth whose JACK client is called `client` (its port is `client:notes`).
    pub fn open_as(client: &str) -> Synth {
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let connection = MidiInput::new(client)
            .expect("a JACK client for the synth")
            .create_virtual(
                "notes",
                move |_, bytes, _| {
                    log.lock().unwrap().push(Received {
                        at: Instant::now(),
                        bytes: bytes.to_vec(),
                    })
                },
                (),
            )
            .expect("the synth's port");
        Synth {
            _connection: connection,
            received,
        }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// The fake keyboard: a JACK MIDI output `keyboard:keys`.
pub struct Keyboard(pub Option<MidiOutputConnection>);

impl Keyboard {
    pub fn open() -> Keyboard {
        let connection = MidiOutput::new("keyboard")
            .expect("a JACK client for the keyboard")
            .create_virtual("keys")
            .expect("the keyboard's port");
        Keyboard(Some(connection))
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.0.as_mut().expect("plugged in").send(bytes).unwrap();
    }

    /// Removes the port, as unplugging a USB keyboard would.
    pub fn unplug(&mut self) {
        drop(self.0.take());
    }
}

/// A running `cantus jam` (or `cantus-standalone`), its output lines collected.
pub struct Cantus {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Cantus {
    pub fn jam(server: &JackServer, args: &[&str]) -> Cantus {
        let args: Vec<&str> = ["jam"].iter().chain(args).copied().collect();
        Cantus::spawn(env!("CARGO_BIN_EXE_cantus"), server, &args)
    }

    /// Any program of ours on `server`, its output collected the same way; headless (no
    /// display, so `cantus-standalone` opens no window and stops on Ctrl-C).
    pub fn spawn(program: &str, server: &JackServer, args: &[&str]) -> Cantus {
        Cantus::spawn_on_display(program, server, args, None)
    }

    /// As [`Cantus::spawn`], with the X display `display` (`cantus-standalone` opens its
    /// editor there), or none.
    pub fn spawn_on_display(
        program: &str,
        server: &JackServer,
        args: &[&str],
        display: Option<&str>,
    ) -> Cantus {
        let mut command = Command::new(program);
        match display {
            Some(display) => command.env("DISPLAY", display),
            None => command.env_remove("DISPLAY"),
        };
        let mut child = command
            .args(args)
            .env_remove("WAYLAND_DISPLAY")
            .env("JACK_DEFAULT_SERVER", &server.name)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cantus runs");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        thread::spawn(move || {
            BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .for_each(|l| drop(tx.send(l)))
        });
        thread::spawn(move || {
            BufReader::new(err)
                .lines()
                .map_while(Result::ok)
                .for_each(|l| drop(tx2.send(l)))
        });
        Cantus {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text`; panics with everything seen after `patience`.
    pub fn wait_for(&mut self, text: &str, patience: Duration) {
        let deadline = Instant::now() + patience;
        while !self.seen.iter().any(|l| l.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("waited in vain for {text:?}; cantus said: {:#?}", self.seen),
            }
        }
    }

    pub fn interrupt(&self) {
        // Safety: a plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
    }

    /// Waits for the exit (never a hang: panics after `patience`), then collects the rest of
    /// the output.
    pub fn wait(&mut self, patience: Duration) -> ExitStatus {
        let deadline = Instant::now() + patience;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "cantus did not exit within {patience:?}; it said: {:#?}",
                    self.seen
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(line);
        }
        status
    }

    pub fn said(&self, text: &str) -> bool {
        self.seen.iter().any(|l| l.contains(text))
    }
}

/// Notes that were started and never ended, as (channel, pitch): by a note-off, or by All Notes
/// Off or All Sound Off (controllers 123 and 120), which end every note of their channel on a
/// synth (JACK can drop a single event when its graph changes, as when a port goes away).
pub fn stuck_notes(messages: &[Received]) -> Vec<(u8, u8)> {
    let mut sounding = std::collections::BTreeMap::<(u8, u8), i32>::new();
    for m in messages {
        match m.bytes[..] {
            [s, 120 | 123, _] if s & 0xF0 == 0xB0 => {
                sounding.retain(|&(channel, _), _| channel != s & 0x0F)
            }
            [s, p, v] if s & 0xF0 == 0x90 && v > 0 => {
                *sounding.entry((s & 0x0F, p)).or_default() += 1
            }
            [s, p, _] if s & 0xF0 == 0x80 || s & 0xF0 == 0x90 => {
                *sounding.entry((s & 0x0F, p)).or_default() -= 1
            }
            _ => {}
        }
    }
    sounding
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .map(|(k, _)| k)
        .collect()
}

/// The longest a 1 ms sleep overslept during `span`: how long this machine stalls sleepers now
/// (a compiler on every core can make it tens of milliseconds). The programs under test sleep
/// and wake like this too, so timing bounds allow for it.
pub fn worst_stall(span: Duration) -> Duration {
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    while start.elapsed() < span {
        let before = Instant::now();
        thread::sleep(Duration::from_millis(1));
        worst = worst.max(before.elapsed().saturating_sub(Duration::from_millis(1)));
    }
    worst
}

/// JACK's transport, rolled and stopped from a client of our own (as `jack_transport` does).
pub struct JackTransport(*mut jack_sys::jack_client_t);

impl JackTransport {
    pub fn open() -> JackTransport {
        let name = std::ffi::CString::new("transport").unwrap();
        // Safety: plain libjack calls on a client we own, closed in `Drop`.
        let client = unsafe {
            jack_sys::jack_client_open(
                name.as_ptr(),
                jack_sys::JackNoStartServer,
                std::ptr::null_mut(),
            )
        };
        assert!(!client.is_null(), "a JACK client for the transport");
        JackTransport(client)
    }

    pub fn start(&self) {
        // Safety: the client is open.
        unsafe { jack_sys::jack_transport_start(self.0) };
    }

    pub fn stop(&self) {
        // Safety: the client is open.
        unsafe { jack_sys::jack_transport_stop(self.0) };
    }

    /// Whether the transport is rolling now.
    pub fn rolling(&self) -> bool {
        // Safety: the client is open; a null position is allowed.
        let state = unsafe { jack_sys::jack_transport_query(self.0, std::ptr::null_mut()) };
        state == jack_sys::JackTransportRolling
    }
}

impl Drop for JackTransport {
    fn drop(&mut self) {
        // Safety: the client is open and ours; nothing uses it after this.
        unsafe { jack_sys::jack_client_close(self.0) };
    }
}

/// The pitches of the track called `name` (Player or Cantus) in a `--record` file.
pub fn recorded_pitches(path: &std::path::Path, name: &str) -> Vec<u8> {
    let piece = cantus::formats::midi::read_midi(&std::fs::read(path).unwrap()).unwrap();
    let part = piece
        .parts
        .iter()
        .find(|p| p.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no {name} track"));
    part.notes.iter().map(|n| n.pitch).collect()
}
