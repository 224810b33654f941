//! MIDI ports: listing them, picking one from a piece of its name, and connecting the jam to a
//! keyboard and a synth through JACK (midir's JACK backend) or ALSA's sequencer ([`super::alsa`]).
//!
//! Port names are matched the way people type them: an exact name wins, otherwise any unique
//! piece of a name, ignoring case. Anything else is an error that lists the ports, so the player
//! can copy the right name from it.
//!
//! midir tells nobody when a port goes away or the JACK server dies: sends still succeed into
//! its ring buffer. [`Watcher`] notices instead, by listing the ports now and then from clients
//! of its own (on either backend).

use std::fmt;
use std::time::Instant;

use midir::{MidiInput, MidiInputConnection, MidiOutput, MidiOutputConnection};
use rtrb::Producer;

use super::alsa::{self, AlsaConnections, AlsaLister};
use super::jack::ServerWatch;

/// Which MIDI system the jam's ports are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// JACK when a server is running (PipeWire's JACK included), else ALSA.
    #[default]
    Auto,
    Jack,
    Alsa,
}

impl Backend {
    /// `Auto` made concrete: JACK if a server answers now, else ALSA.
    pub fn resolve(self) -> Backend {
        match self {
            Backend::Auto if MidiInput::new("cantus-probe").is_ok() => Backend::Jack,
            Backend::Auto => Backend::Alsa,
            concrete => concrete,
        }
    }
}

/// JACK client names of the jam's two ends; their ports are `cantus-in:player` and
/// `cantus-out:melody`.
pub const IN_CLIENT: &str = "cantus-in";
pub const OUT_CLIENT: &str = "cantus-out";
const IN_PORT: &str = "player";
const OUT_PORT: &str = "melody";

/// Which side of the jam a port is on, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A port the jam reads from (a keyboard's output).
    Input,
    /// A port the jam writes to (a synth's input).
    Output,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
        })
    }
}

/// Why the ports could not be listed, matched or connected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error(
        "cannot reach a JACK server: is one running? (start one with `jackd -d alsa`, qjackctl, or PipeWire's JACK support; JACK_DEFAULT_SERVER names a server other than `default`; or use --backend alsa)"
    )]
    NoServer,
    #[error(
        "cannot open the ALSA sequencer: {0} (is /dev/snd/seq there, with the snd-seq kernel module loaded and read-write for you? or use --backend jack)"
    )]
    NoAlsa(String),
    #[error(
        "found no MIDI system: no JACK server is running (start one with `jackd -d alsa`, qjackctl, or PipeWire's JACK support), and ALSA's sequencer cannot be opened: {0} (is /dev/snd/seq there?)"
    )]
    Neither(String),
    #[error("no MIDI {direction} matches {query:?}; {}", listing(*direction, candidates))]
    Missing {
        direction: Direction,
        query: String,
        candidates: Vec<String>,
    },
    #[error("{query:?} matches {} MIDI {direction}s; give more of the name. {}", matches.len(), listing(*direction, matches))]
    Ambiguous {
        direction: Direction,
        query: String,
        matches: Vec<String>,
    },
    #[error("cannot connect to the MIDI {direction} {port}: {why}")]
    Connect {
        direction: Direction,
        port: String,
        why: String,
    },
}

fn listing(direction: Direction, ports: &[String]) -> String {
    if ports.is_empty() {
        format!("there are no MIDI {direction}s")
    } else {
        format!("the MIDI {direction}s are: {}", ports.join(", "))
    }
}

/// The port `query` names among `ports`: the one named exactly, else the one whose name contains
/// it (ignoring case), if only one does.
pub fn pick_port(ports: &[String], query: &str, direction: Direction) -> Result<String, PortError> {
    if let Some(exact) = ports.iter().find(|p| *p == query) {
        return Ok(exact.clone());
    }
    let needle = query.to_lowercase();
    let matches: Vec<String> = ports
        .iter()
        .filter(|p| p.to_lowercase().contains(&needle))
        .cloned()
        .collect();
    match matches.len() {
        1 => Ok(matches[0].clone()),
        0 => Err(PortError::Missing {
            direction,
            query: query.to_string(),
            candidates: ports.to_vec(),
        }),
        _ => Err(PortError::Ambiguous {
            direction,
            query: query.to_string(),
            matches,
        }),
    }
}

/// Where the jam's MIDI goes: the synth's port, or a fake one in tests.
pub trait MidiSink {
    /// Sends one complete MIDI message. An error means the message is lost (the port is gone).
    fn send(&mut self, message: &[u8]) -> Result<(), String>;
}

/// A MIDI message from the player, stamped on arrival (in the JACK callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inbound {
    pub at: Instant,
    pub len: u8,
    pub bytes: [u8; 3],
}

impl Inbound {
    /// Messages of up to three bytes; longer ones (system exclusive) are of no use to the jam.
    pub fn new(at: Instant, message: &[u8]) -> Option<Inbound> {
        if message.is_empty() || message.len() > 3 {
            return None;
        }
        let mut bytes = [0; 3];
        bytes[..message.len()].copy_from_slice(message);
        Some(Inbound {
            at,
            len: message.len() as u8,
            bytes,
        })
    }

    pub fn message(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The MIDI ports there are on `backend`, inputs (what the jam can read from) and outputs.
pub fn list_ports(backend: Backend) -> Result<(Vec<String>, Vec<String>), PortError> {
    match backend.resolve() {
        Backend::Alsa => alsa::list_ports().map_err(|e| e.after_auto(backend)),
        _ => list_jack_ports(),
    }
}

impl PortError {
    /// ALSA failing after `Auto` found no JACK server: both are missing, and the message says so.
    fn after_auto(self, asked: Backend) -> PortError {
        match (asked, self) {
            (Backend::Auto, PortError::NoAlsa(why)) => PortError::Neither(why),
            (_, error) => error,
        }
    }
}

fn list_jack_ports() -> Result<(Vec<String>, Vec<String>), PortError> {
    let input = MidiInput::new("cantus-ports").map_err(|_| PortError::NoServer)?;
    let output = MidiOutput::new("cantus-ports").map_err(|_| PortError::NoServer)?;
    Ok((input_names(&input), output_names(&output)))
}

fn input_names(input: &MidiInput) -> Vec<String> {
    let ports = input.ports();
    ports
        .iter()
        .filter_map(|p| input.port_name(p).ok())
        .collect()
}

fn output_names(output: &MidiOutput) -> Vec<String> {
    let ports = output.ports();
    ports
        .iter()
        .filter_map(|p| output.port_name(p).ok())
        .collect()
}

/// The jam's live connections: the player's port feeds `inbound`, the synth's port is a
/// [`MidiSink`]. Dropping it disconnects both.
pub struct Connections {
    pub backend: Backend,
    pub input_name: String,
    pub output_name: String,
    link: Link,
}

enum Link {
    Jack {
        _input: MidiInputConnection<()>,
        output: JackOutput,
    },
    Alsa(AlsaConnections),
}

impl Connections {
    /// Connects, on `backend`, to the input and output that `input_query` and `output_query`
    /// name; every message from the input is stamped and pushed to `inbound` (dropped when it is
    /// full).
    pub fn open(
        backend: Backend,
        input_query: &str,
        output_query: &str,
        inbound: Producer<Inbound>,
    ) -> Result<Connections, PortError> {
        match backend.resolve() {
            Backend::Alsa => {
                let alsa = AlsaConnections::open(input_query, output_query, inbound)
                    .map_err(|e| e.after_auto(backend))?;
                Ok(Connections {
                    backend: Backend::Alsa,
                    input_name: alsa.input_name.clone(),
                    output_name: alsa.output_name.clone(),
                    link: Link::Alsa(alsa),
                })
            }
            _ => open_jack(input_query, output_query, inbound),
        }
    }

    pub fn sink(&mut self) -> &mut dyn MidiSink {
        match &mut self.link {
            Link::Jack { output, .. } => output,
            Link::Alsa(alsa) => alsa.sink(),
        }
    }
}

fn open_jack(
    input_query: &str,
    output_query: &str,
    mut inbound: Producer<Inbound>,
) -> Result<Connections, PortError> {
    let input = MidiInput::new(IN_CLIENT).map_err(|_| PortError::NoServer)?;
    let output = MidiOutput::new(OUT_CLIENT).map_err(|_| PortError::NoServer)?;
    let input_name = pick_port(&input_names(&input), input_query, Direction::Input)?;
    let output_name = pick_port(&output_names(&output), output_query, Direction::Output)?;
    let connect_error = |direction, port: &str, why: String| PortError::Connect {
        direction,
        port: port.to_string(),
        why,
    };
    let in_port = input
        .ports()
        .into_iter()
        .find(|p| input.port_name(p).ok().as_deref() == Some(input_name.as_str()))
        .ok_or_else(|| connect_error(Direction::Input, &input_name, "it went away".into()))?;
    let out_port = output
        .ports()
        .into_iter()
        .find(|p| output.port_name(p).ok().as_deref() == Some(output_name.as_str()))
        .ok_or_else(|| connect_error(Direction::Output, &output_name, "it went away".into()))?;
    // The callback runs on JACK's process thread: stamp, push, never wait.
    let input = input
        .connect(
            &in_port,
            IN_PORT,
            move |_, message, _| {
                if let Some(message) = Inbound::new(Instant::now(), message) {
                    let _ = inbound.push(message);
                }
            },
            (),
        )
        .map_err(|e| connect_error(Direction::Input, &input_name, e.to_string()))?;
    let output = output
        .connect(&out_port, OUT_PORT)
        .map_err(|e| connect_error(Direction::Output, &output_name, e.to_string()))?;
    Ok(Connections {
        backend: Backend::Jack,
        input_name,
        output_name,
        link: Link::Jack {
            _input: input,
            output: JackOutput(output),
        },
    })
}

struct JackOutput(MidiOutputConnection);

impl MidiSink for JackOutput {
    fn send(&mut self, message: &[u8]) -> Result<(), String> {
        self.0.send(message).map_err(|e| e.to_string())
    }
}

/// Looks, from clients of its own, whether the jam's two ports (and the JACK server) are still
/// there.
pub struct Watcher {
    lister: Lister,
    input_name: String,
    output_name: String,
}

enum Lister {
    Jack {
        server: ServerWatch,
        input: MidiInput,
        output: MidiOutput,
    },
    Alsa(AlsaLister),
}

/// What the watcher found gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    /// The JACK server itself stopped: no port is left to send notes-off to.
    pub server: bool,
    /// The synth's port is still there, so notes can still be ended.
    pub output_alive: bool,
    pub message: String,
}

impl Watcher {
    pub fn new(connections: &Connections) -> Result<Watcher, PortError> {
        let lister = match connections.backend {
            Backend::Alsa => Lister::Alsa(AlsaLister::open()?),
            _ => Lister::Jack {
                server: ServerWatch::open("cantus-watch").ok_or(PortError::NoServer)?,
                input: MidiInput::new("cantus-watch").map_err(|_| PortError::NoServer)?,
                output: MidiOutput::new("cantus-watch").map_err(|_| PortError::NoServer)?,
            },
        };
        Ok(Watcher {
            lister,
            input_name: connections.input_name.clone(),
            output_name: connections.output_name.clone(),
        })
    }

    /// `Some` when a port or the server is gone.
    pub fn check(&self) -> Option<Lost> {
        let (inputs, outputs) = match &self.lister {
            Lister::Jack { server, .. } if server.is_gone() => {
                return Some(Lost {
                    server: true,
                    output_alive: false,
                    message: "the JACK server stopped".into(),
                });
            }
            Lister::Jack { input, output, .. } => (input_names(input), output_names(output)),
            Lister::Alsa(lister) => lister.names(),
        };
        let input_alive = inputs.contains(&self.input_name);
        let output_alive = outputs.contains(&self.output_name);
        if input_alive && output_alive {
            return None;
        }
        let message = {
            let gone: Vec<String> = [
                (!input_alive).then(|| format!("the MIDI input {} went away", self.input_name)),
                (!output_alive).then(|| format!("the MIDI output {} went away", self.output_name)),
            ]
            .into_iter()
            .flatten()
            .collect();
            gone.join("; ")
        };
        Some(Lost {
            server: false,
            output_alive,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports() -> Vec<String> {
        [
            "system:midi_capture_1",
            "a2j:Keystation 49 [20] (capture): Keystation 49 MIDI 1",
            "a2j:Keystation 49 [20] (capture): Keystation 49 MIDI 2",
            "fluidsynth:midi",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn an_exact_name_or_a_unique_piece_of_one_picks_the_port() {
        let ports = ports();
        assert_eq!(
            pick_port(&ports, "fluid", Direction::Output).unwrap(),
            "fluidsynth:midi"
        );
        assert_eq!(
            pick_port(&ports, "CAPTURE_1", Direction::Input).unwrap(),
            "system:midi_capture_1"
        );
        assert_eq!(
            pick_port(&ports, "MIDI 2", Direction::Input).unwrap(),
            ports[2]
        );
        // An exact name wins even when it is also a piece of a longer one.
        let nested = vec!["synth:in".to_string(), "synth:in 2".to_string()];
        assert_eq!(
            pick_port(&nested, "synth:in", Direction::Output).unwrap(),
            "synth:in"
        );
    }

    #[test]
    fn an_ambiguous_or_missing_name_is_an_error_that_lists_the_ports() {
        let ports = ports();
        let error = pick_port(&ports, "keystation", Direction::Input).unwrap_err();
        assert!(matches!(&error, PortError::Ambiguous { matches, .. } if matches.len() == 2));
        let text = error.to_string();
        assert!(
            text.contains("matches 2 MIDI inputs") && text.contains("MIDI 1, a2j:"),
            "{text}"
        );

        let error = pick_port(&ports, "piano", Direction::Output).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("no MIDI output matches \"piano\""),
            "{text}"
        );
        assert!(text.contains("system:midi_capture_1, a2j:") && text.contains("fluidsynth:midi"));

        let text = pick_port(&[], "piano", Direction::Output)
            .unwrap_err()
            .to_string();
        assert!(text.contains("there are no MIDI outputs"), "{text}");
    }

    #[test]
    fn inbound_messages_keep_up_to_three_bytes() {
        let now = Instant::now();
        assert_eq!(
            Inbound::new(now, &[0x90, 60, 100]).unwrap().message(),
            [0x90, 60, 100]
        );
        assert_eq!(Inbound::new(now, &[0xF8]).unwrap().message(), [0xF8]);
        assert!(Inbound::new(now, &[]).is_none());
        assert!(Inbound::new(now, &[0xF0, 1, 2, 3, 0xF7]).is_none());
    }
}
