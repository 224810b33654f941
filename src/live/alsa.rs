//! The ALSA sequencer side of `cantus jam` (`--backend alsa`): hardware MIDI ports without a JACK
//! server. midir compiles either its ALSA or its JACK backend, never both, and the jam uses its
//! JACK one, so ALSA is reached through the `alsa` crate (the one midir itself is built on).
//!
//! Ports are named `client:port`, as `aconnect -l` shows them (`Keystation 49:Keystation 49 MIDI
//! 1`). The jam is one sequencer client, `cantus`, with a port `player` subscribed to the
//! keyboard and a port `melody` subscribed to the synth. Reading happens on a thread of its own
//! with its own sequencer handle, which polls so that it can notice when the jam ends.

use std::ffi::CString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use alsa::PollDescriptors;
use alsa::seq::{Addr, ClientIter, MidiEvent, PortCap, PortIter, PortSubscribe, PortType, Seq};
use rtrb::Producer;

use super::ports::{Direction, Inbound, MidiSink, PortError, pick_port};

/// The jam's sequencer client and its two ports.
const CLIENT: &str = "cantus";
const IN_PORT: &str = "player";
const OUT_PORT: &str = "melody";

/// How long the reader waits for input before it looks whether the jam has ended.
const POLL_MS: i32 = 50;

/// A named port of another client.
#[derive(Debug, Clone)]
struct Port {
    name: String,
    addr: Addr,
}

fn open(what: &str) -> Result<Seq, PortError> {
    let seq = Seq::open(None, None, true).map_err(|e| PortError::NoAlsa(e.to_string()))?;
    let name = CString::new(format!("{CLIENT}-{what}")).expect("no NUL in the name");
    let _ = seq.set_client_name(&name);
    Ok(seq)
}

/// The MIDI ports of other clients that the jam can read from (`capability` READ) or write to
/// (WRITE), skipping ALSA's own System ports and the jam's.
fn ports(seq: &Seq, direction: Direction) -> Vec<Port> {
    let capability = match direction {
        Direction::Input => PortCap::READ | PortCap::SUBS_READ,
        Direction::Output => PortCap::WRITE | PortCap::SUBS_WRITE,
    };
    let own = seq.client_id().ok();
    ClientIter::new(seq)
        .filter(|client| Some(client.get_client()) != own)
        .flat_map(|client| {
            let client_name = client.get_name().unwrap_or("?").to_string();
            PortIter::new(seq, client.get_client())
                .filter(|p| {
                    p.get_type().intersects(
                        PortType::MIDI_GENERIC | PortType::SYNTH | PortType::APPLICATION,
                    ) && p.get_capability().contains(capability)
                })
                .map(|p| Port {
                    name: format!("{client_name}:{}", p.get_name().unwrap_or("?")),
                    addr: p.addr(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn names(ports: &[Port]) -> Vec<String> {
    ports.iter().map(|p| p.name.clone()).collect()
}

/// The ALSA MIDI inputs and outputs there are.
pub fn list_ports() -> Result<(Vec<String>, Vec<String>), PortError> {
    let seq = open("ports")?;
    Ok((
        names(&ports(&seq, Direction::Input)),
        names(&ports(&seq, Direction::Output)),
    ))
}

fn pick(seq: &Seq, query: &str, direction: Direction) -> Result<Port, PortError> {
    let all = ports(seq, direction);
    let name = pick_port(&names(&all), query, direction)?;
    Ok(all
        .into_iter()
        .find(|p| p.name == name)
        .expect("picked from the list"))
}

fn connect_error(direction: Direction, port: &str, why: impl ToString) -> PortError {
    PortError::Connect {
        direction,
        port: port.to_string(),
        why: why.to_string(),
    }
}

/// The jam's ALSA connections: dropping it stops the reader and closes both clients (which
/// removes their subscriptions).
pub struct AlsaConnections {
    pub input_name: String,
    pub output_name: String,
    output: AlsaOutput,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl AlsaConnections {
    /// Connects to the ports that `input_query` and `output_query` name; every message from the
    /// input is stamped and pushed to `inbound` (dropped when it is full).
    pub fn open(
        input_query: &str,
        output_query: &str,
        inbound: Producer<Inbound>,
    ) -> Result<AlsaConnections, PortError> {
        let out_seq = open("out")?;
        let source = pick(&out_seq, input_query, Direction::Input)?;
        let dest = pick(&out_seq, output_query, Direction::Output)?;
        let output = AlsaOutput::connect(out_seq, &dest)?;

        let in_seq = open("in")?;
        let port = create_port(&in_seq, IN_PORT, PortCap::WRITE | PortCap::SUBS_WRITE)
            .map_err(|e| connect_error(Direction::Input, &source.name, e))?;
        subscribe(&in_seq, source.addr, own_addr(&in_seq, port)?)
            .map_err(|e| connect_error(Direction::Input, &source.name, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let stop = stop.clone();
            thread::Builder::new()
                .name("cantus-alsa-in".into())
                .spawn(move || read(in_seq, inbound, &stop))
                .map_err(|e| connect_error(Direction::Input, &source.name, e))?
        };
        Ok(AlsaConnections {
            input_name: source.name,
            output_name: dest.name,
            output,
            stop,
            reader: Some(reader),
        })
    }

    pub fn sink(&mut self) -> &mut dyn MidiSink {
        &mut self.output
    }
}

impl Drop for AlsaConnections {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn create_port(seq: &Seq, name: &str, capability: PortCap) -> alsa::Result<i32> {
    let name = CString::new(name).expect("no NUL in the name");
    seq.create_simple_port(
        &name,
        capability,
        PortType::MIDI_GENERIC | PortType::APPLICATION,
    )
}

fn own_addr(seq: &Seq, port: i32) -> Result<Addr, PortError> {
    let client = seq
        .client_id()
        .map_err(|e| PortError::NoAlsa(e.to_string()))?;
    Ok(Addr { client, port })
}

fn subscribe(seq: &Seq, sender: Addr, dest: Addr) -> alsa::Result<()> {
    let subscription = PortSubscribe::empty()?;
    subscription.set_sender(sender);
    subscription.set_dest(dest);
    seq.subscribe_port(&subscription)
}

/// The reader thread: waits for events in slices of [`POLL_MS`], turns each back into MIDI
/// bytes, stamps and pushes it, until `stop`.
fn read(seq: Seq, mut inbound: Producer<Inbound>, stop: &AtomicBool) {
    let Ok(decoder) = MidiEvent::new(0) else {
        return;
    };
    decoder.enable_running_status(false);
    let descriptors = (&seq, Some(alsa::Direction::Capture));
    let mut fds = descriptors.get().unwrap_or_default();
    let mut input = seq.input();
    let mut bytes = [0u8; 12];
    while !stop.load(Ordering::Acquire) {
        if input.event_input_pending(true).unwrap_or(0) == 0 {
            let _ = alsa::poll::poll(&mut fds, POLL_MS);
            continue;
        }
        let Ok(mut event) = input.event_input() else {
            continue;
        };
        if let Ok(len) = decoder.decode(&mut bytes, &mut event)
            && let Some(message) = Inbound::new(Instant::now(), &bytes[..len])
        {
            let _ = inbound.push(message);
        }
    }
}

/// The `melody` port, subscribed to the synth, and the encoder for what goes out.
struct AlsaOutput {
    seq: Seq,
    port: i32,
    encoder: MidiEvent,
}

impl AlsaOutput {
    fn connect(seq: Seq, dest: &Port) -> Result<AlsaOutput, PortError> {
        let error = |e: alsa::Error| connect_error(Direction::Output, &dest.name, e);
        let port =
            create_port(&seq, OUT_PORT, PortCap::READ | PortCap::SUBS_READ).map_err(error)?;
        subscribe(&seq, own_addr(&seq, port)?, dest.addr).map_err(error)?;
        let encoder = MidiEvent::new(16).map_err(error)?;
        Ok(AlsaOutput { seq, port, encoder })
    }
}

impl MidiSink for AlsaOutput {
    fn send(&mut self, message: &[u8]) -> Result<(), String> {
        self.encoder.reset_encode();
        let mut event = match self.encoder.encode(message) {
            Ok((_, Some(event))) => event,
            Ok((_, None)) => return Err(format!("an incomplete MIDI message {message:02X?}")),
            Err(e) => return Err(e.to_string()),
        };
        event.set_source(self.port);
        event.set_subs();
        event.set_direct();
        self.seq
            .event_output_direct(&mut event)
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Lists the ports from a client of its own, to notice the jam's two going away.
pub struct AlsaLister(Seq);

impl AlsaLister {
    pub fn open() -> Result<AlsaLister, PortError> {
        open("watch").map(AlsaLister)
    }

    /// The names of the inputs and outputs there are now.
    pub fn names(&self) -> (Vec<String>, Vec<String>) {
        (
            names(&ports(&self.0, Direction::Input)),
            names(&ports(&self.0, Direction::Output)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ALSA's sequencer is a kernel device: where it is missing (containers, CI) the jam says so
    /// instead of failing obscurely; where it exists, its ports list without error.
    #[test]
    fn alsa_ports_list_or_say_why_not() {
        match list_ports() {
            Ok((inputs, outputs)) => {
                assert!(std::path::Path::new("/dev/snd/seq").exists());
                assert!(
                    !inputs
                        .iter()
                        .chain(&outputs)
                        .any(|p| p.starts_with("cantus"))
                );
            }
            Err(error) => {
                assert!(!std::path::Path::new("/dev/snd/seq").exists(), "{error}");
                let text = error.to_string();
                assert!(text.starts_with("cannot open the ALSA sequencer"), "{text}");
                assert!(text.contains("/dev/snd/seq"), "{text}");
            }
        }
    }
}
