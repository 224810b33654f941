//! The jam's time: which grid steps are due, from the jam's own tempo or from an external MIDI
//! clock. Times are seconds since the jam started (`f64`), so everything here is plain arithmetic
//! that tests can drive without waiting.
//!
//! * [`InternalClock`] counts samples at a nominal [`NOMINAL_RATE`] and lets the engine's
//!   [`Clock::advance_free`] place the steps: the same maths as the plugin free-running, so a step
//!   is never early and never drifts however long the jam lasts.
//! * [`MidiClock`] follows 24 pulses per quarter note with Start, Stop, Continue and Song Position
//!   Pointer. A step starts on the pulse at its boundary; where the grid does not divide 24 (5 or
//!   7 steps a quarter) a boundary between pulses is placed by the pulse period measured so far.

use crate::engine::clock::{Clock, TransportEvent};
use crate::music::grid::StepGrid;

/// The sample rate the internal clock counts in. Only a unit of time: nothing is rendered.
pub const NOMINAL_RATE: f64 = 48_000.0;

/// MIDI clock pulses per quarter note.
pub const PULSES_PER_QUARTER: u32 = 24;

/// Something the timekeeper says happens now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Due {
    Transport(TransportEvent),
    /// Step `step` starts; its boundary was at `at` seconds.
    Step {
        step: u64,
        at: f64,
    },
}

/// The jam's own clock at a fixed tempo, started by the first [`InternalClock::poll`].
#[derive(Debug, Clone)]
pub struct InternalClock {
    clock: Clock,
    bpm: f64,
    /// Samples already handed to the clock.
    samples: u64,
}

impl InternalClock {
    pub fn new(grid: StepGrid, bpm: f64) -> Self {
        Self {
            clock: Clock::new(grid),
            bpm,
            samples: 0,
        }
    }

    /// Everything due up to `now`, in order.
    pub fn poll(&mut self, now: f64, out: &mut Vec<Due>) {
        let upto = (now.max(0.0) * NOMINAL_RATE).floor() as u64 + 1;
        let len = (upto - self.samples.min(upto)).min(u64::from(u32::MAX)) as u32;
        if len == 0 {
            return;
        }
        let start = self.samples;
        let plan = self.clock.advance_free(NOMINAL_RATE, len, self.bpm);
        self.samples += u64::from(len);
        out.extend(plan.events.into_iter().map(Due::Transport));
        out.extend(plan.steps.map(|s| Due::Step {
            step: s.step,
            at: (start + u64::from(s.offset)) as f64 / NOMINAL_RATE,
        }));
    }

    /// The step a note played at `at` lands on: the one containing it.
    pub fn step_at(&self, at: f64) -> u64 {
        let steps_per_second = self.bpm / 60.0 * f64::from(self.clock.grid().steps_per_quarter);
        (at.max(0.0) * steps_per_second).floor() as u64
    }
}

/// Follows an external MIDI clock: feed it the real-time bytes with their arrival times.
#[derive(Debug, Clone)]
pub struct MidiClock {
    grid: StepGrid,
    running: bool,
    /// The index the next pulse will have (Start makes it 0, Song Position moves it).
    next_pulse: u64,
    /// The last pulse of this run and when it came.
    last: Option<(u64, f64)>,
    /// Smoothed seconds per pulse, from every pulse, running or not (clocks tick while stopped).
    period: Option<f64>,
    last_seen: Option<f64>,
    /// The first step not yet emitted in this run.
    next_step: u64,
    /// A `Started` event owed at the first pulse of a run.
    start_pending: bool,
    /// Set when the clock should stop (Stop, or Start while running), reported at the next poll.
    events: Vec<TransportEvent>,
}

/// How much a new pulse interval moves the smoothed period: a quarter note of pulses settles it.
const SMOOTHING: f64 = 1.0 / 8.0;

impl MidiClock {
    pub fn new(grid: StepGrid) -> Self {
        Self {
            grid,
            running: false,
            next_pulse: 0,
            last: None,
            period: None,
            last_seen: None,
            next_step: 0,
            start_pending: false,
            events: Vec::new(),
        }
    }

    /// Takes a system real-time or common message; says whether it was one the clock reads.
    pub fn message(&mut self, message: &[u8], at: f64) -> bool {
        match message {
            [0xF8] => self.pulse(at),
            [0xFA] => {
                self.stop();
                self.next_pulse = 0;
                self.begin_run();
            }
            [0xFB] => {
                if !self.running {
                    self.begin_run();
                }
            }
            [0xFC] => self.stop(),
            [0xF2, lsb, msb] => {
                // Song Position: MIDI beats (sixteenths, six pulses each), only while stopped.
                if !self.running {
                    let beats = u64::from(*lsb & 0x7F) | (u64::from(*msb & 0x7F) << 7);
                    self.next_pulse = beats * 6;
                }
            }
            _ => return false,
        }
        true
    }

    fn begin_run(&mut self) {
        self.running = true;
        self.last = None;
        self.start_pending = true;
        // The first step at or after the position the next pulse marks.
        let spq = u64::from(self.grid.steps_per_quarter);
        self.next_step = (self.next_pulse * spq).div_ceil(u64::from(PULSES_PER_QUARTER));
    }

    fn stop(&mut self) {
        if self.running && !self.start_pending {
            self.events.push(TransportEvent::Stopped);
        }
        self.running = false;
        self.start_pending = false;
        self.last = None;
    }

    fn pulse(&mut self, at: f64) {
        if let Some(seen) = self.last_seen {
            let interval = at - seen;
            // Ignore nonsense (a clock that restarted, a stall of more than a second).
            if interval > 0.0 && interval < 1.0 {
                self.period = Some(match self.period {
                    Some(p) => p + SMOOTHING * (interval - p),
                    None => interval,
                });
            }
        }
        self.last_seen = Some(at);
        if self.running {
            if self.start_pending {
                self.start_pending = false;
                self.events.push(TransportEvent::Started {
                    step: self.next_step,
                });
            }
            self.last = Some((self.next_pulse, at));
            self.next_pulse += 1;
        }
    }

    /// The tempo the pulses give, in quarter notes per minute, once two have come.
    pub fn bpm(&self) -> Option<f64> {
        self.period
            .map(|p| 60.0 / (p * f64::from(PULSES_PER_QUARTER)))
    }

    /// Whether a run is under way (started, and its first pulse has come).
    pub fn is_running(&self) -> bool {
        self.running && self.last.is_some()
    }

    /// The song position at `now` in pulses: the last pulse, plus the part of a period since it
    /// (or minus, for a moment before it), never reaching the next pulse before it comes.
    fn position(&self, now: f64) -> Option<f64> {
        let (pulse, at) = self.last?;
        let fraction = match self.period {
            Some(period) if period > 0.0 => ((now - at) / period).min(0.999),
            _ => 0.0,
        };
        Some((pulse as f64 + fraction).max(0.0))
    }

    /// Where step `step` starts, in pulses.
    fn boundary(&self, step: u64) -> f64 {
        step as f64 * f64::from(PULSES_PER_QUARTER) / f64::from(self.grid.steps_per_quarter)
    }

    /// Everything due up to `now`, in order.
    pub fn poll(&mut self, now: f64, out: &mut Vec<Due>) {
        out.extend(self.events.drain(..).map(Due::Transport));
        let Some(position) = self.position(now) else {
            return;
        };
        let (last_pulse, last_at) = self.last.expect("a position has a last pulse");
        while self.boundary(self.next_step) <= position + 1e-9 {
            // The boundary's time, measured from the last pulse (before it, when a pulse
            // arrived before the loop saw the boundary pass).
            let from_last = self.boundary(self.next_step) - last_pulse as f64;
            let at = last_at + from_last * self.period.unwrap_or(0.0);
            out.push(Due::Step {
                step: self.next_step,
                at,
            });
            self.next_step += 1;
        }
    }

    /// The step a note played at `at` lands on: the one containing it (the step before the next
    /// one due, or 0 while nothing runs).
    pub fn step_at(&self, at: f64) -> u64 {
        let Some(position) = self.position(at) else {
            return self.next_step;
        };
        let spq = f64::from(self.grid.steps_per_quarter);
        (position * spq / f64::from(PULSES_PER_QUARTER)).floor() as u64
    }
}

/// The jam's clock, internal or external.
#[derive(Debug, Clone)]
pub enum Timekeeper {
    Internal(InternalClock),
    Midi(MidiClock),
}

impl Timekeeper {
    pub fn poll(&mut self, now: f64, out: &mut Vec<Due>) {
        match self {
            Timekeeper::Internal(clock) => clock.poll(now, out),
            Timekeeper::Midi(clock) => clock.poll(now, out),
        }
    }

    pub fn step_at(&self, at: f64) -> u64 {
        match self {
            Timekeeper::Internal(clock) => clock.step_at(at),
            Timekeeper::Midi(clock) => clock.step_at(at),
        }
    }

    /// Hands a clock message to an external clock; false when it is not one it reads.
    pub fn message(&mut self, message: &[u8], at: f64) -> bool {
        match self {
            Timekeeper::Internal(_) => false,
            Timekeeper::Midi(clock) => clock.message(message, at),
        }
    }

    /// The tempo now, where known.
    pub fn bpm(&self) -> Option<f64> {
        match self {
            Timekeeper::Internal(clock) => Some(clock.bpm),
            Timekeeper::Midi(clock) => clock.bpm(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(keeper: &mut impl FnMut(f64, &mut Vec<Due>), now: f64) -> Vec<Due> {
        let mut out = Vec::new();
        keeper(now, &mut out);
        out
    }

    #[test]
    fn the_internal_clock_emits_each_step_once_on_its_boundary() {
        let mut clock = InternalClock::new(StepGrid::new(4), 120.0);
        let mut seen = Vec::new();
        // Irregular wake-ups, about a millisecond apart, for ten seconds.
        let mut now = 0.0;
        let mut k = 0u32;
        while now < 10.0 {
            clock.poll(now, &mut seen);
            k += 1;
            now += 0.0007 + 0.0011 * f64::from(k % 3);
        }
        assert_eq!(seen[0], Due::Transport(TransportEvent::Started { step: 0 }));
        let steps: Vec<(u64, f64)> = seen[1..]
            .iter()
            .map(|d| match d {
                Due::Step { step, at } => (*step, *at),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(steps.len(), 80); // 8 sixteenths a second at 120 BPM
        for (k, (step, at)) in steps.iter().enumerate() {
            assert_eq!(*step, k as u64);
            assert!((at - k as f64 * 0.125).abs() < 1e-9, "step {k} at {at}");
        }
        assert_eq!(clock.step_at(0.1249), 0);
        assert_eq!(clock.step_at(0.125), 1);
        assert_eq!(clock.step_at(1.3), 10);
    }

    /// Pulses at `bpm` from `from` seconds, `count` of them, fed one by one with a poll after each.
    fn pulses(clock: &mut MidiClock, bpm: f64, from: f64, count: u32, seen: &mut Vec<Due>) -> f64 {
        let period = 60.0 / bpm / 24.0;
        let mut at = from;
        for _ in 0..count {
            clock.message(&[0xF8], at);
            clock.poll(at, seen);
            // Halfway to the next pulse: a step between pulses may fall due.
            clock.poll(at + period / 2.0, seen);
            at += period;
        }
        at
    }

    fn steps(seen: &[Due]) -> Vec<u64> {
        seen.iter()
            .filter_map(|d| match d {
                Due::Step { step, .. } => Some(*step),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn midi_clock_pulses_give_the_tempo_and_the_steps() {
        let mut clock = MidiClock::new(StepGrid::new(4));
        let mut seen = Vec::new();
        // Pulses while stopped set the tempo but play nothing.
        let at = pulses(&mut clock, 100.0, 0.0, 48, &mut seen);
        assert!(seen.is_empty());
        assert!((clock.bpm().unwrap() - 100.0).abs() < 1e-6);
        assert!(!clock.is_running());
        // Start: the next pulse is step 0; a quarter note is four steps, one every six pulses.
        clock.message(&[0xFA], at);
        let at = pulses(&mut clock, 100.0, at + 0.01, 48, &mut seen);
        assert_eq!(seen[0], Due::Transport(TransportEvent::Started { step: 0 }));
        assert_eq!(steps(&seen), (0..8).collect::<Vec<_>>());
        // Each step on its pulse: step 4 is pulse 24, one quarter (0.6 s) after pulse 0.
        let times: Vec<f64> = seen
            .iter()
            .filter_map(|d| match d {
                Due::Step { at, .. } => Some(*at),
                _ => None,
            })
            .collect();
        assert!((times[4] - times[0] - 0.6).abs() < 1e-6, "{times:?}");
        // Stop, then Continue: the steps go on from where they stopped.
        clock.message(&[0xFC], at);
        seen.clear();
        clock.poll(at, &mut seen);
        assert_eq!(seen, [Due::Transport(TransportEvent::Stopped)]);
        clock.message(&[0xFB], at + 1.0);
        seen.clear();
        pulses(&mut clock, 100.0, at + 1.0, 12, &mut seen);
        assert_eq!(seen[0], Due::Transport(TransportEvent::Started { step: 8 }));
        assert_eq!(steps(&seen), [8, 9]);
    }

    #[test]
    fn song_position_and_an_uneven_grid_place_the_steps_between_pulses() {
        // Five steps a quarter: 4.8 pulses a step, so step 1 falls between pulses 4 and 5.
        let mut clock = MidiClock::new(StepGrid::new(5));
        let mut seen = Vec::new();
        let at = pulses(&mut clock, 120.0, 0.0, 24, &mut seen);
        clock.message(&[0xF2, 8, 0], at); // MIDI beat 8: pulse 48, quarter 2, step 10
        clock.message(&[0xFB], at);
        pulses(&mut clock, 120.0, at, 12, &mut seen);
        assert_eq!(
            seen[0],
            Due::Transport(TransportEvent::Started { step: 10 })
        );
        assert_eq!(steps(&seen), [10, 11, 12]);
        let step_11 = seen
            .iter()
            .find_map(|d| match d {
                Due::Step { step: 11, at: t } => Some(*t),
                _ => None,
            })
            .unwrap();
        let period = 60.0 / 120.0 / 24.0;
        assert!((step_11 - (at + 4.8 * period)).abs() < 1e-6);
        // A note at pulse 50 of the song (0.5 s / 24 × 2 after the first) lands on step 10.
        assert_eq!(clock.step_at(at + 2.0 * period), 10);
        let mut poll_at = |now: f64, out: &mut Vec<Due>| clock.poll(now, out);
        assert!(poll(&mut poll_at, at + 100.0).is_empty()); // no pulses: the song waits
    }

    #[test]
    fn start_while_running_restarts_from_step_0() {
        let mut clock = MidiClock::new(StepGrid::new(4));
        let mut seen = Vec::new();
        clock.message(&[0xFA], 0.0);
        let at = pulses(&mut clock, 120.0, 0.0, 30, &mut seen);
        clock.message(&[0xFA], at);
        seen.clear();
        pulses(&mut clock, 120.0, at, 7, &mut seen);
        assert_eq!(
            seen[..2],
            [
                Due::Transport(TransportEvent::Stopped),
                Due::Transport(TransportEvent::Started { step: 0 })
            ]
        );
        assert_eq!(steps(&seen), [0, 1]);
    }
}
