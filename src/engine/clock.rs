//! The clock maths: which grid steps start inside an audio block, and on which of its samples.
//!
//! Everything here is pure arithmetic on small `Copy` values: no allocation, no locks, no
//! system calls, so all of it may run in the audio callback.
//!
//! # The timeline
//!
//! The host describes each audio block by its sample rate, its length in samples, its tempo in
//! quarter notes per minute, and the song position of its first sample in quarter notes
//! ([`BlockTiming`]). Hosts report one tempo per block, so inside a block the tempo is constant
//! and time advances linearly: the sample at offset `o` sits at `start_quarters + o / spq`, where
//! `spq = sample_rate · 60 / tempo` is the number of samples per quarter note. A tempo change
//! therefore takes effect at a block boundary.
//!
//! A *step* is one cell of the [`StepGrid`]: step `k` starts at the *boundary*
//! `k / steps_per_quarter` quarters, so boundaries are exact multiples of a grid cell and step
//! indices are absolute, counted from the song's zero. They are never negative: a count-in
//! before zero emits nothing, and step 0 starts on the first sample at or after position zero.
//!
//! # The rule: a boundary sounds on the first sample at or after it
//!
//! A boundary rarely falls exactly on a sample. Cantus plays it on the first sample *at or after*
//! it, the offset `ceil(x)`, where `x = (boundary − start_quarters) · spq` is the boundary's exact
//! distance in samples from the block's first sample. Why the ceiling and not the nearest sample:
//! * a note is never early: it sounds less than one sample after its beat (21 µs at 48 kHz) and
//!   never before the host's position says the beat has come;
//! * a boundary exactly on a block's first sample gets offset 0 in that block;
//! * the blocks partition the boundaries. A boundary belongs to the one block that holds the
//!   sample `ceil(x)`, i.e. the block where `−1 < x ≤ len − 1`; consecutive blocks tile the sample
//!   axis, so in exact arithmetic every boundary falls in exactly one block, in order.
//!
//! # Floating point: why the snap, and why each offset is computed afresh
//!
//! Exact arithmetic is not what runs. At 120 BPM, 48 kHz and sixteenths a step is exactly 6000
//! samples, but a host that adds `len / 24000` to its position carries values such as
//! `0.29166666666666663`, and `x` comes out as `5999.999999999` or `6000.000000001`. A bare
//! `ceil` would move a boundary that sits exactly on a sample to the next one, and at a block seam
//! put it in both blocks or in neither. So the offset is `ceil(x − SNAP_SAMPLES)`: a boundary up
//! to [`SNAP_SAMPLES`] (a thousandth of a sample) past a sample is placed on that sample. The
//! snap must exceed the rounding error of `x` (about `2⁻⁵²` of the absolute sample position: a
//! millionth of a sample after ten hours at 96 kHz) and stay far below a sample, so that it never
//! moves a note audibly; a thousandth of a sample (20 ns at 48 kHz) does both.
//!
//! Each offset is computed from its step index, `(k − start_steps) · samples_per_step`, never by
//! adding a step's length to the previous offset: a running sum would drift by one rounding per
//! step, while the direct form carries a fixed few roundings however far the song has gone. The
//! expression is also monotone in `k` (it composes monotone roundings of monotone operations), so
//! the steps of a block are a contiguous range of indices, found from an estimate and corrected
//! by evaluating that same expression at the range's edges: what the iterator yields is exactly
//! the set of steps whose computed offset lies in `0..len`, with no second formula to disagree.
//!
//! # What a stateless rule cannot promise, and what [`Clock`] adds
//!
//! [`steps_in_block`] looks at one block. Two blocks decide a boundary at their seam the same way
//! unless its exact position lies within their disagreement of the threshold, [`SNAP_SAMPLES`]
//! past a sample. For a host that accumulates `len / spq` in `f64` or divides an integer sample
//! counter, that disagreement is float rounding (10⁻⁸ samples), a window so narrow that no
//! boundary has been seen in it (the tests try thousands of tempi): every step comes out exactly
//! once. A host whose positions are coarser (CLAP's fixed-point beat time is `2⁻³¹` quarter,
//! 10⁻⁴ samples at slow tempi) or whose tempo ramps inside blocks disagrees by far more, and then
//! a boundary near a seam can now and then land in both blocks or in neither. No rule that sees
//! one block can rule that out: it would have to know where the next block starts.
//!
//! [`Clock`] remembers instead. It keeps the index of the next step not yet emitted and, while the
//! host's position continues the previous block's, emits from exactly that step: a step the
//! previous block played is not played again, and a step that fell just before this block's first
//! sample (the host ran slightly ahead) is played on its first sample instead of being lost. When
//! the position does not continue (the user moved the playhead, the host wrapped a loop, the
//! transport started or stopped), the clock reports a [`TransportEvent`] and counts afresh from the
//! new position. Without a playing host, [`Clock::advance_free`] runs the same rule on the clock's
//! own sample counter and tempo.
//!
//! # Limits
//!
//! * A tempo change inside a block is seen at the next block, whose position the host computed
//!   with it; the clock follows the host's position, never its own extrapolation.
//! * A host that wraps a loop in the middle of a block, instead of splitting the block at the
//!   loop's end, shows the wrap only at the next block: the steps in the block's remainder are
//!   placed as if the song went on, and the loop is reported one block late.

use std::iter::FusedIterator;
use std::ops::Range;

use nice_plug::prelude::Transport;

use crate::music::grid::StepGrid;

/// How far past a sample, in samples, a boundary may fall and still be placed on that sample
/// rather than the next one. See the module documentation for why it exists and why this size.
pub const SNAP_SAMPLES: f64 = 1e-3;

/// Positions beyond this many steps are refused: step indices must stay exact in an `f64`
/// (below 2⁵³) for the offset arithmetic to hold. 2⁵² sixteenths at 300 BPM last 7 million years.
const MAX_STEPS: f64 = 4_503_599_627_370_496.0; // 2^52

/// Samples per quarter note at a tempo in quarter notes per minute.
pub fn samples_per_quarter(sample_rate: f64, tempo_bpm: f64) -> f64 {
    sample_rate * 60.0 / tempo_bpm
}

/// Samples per grid step: `sample_rate · 60 / (tempo · steps_per_quarter)`. At 48 kHz, 120 BPM
/// and sixteenths, 6000.
pub fn samples_per_step(sample_rate: f64, tempo_bpm: f64, grid: StepGrid) -> f64 {
    samples_per_quarter(sample_rate, tempo_bpm) / f64::from(grid.steps_per_quarter)
}

/// A duration in quarter notes as a (fractional) number of samples, at a constant tempo.
pub fn quarters_to_samples(quarters: f64, sample_rate: f64, tempo_bpm: f64) -> f64 {
    quarters * samples_per_quarter(sample_rate, tempo_bpm)
}

/// A duration in samples as quarter notes, at a constant tempo; the inverse of
/// [`quarters_to_samples`].
pub fn samples_to_quarters(samples: f64, sample_rate: f64, tempo_bpm: f64) -> f64 {
    samples / samples_per_quarter(sample_rate, tempo_bpm)
}

/// What the host says about one audio block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockTiming {
    /// Samples per second.
    pub sample_rate: f64,
    /// The block's length in samples.
    pub len: u32,
    /// Quarter notes per minute, constant through the block.
    pub tempo_bpm: f64,
    /// The song position of the block's first sample, in quarter notes (may be negative during a
    /// count-in).
    pub start_quarters: f64,
    /// Whether the host's transport is running. A stopped transport does not move: no steps.
    pub playing: bool,
    /// The host's active loop, `(start, end)` in quarter notes, end exclusive; used only to tell a
    /// loop wrap from any other jump.
    pub loop_quarters: Option<(f64, f64)>,
}

impl BlockTiming {
    /// A playing block without a loop.
    pub fn new(sample_rate: f64, len: u32, tempo_bpm: f64, start_quarters: f64) -> Self {
        Self {
            sample_rate,
            len,
            tempo_bpm,
            start_quarters,
            playing: true,
            loop_quarters: None,
        }
    }

    /// The host's transport for a block of `len` samples, or `None` when it gives no tempo or no
    /// song position (derived from seconds or samples where the host only gives those): then the
    /// block cannot be placed on the song's grid, and the caller free-runs or stays silent.
    pub fn from_transport(transport: &Transport, len: u32) -> Option<Self> {
        Some(Self {
            sample_rate: f64::from(transport.sample_rate),
            len,
            tempo_bpm: transport.tempo?,
            start_quarters: transport.pos_beats()?,
            playing: transport.playing,
            loop_quarters: transport.loop_range_beats(),
        })
    }

    /// Samples per quarter note in this block.
    pub fn samples_per_quarter(&self) -> f64 {
        samples_per_quarter(self.sample_rate, self.tempo_bpm)
    }

    /// Where the next block starts if the song plays on at this block's tempo, in quarter notes.
    pub fn end_quarters(&self) -> f64 {
        self.start_quarters + f64::from(self.len) / self.samples_per_quarter()
    }
}

/// A step that starts inside a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScheduledStep {
    /// The absolute step index: the boundary `step / steps_per_quarter` quarters starts it.
    pub step: u64,
    /// The sample in the block (`0..len`) on which the step starts.
    pub offset: u32,
}

/// One block's timeline in step units. Private, so that every offset the module hands out comes
/// from the one expression in [`Line::offset`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Line {
    /// The song position of the block's first sample, in steps.
    start_steps: f64,
    samples_per_step: f64,
}

impl Line {
    /// `None` for timings that place nothing: a non-positive or non-finite sample rate or tempo
    /// (hosts do report a tempo of 0 while loading), or a position off any usable grid.
    fn new(timing: &BlockTiming, grid: StepGrid) -> Option<Self> {
        let start_steps = timing.start_quarters * f64::from(grid.steps_per_quarter);
        let samples_per_step = samples_per_step(timing.sample_rate, timing.tempo_bpm, grid);
        let valid = timing.sample_rate > 0.0
            && timing.tempo_bpm > 0.0
            && samples_per_step.is_finite()
            && samples_per_step > 0.0
            && start_steps.abs() < MAX_STEPS; // false for NaN and the infinities as well
        valid.then_some(Self {
            start_steps,
            samples_per_step,
        })
    }

    /// The offset from the block's first sample on which boundary `step` sounds, unclamped
    /// (negative for boundaries before the block): `ceil(x − SNAP_SAMPLES)`. Monotone in `step`:
    /// the conversion is exact below 2⁵³, and the subtraction, the product with a positive number
    /// and the ceiling all preserve order.
    fn offset(&self, step: u64) -> f64 {
        ((step as f64 - self.start_steps) * self.samples_per_step - SNAP_SAMPLES).ceil()
    }

    /// The smallest step whose offset is at least `target`. The estimate is within a step or two
    /// of it (it differs from the exact answer only by rounding); the two loops then settle it
    /// on [`Line::offset`] itself, which is what makes the block ranges agree with the offsets.
    fn first_step_from(&self, target: f64) -> u64 {
        let estimate = (self.start_steps + (target - 1.0) / self.samples_per_step).floor();
        let mut step = if estimate > 0.0 { estimate as u64 } else { 0 };
        while step > 0 && self.offset(step - 1) >= target {
            step -= 1;
        }
        while self.offset(step) < target {
            step += 1;
        }
        step
    }

    /// The range of steps that start in a block of `len` samples.
    fn steps(&self, len: u32) -> Range<u64> {
        self.first_step_from(0.0)..self.first_step_from(f64::from(len))
    }
}

/// The steps that start inside one block, in order: an allocation-free iterator over a range of
/// step indices, each with its sample offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Steps {
    line: Line,
    next: u64,
    end: u64,
}

impl Steps {
    /// No steps.
    pub const EMPTY: Steps = Steps {
        line: Line {
            start_steps: 0.0,
            samples_per_step: 1.0,
        },
        next: 0,
        end: 0,
    };

    /// The step indices still to come.
    pub fn indices(&self) -> Range<u64> {
        self.next..self.end
    }
}

impl Iterator for Steps {
    type Item = ScheduledStep;

    fn next(&mut self) -> Option<ScheduledStep> {
        if self.next >= self.end {
            return None;
        }
        let step = self.next;
        self.next += 1;
        // Below `len` by the range's construction. Below 0 only when a `Clock` resumes a run from
        // a step the host's position has just passed: that step is due now, on the first sample.
        let offset = self.line.offset(step).max(0.0) as u32;
        Some(ScheduledStep { step, offset })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.end - self.next).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Steps {}
impl FusedIterator for Steps {}

/// The steps that start inside a block: each boundary `k / steps_per_quarter` whose sample
/// `ceil(x − SNAP_SAMPLES)` lies in `0..len`, in order. Nothing when the transport is stopped or
/// the timing is unusable (see [`BlockTiming`]); boundaries before the song's zero are skipped.
///
/// Stateless. Over consecutive blocks whose host positions continue each other to within float
/// rounding it emits every step exactly once; for hosts that are coarser than that, drive a
/// [`Clock`] instead (see the module documentation).
pub fn steps_in_block(timing: BlockTiming, grid: StepGrid) -> Steps {
    match Line::new(&timing, grid) {
        Some(line) if timing.playing => {
            let Range { start, end } = line.steps(timing.len);
            Steps {
                line,
                next: start,
                end,
            }
        }
        _ => Steps::EMPTY,
    }
}

/// Where a sample lies relative to the grid: its nearest boundary, and how far from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepPosition {
    /// The step whose boundary is nearest (ties go to the later step, as in [`StepGrid::step_at`]).
    pub step: u64,
    /// The distance from that boundary in steps, in `[-0.5, 0.5)`: negative when the sample comes
    /// before it (a note played early). Below −0.5 only before the song's zero, where the nearest
    /// step is still 0.
    pub fraction: f64,
}

/// The step a live note played on sample `offset` of a block belongs to: the nearest boundary,
/// and how early or late the note is against it. The inverse of the emission rule: a note played
/// on the very sample where a step was emitted maps to that step, with a fraction in
/// `[0, 1 / samples_per_step)` (give or take the snap). Unusable timings map everything to step 0.
pub fn step_at_sample(timing: &BlockTiming, offset: u32, grid: StepGrid) -> StepPosition {
    let Some(line) = Line::new(timing, grid) else {
        return StepPosition {
            step: 0,
            fraction: 0.0,
        };
    };
    let position = line.start_steps + f64::from(offset) / line.samples_per_step;
    let nearest = (position + 0.5).floor().max(0.0);
    StepPosition {
        step: nearest as u64,
        fraction: position - nearest,
    }
}

/// A change in how the song moves, reported at the start of the block where it is seen (offset
/// 0). Every event ends the steps the engine may have generated ahead: they belonged to a
/// continuation that is not going to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportEvent {
    /// A run of steps begins (the host started, or free running began), with `step` the first
    /// step it will emit.
    Started { step: u64 },
    /// The run ended: no steps until the next `Started`. Sounding notes should be released.
    Stopped,
    /// The playhead moved other than by playing. `from_step` is the step that would have come
    /// next, `to_step` the one that comes next now.
    Jump { from_step: u64, to_step: u64 },
    /// A jump that matches the host's loop wrapping from its end back to its start.
    Loop { from_step: u64, to_step: u64 },
}

/// The (at most two) transport events of one block, in order: a fixed array, so no allocation.
/// Two happen together only when a run hands over to another (`Stopped`, then `Started`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportEvents {
    slots: [Option<TransportEvent>; 2],
}

impl TransportEvents {
    fn push(&mut self, event: TransportEvent) {
        let free = self.slots.iter_mut().find(|slot| slot.is_none());
        debug_assert!(
            free.is_some(),
            "more than two transport events in one block"
        );
        if let Some(slot) = free {
            *slot = Some(event);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = TransportEvent> + '_ {
        self.slots.iter().flatten().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.slots[0].is_none()
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }
}

impl IntoIterator for TransportEvents {
    type Item = TransportEvent;
    type IntoIter = std::iter::Flatten<std::array::IntoIter<Option<TransportEvent>, 2>>;

    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().flatten()
    }
}

/// What to do in one block: handle `events` first (they happen at the block's first sample), then
/// start the `steps` on their offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockPlan {
    pub events: TransportEvents,
    pub steps: Steps,
    /// The timeline the steps were placed on, for [`step_at_sample`]; `None` while nothing plays.
    pub timing: Option<BlockTiming>,
}

impl BlockPlan {
    fn silent(events: TransportEvents) -> Self {
        Self {
            events,
            steps: Steps::EMPTY,
            timing: None,
        }
    }
}

/// The audio thread's clock: turns successive blocks into [`BlockPlan`]s, emitting every step of
/// a run exactly once and reporting where the song stops being continuous.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    grid: StepGrid,
    run: Run,
    /// The first step of the current run not yet emitted (where a new free run starts).
    next_step: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Run {
    Idle,
    /// Following the host; `last` is the previous block, which predicts where this one starts.
    Synced {
        last: BlockTiming,
    },
    /// On the clock's own counter: the song position is `anchor_quarters` plus
    /// `samples_since_anchor` samples at `tempo_bpm`. Re-anchored when the tempo or the sample rate
    /// changes, so a position is always one product away from an integer count of samples and
    /// never a long sum of rounded block lengths.
    Free {
        anchor_quarters: f64,
        samples_since_anchor: u64,
        sample_rate: f64,
        tempo_bpm: f64,
    },
}

impl Default for Clock {
    fn default() -> Self {
        Self::new(StepGrid::default())
    }
}

impl Clock {
    pub fn new(grid: StepGrid) -> Self {
        Self {
            grid,
            run: Run::Idle,
            next_step: 0,
        }
    }

    pub fn grid(&self) -> StepGrid {
        self.grid
    }

    /// The first step not yet emitted.
    pub fn next_step(&self) -> u64 {
        self.next_step
    }

    /// Whether a run is under way (the last block played).
    pub fn is_running(&self) -> bool {
        self.run != Run::Idle
    }

    /// Back to idle at step 0, without an event (for the plugin's reset, when nothing sounds).
    pub fn reset(&mut self) {
        self.run = Run::Idle;
        self.next_step = 0;
    }

    /// Follows the host through one block. A stopped transport (or an unusable timing) emits no
    /// steps, and `Stopped` if a run was under way: nothing plays before the transport does.
    /// A playing block that continues the previous one emits from the next step not yet emitted;
    /// one that does not is reported as `Started`, `Jump` or `Loop`, and emits from its own first
    /// step.
    ///
    /// "Continues" means the host's position is within a tolerance of the previous block's
    /// [`BlockTiming::end_quarters`] (see [`Clock::continuity_tolerance`]). A jump that leaves
    /// the next step unchanged (a nudge that crosses no boundary) is not reported: nothing the
    /// engine planned is wrong.
    pub fn advance(&mut self, timing: BlockTiming) -> BlockPlan {
        let line = match Line::new(&timing, self.grid) {
            Some(line) if timing.playing => line,
            _ => return self.stop(),
        };
        let Range { start, end } = line.steps(timing.len);
        let mut events = TransportEvents::default();
        let first = match self.run {
            Run::Synced { last } => {
                let expected = last.end_quarters();
                let tolerance = Self::continuity_tolerance(&last, &timing);
                if (timing.start_quarters - expected).abs() <= tolerance {
                    self.next_step
                } else {
                    let (from_step, to_step) = (self.next_step, start);
                    if from_step != to_step {
                        events.push(if wraps_loop(&last, &timing, expected, tolerance) {
                            TransportEvent::Loop { from_step, to_step }
                        } else {
                            TransportEvent::Jump { from_step, to_step }
                        });
                    }
                    start
                }
            }
            Run::Free { .. } => {
                events.push(TransportEvent::Stopped);
                events.push(TransportEvent::Started { step: start });
                start
            }
            Run::Idle => {
                events.push(TransportEvent::Started { step: start });
                start
            }
        };
        let steps = Steps {
            line,
            next: first,
            // Only when resuming from `next_step` can `first` exceed `end`: the host fell
            // slightly behind, and the step it is about to reach was already emitted.
            end: end.max(first),
        };
        self.next_step = steps.end;
        self.run = Run::Synced { last: timing };
        BlockPlan {
            events,
            steps,
            timing: Some(timing),
        }
    }

    /// How far (in quarters) a block's start may stray from the previous block's predicted end and
    /// still continue it: half a sample, plus whatever a tempo change between the two blocks can
    /// explain.
    ///
    /// Half a sample, because two honest positions of the same sample differ only by rounding
    /// (≪ a sample), while a position half a sample away names another sample. The tempo term,
    /// because the prediction assumes the previous block's tempo held to its end, and a host whose
    /// tempo changed or ramped inside that block advanced at up to the new tempo: the prediction
    /// can be off by `len · |Δtempo|` worth of samples without anything having jumped. A
    /// discrepancy this small moves the steps by at most that much; the step counter still emits
    /// each one once.
    pub fn continuity_tolerance(last: &BlockTiming, now: &BlockTiming) -> f64 {
        let half_sample = 0.5 / last.samples_per_quarter().min(now.samples_per_quarter());
        let tempo_change = f64::from(last.len) * (now.tempo_bpm - last.tempo_bpm).abs()
            / (60.0 * last.sample_rate);
        half_sample + tempo_change
    }

    /// Runs one block on the clock's own counter at `tempo_bpm`, for a stopped host or no host
    /// at all. The same rule places the steps; the position is the clock's own, so the blocks are
    /// continuous by construction and only the start of free running is an event (`Started`,
    /// after `Stopped` if the host was playing). Free running starts on the clock's next step,
    /// on the first sample of the block, so the melody goes on from where the last run stopped.
    /// A tempo or sample-rate change takes effect at this block's first sample. An unusable
    /// sample rate or tempo stops the clock, as in [`Clock::advance`].
    pub fn advance_free(&mut self, sample_rate: f64, len: u32, tempo_bpm: f64) -> BlockPlan {
        let steps_per_quarter = f64::from(self.grid.steps_per_quarter);
        let mut events = TransportEvents::default();
        let (anchor_quarters, samples_since_anchor) = match self.run {
            Run::Free {
                anchor_quarters,
                samples_since_anchor,
                sample_rate: anchor_rate,
                tempo_bpm: anchor_tempo,
            } => {
                if anchor_rate == sample_rate && anchor_tempo == tempo_bpm {
                    (anchor_quarters, samples_since_anchor)
                } else {
                    let elapsed =
                        samples_to_quarters(samples_since_anchor as f64, anchor_rate, anchor_tempo);
                    (anchor_quarters + elapsed, 0)
                }
            }
            Run::Synced { .. } | Run::Idle => {
                if self.run != Run::Idle {
                    events.push(TransportEvent::Stopped);
                }
                events.push(TransportEvent::Started {
                    step: self.next_step,
                });
                (self.next_step as f64 / steps_per_quarter, 0)
            }
        };
        let start_quarters = anchor_quarters
            + samples_to_quarters(samples_since_anchor as f64, sample_rate, tempo_bpm);
        let timing = BlockTiming::new(sample_rate, len, tempo_bpm, start_quarters);
        let Some(line) = Line::new(&timing, self.grid) else {
            return self.stop();
        };
        let steps = Steps {
            line,
            next: self.next_step,
            end: line.first_step_from(f64::from(len)).max(self.next_step),
        };
        self.next_step = steps.end;
        self.run = Run::Free {
            anchor_quarters,
            samples_since_anchor: samples_since_anchor + u64::from(len),
            sample_rate,
            tempo_bpm,
        };
        BlockPlan {
            events,
            steps,
            timing: Some(timing),
        }
    }

    fn stop(&mut self) -> BlockPlan {
        let mut events = TransportEvents::default();
        if self.run != Run::Idle {
            events.push(TransportEvent::Stopped);
        }
        self.run = Run::Idle;
        BlockPlan::silent(events)
    }
}

/// Whether a discontinuity is the host's loop wrapping: the song was due to reach the loop's end
/// (`expected` at or past it), and the new position is the loop's start plus however far past the
/// end the song was due to be (zero for a host that splits blocks at the loop's end, the
/// overshoot for one that wraps mid-block).
fn wraps_loop(last: &BlockTiming, now: &BlockTiming, expected: f64, tolerance: f64) -> bool {
    let Some((loop_start, loop_end)) = last.loop_quarters.or(now.loop_quarters) else {
        return false;
    };
    let overshoot = expected - loop_end;
    loop_end > loop_start
        && overshoot >= -tolerance
        && (now.start_quarters - (loop_start + overshoot)).abs() <= tolerance
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;

    const SIXTEENTHS: StepGrid = StepGrid::SIXTEENTHS;

    /// An exact timeline at a constant tempo, in integers: step `k` starts at sample
    /// `k · num / den` (samples per step = `sample_rate · 60 / (tempo · spq)` with the tempo in
    /// hundredths of a BPM).
    struct Exact {
        num: i128,
        den: i128,
    }

    impl Exact {
        fn new(sample_rate: u32, tempo_centi: u32, steps_per_quarter: u32) -> Self {
            Self {
                num: i128::from(sample_rate) * 6000,
                den: i128::from(tempo_centi) * i128::from(steps_per_quarter),
            }
        }

        /// How late `sample` is for step `step`'s boundary, in samples (negative: early).
        fn lateness(&self, step: u64, sample: u64) -> f64 {
            let late = i128::from(sample) * self.den - i128::from(step) * self.num;
            late as f64 / self.den as f64
        }
    }

    /// Checks that steps come once each, in order from `next`, each on a sample at most `early`
    /// samples before its exact boundary and less than `1 + late` samples after it.
    struct Tally<'a> {
        exact: &'a Exact,
        next: u64,
        early: f64,
        late: f64,
    }

    impl Tally<'_> {
        fn see(&mut self, step: ScheduledStep, block_start: u64, len: u32) {
            assert!(step.offset < len, "{step:?} outside a block of {len}");
            assert_eq!(step.step, self.next, "steps lost or repeated");
            self.next += 1;
            let late = self
                .exact
                .lateness(step.step, block_start + u64::from(step.offset));
            assert!(
                late >= -self.early && late < 1.0 + self.late,
                "step {} is {late} samples late",
                step.step
            );
        }

        /// After `total` samples: the first step not emitted is not yet due.
        fn finish(&self, total: u64) {
            assert!(self.exact.lateness(self.next, total - 1) < self.late);
        }
    }

    /// How a simulated host computes each block's position.
    #[derive(Debug, Clone, Copy)]
    enum Host {
        /// `start + len / samples_per_quarter`, summed in `f64` block after block.
        Accumulates,
        /// Its integer sample counter divided by samples per quarter.
        CountsSamples,
        /// Like `CountsSamples`, rounded to CLAP's fixed point (2⁻³¹ quarter).
        ClapFixedPoint,
        /// Like `CountsSamples`, off by up to ±0.2 samples at random.
        Jitters,
    }

    impl Host {
        fn position(self, previous: &BlockTiming, elapsed: u64, rng: &mut Rng) -> f64 {
            let spq = previous.samples_per_quarter();
            let counted = elapsed as f64 / spq;
            match self {
                Host::Accumulates => previous.end_quarters(),
                Host::CountsSamples => counted,
                Host::ClapFixedPoint => (counted * 2f64.powi(31)).round() / 2f64.powi(31),
                Host::Jitters => counted + (rng.uniform() - 0.5) * 0.4 / spq,
            }
        }

        /// How far off the exact position its reports may be, in samples (at the slowest tempo
        /// and highest rate the tests use, 20 BPM at 96 kHz).
        fn error(self) -> f64 {
            match self {
                Host::Accumulates | Host::CountsSamples => 1e-6,
                Host::ClapFixedPoint => 0.5 * 288_000.0 / 2f64.powi(31) + 1e-6,
                Host::Jitters => 0.2 + 1e-6,
            }
        }
    }

    /// Plays `seconds` of audio at a constant tempo in random blocks of `1..=max_len` samples
    /// through a `Clock` (and, when `stateless`, through `steps_in_block` alone), checking every
    /// step's index and sample.
    #[allow(clippy::too_many_arguments)]
    fn play_constant_tempo(
        sample_rate: u32,
        tempo_centi: u32,
        steps_per_quarter: u32,
        host: Host,
        max_len: u32,
        seconds: u32,
        seed: u64,
        stateless: bool,
    ) {
        let grid = StepGrid::new(steps_per_quarter);
        let exact = Exact::new(sample_rate, tempo_centi, steps_per_quarter);
        let tempo = f64::from(tempo_centi) / 100.0;
        let early = SNAP_SAMPLES + host.error();
        let mut by_clock = Tally {
            exact: &exact,
            next: 0,
            early,
            late: host.error(),
        };
        let mut by_block = Tally {
            exact: &exact,
            next: 0,
            early,
            late: 1e-6,
        };
        let mut rng = Rng::new(seed);
        let mut clock = Clock::new(grid);
        let total = u64::from(sample_rate) * u64::from(seconds);
        let (mut elapsed, mut start) = (0u64, 0.0);
        while elapsed < total {
            let len = 1 + rng.below(max_len as usize) as u32;
            let timing = BlockTiming::new(f64::from(sample_rate), len, tempo, start);
            if stateless {
                for step in steps_in_block(timing, grid) {
                    by_block.see(step, elapsed, len);
                    // A note played on the sample where a step starts belongs to that step.
                    let at = step_at_sample(&timing, step.offset, grid);
                    let per_step = samples_per_step(timing.sample_rate, tempo, grid);
                    assert_eq!(at.step, step.step);
                    assert!(at.fraction >= -(SNAP_SAMPLES + 1e-6) / per_step);
                    assert!(at.fraction < 1.0 / per_step + 1e-9);
                }
            }
            let plan = clock.advance(timing);
            let expected_events: &[TransportEvent] = if elapsed == 0 {
                &[TransportEvent::Started { step: 0 }]
            } else {
                &[]
            };
            assert!(plan.events.iter().eq(expected_events.iter().copied()));
            assert_eq!(
                plan.steps.len() as u64,
                plan.steps.indices().end - plan.steps.indices().start
            );
            for step in plan.steps {
                by_clock.see(step, elapsed, len);
            }
            elapsed += u64::from(len);
            start = host.position(&timing, elapsed, &mut rng);
        }
        by_clock.finish(total);
        if stateless {
            by_block.finish(total);
            assert_eq!(by_block.next, by_clock.next);
        }
    }

    #[test]
    fn helpers_follow_their_definitions() {
        assert_eq!(samples_per_quarter(48_000.0, 120.0), 24_000.0);
        assert_eq!(samples_per_step(48_000.0, 120.0, SIXTEENTHS), 6000.0);
        assert_eq!(samples_per_step(48_000.0, 300.0, StepGrid::new(16)), 600.0);
        assert_eq!(quarters_to_samples(1.5, 48_000.0, 120.0), 36_000.0);
        assert_eq!(samples_to_quarters(36_000.0, 48_000.0, 120.0), 1.5);
        assert_eq!(
            BlockTiming::new(48_000.0, 12_000, 120.0, 1.0).end_quarters(),
            1.5
        );
    }

    #[test]
    fn a_bar_at_120_bpm_48k_in_sixteenths_is_a_step_every_6000_samples() {
        let bar = BlockTiming::new(48_000.0, 96_000, 120.0, 0.0);
        let steps: Vec<_> = steps_in_block(bar, SIXTEENTHS).collect();
        let expected: Vec<_> = (0..16)
            .map(|k| ScheduledStep {
                step: k,
                offset: 6000 * k as u32,
            })
            .collect();
        assert_eq!(steps, expected);

        // The same bar in 256-sample blocks, the host summing its position: the same samples.
        let mut clock = Clock::new(SIXTEENTHS);
        let (mut timing, mut samples) = (BlockTiming::new(48_000.0, 256, 120.0, 0.0), Vec::new());
        for block in 0..96_000 / 256 {
            for step in clock.advance(timing).steps {
                samples.push((step.step, block * 256 + u64::from(step.offset)));
            }
            timing.start_quarters = timing.end_quarters();
        }
        assert_eq!(samples, (0..16).map(|k| (k, 6000 * k)).collect::<Vec<_>>());
    }

    #[test]
    fn a_boundary_on_the_first_sample_is_at_offset_0_and_one_between_samples_on_the_next() {
        let on_step_4 = BlockTiming::new(48_000.0, 6000, 120.0, 1.0);
        let first = steps_in_block(on_step_4, SIXTEENTHS).next();
        assert_eq!(first, Some(ScheduledStep { step: 4, offset: 0 }));
        // One sample later, step 4 belongs to the block before and step 5 is not yet due.
        let after = BlockTiming {
            start_quarters: 1.0 + 1.0 / 24_000.0,
            len: 5999, // step 5 is on its sample 5999
            ..on_step_4
        };
        assert_eq!(steps_in_block(after, SIXTEENTHS).count(), 0);
        // A float hair before or after the boundary changes nothing.
        for start in [1.0 - 1e-12, 1.0 + 1e-12] {
            let steps: Vec<_> = steps_in_block(
                BlockTiming {
                    start_quarters: start,
                    ..on_step_4
                },
                SIXTEENTHS,
            )
            .collect();
            assert_eq!(steps, [ScheduledStep { step: 4, offset: 0 }]);
        }
        // 128 BPM at 44.1 kHz: 5167.96875 samples a step, so step 1 sounds on sample 5168.
        let block = BlockTiming::new(44_100.0, 10_336, 128.0, 0.0);
        let offsets: Vec<_> = steps_in_block(block, SIXTEENTHS)
            .map(|s| s.offset)
            .collect();
        assert_eq!(offsets, [0, 5168]); // step 2, at 10335.9375, sounds on 10336: the next block
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Ten minutes in random blocks of 1..=4096 samples (or ten seconds of 1..=32), at
        /// musical tempi or any from 20 to 400 BPM: both the stateless rule and the clock emit
        /// every step exactly once, in order, on its exact sample rounded up (at most
        /// `SNAP_SAMPLES` early), and a note played on that sample maps back to that step.
        #[test]
        fn random_blocks_emit_every_step_once_on_its_sample(
            sample_rate in prop::sample::select(vec![44_100u32, 48_000, 96_000]),
            tempo_centi in prop_oneof![prop::sample::select(vec![
                6000u32, 7111, 8750, 9000, 9730, 10_000, 12_000, 12_345, 12_800, 13_333, 14_000,
                17_400, 20_000, 30_000,
            ]), 2000u32..=40_000],
            steps_per_quarter in prop::sample::select(vec![1u32, 2, 3, 4, 6, 8, 12, 16]),
            host in prop::sample::select(vec![Host::Accumulates, Host::CountsSamples]),
            tiny in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let (max_len, seconds) = if tiny { (32, 10) } else { (4096, 600) };
            play_constant_tempo(
                sample_rate, tempo_centi, steps_per_quarter, host, max_len, seconds, seed, true,
            );
        }

        /// Any tempo from 20 to 400 BPM, hosts whose positions are coarse (CLAP's fixed point) or
        /// jitter by ±0.2 samples: the clock still emits every step once, in order, no later
        /// than the host's error allows, and reports no discontinuity.
        #[test]
        fn the_clock_emits_every_step_once_whatever_the_host(
            sample_rate in prop::sample::select(vec![44_100u32, 48_000, 96_000]),
            tempo_centi in 2000u32..=40_000,
            steps_per_quarter in 1u32..=16,
            host in prop::sample::select(vec![
                Host::Accumulates, Host::CountsSamples, Host::ClapFixedPoint, Host::Jitters,
            ]),
            max_len in 1u32..=4096,
            seed in any::<u64>(),
        ) {
            let seconds = if max_len < 64 { 10 } else { 120 };
            play_constant_tempo(
                sample_rate, tempo_centi, steps_per_quarter, host, max_len, seconds, seed, false,
            );
        }
    }

    /// Random block lengths, with a block boundary forced at sample `cut`.
    fn lens_cut_at(seed: u64, total: u64, cut: u64) -> Vec<u32> {
        let mut rng = Rng::new(seed);
        let (mut lens, mut at) = (Vec::new(), 0u64);
        while at < total {
            let mut len = 1 + rng.below(4096) as u64;
            if at < cut && at + len > cut {
                len = cut - at;
            }
            lens.push(len as u32);
            at += len;
        }
        lens
    }

    #[test]
    fn a_tempo_change_takes_effect_at_the_block_boundary() {
        // 120 BPM (6000 samples a step) up to sample 99 000 = quarter 4.125 = step 16.5, then
        // 150 BPM (4800): step 17 at 99 000 + 0.5 · 4800, and every 4800 samples after.
        let expected = |k: u64| {
            if k <= 16 {
                6000 * k
            } else {
                101_400 + 4800 * (k - 17)
            }
        };
        for seed in 0..20 {
            let mut clock = Clock::new(SIXTEENTHS);
            let (mut at, mut seen) = (0u64, Vec::new());
            let mut timing = BlockTiming::new(48_000.0, 0, 120.0, 0.0);
            for len in lens_cut_at(seed, 400_000, 99_000) {
                timing.len = len;
                timing.tempo_bpm = if at < 99_000 { 120.0 } else { 150.0 };
                let plan = clock.advance(timing);
                assert_eq!(plan.events.is_empty(), at > 0, "a tempo change is no jump");
                seen.extend(plan.steps.map(|s| (s.step, at + u64::from(s.offset))));
                at += u64::from(len);
                timing.start_quarters = timing.end_quarters();
            }
            let want: Vec<_> = (0..seen.len() as u64).map(|k| (k, expected(k))).collect();
            assert_eq!(seen, want);
            assert_eq!(seen.len(), 17 + (400_000 - 101_400) / 4800 + 1);
        }
    }

    #[test]
    fn a_tempo_ramp_is_not_a_jump() {
        // The tempo rises 15 BPM a second from 100 (to 400 in 20 s); the host integrates it
        // exactly and reports the tempo at each block's start, so each block's start is off the
        // previous block's prediction by up to ½·15·(4096/48 000)²/60 quarters, about 13 samples:
        // many of those moves cross a boundary of the 64th-note grid. Only the tolerance's tempo
        // term keeps them from being reported as jumps.
        let (sample_rate, t0, rise) = (48_000.0, 100.0, 15.0);
        let grid = StepGrid::new(16);
        let position = |t: f64| (t0 * t + 0.5 * rise * t * t) / 60.0;
        let time_of = |quarters: f64| ((t0 * t0 + 2.0 * rise * 60.0 * quarters).sqrt() - t0) / rise;
        for seed in 0..4 {
            let mut rng = Rng::new(seed);
            let mut clock = Clock::new(grid);
            let (mut at, mut next) = (0u64, 0u64);
            while at < 20 * 48_000 {
                let t = at as f64 / sample_rate;
                let len = 1 + rng.below(4096) as u32;
                let timing = BlockTiming::new(sample_rate, len, t0 + rise * t, position(t));
                let plan = clock.advance(timing);
                assert_eq!(plan.events.is_empty(), at > 0, "{:?}", plan.events);
                for step in plan.steps {
                    assert_eq!(step.step, next);
                    next += 1;
                    let exact = time_of(step.step as f64 / 16.0) * sample_rate;
                    let error = (at + u64::from(step.offset)) as f64 - exact;
                    assert!(
                        error.abs() < 32.0,
                        "step {} off by {error} samples",
                        step.step
                    );
                }
                at += u64::from(len);
            }
            // All the boundaries up to the end of the last block, give or take the last one.
            let boundaries = position(at as f64 / sample_rate) * 16.0;
            assert!(
                (next as f64 - boundaries).abs() <= 1.0,
                "{next} steps for {boundaries}"
            );
        }
    }

    /// Plays a host that loops `(0, 8)` quarters at 120 BPM, 48 kHz, in blocks of `len` (split at
    /// the loop's end when `splits`), and returns each block's events and steps.
    fn play_loop(len: u32, splits: bool, blocks: usize) -> Vec<(Vec<TransportEvent>, Vec<u64>)> {
        let loop_len = 192_000u64;
        let mut clock = Clock::new(SIXTEENTHS);
        let mut position = 0u64; // in samples, inside the loop
        let mut out = Vec::new();
        for _ in 0..blocks {
            let len = if splits {
                u64::from(len).min(loop_len - position)
            } else {
                u64::from(len)
            };
            let timing = BlockTiming {
                loop_quarters: Some((0.0, 8.0)),
                ..BlockTiming::new(48_000.0, len as u32, 120.0, position as f64 / 24_000.0)
            };
            let plan = clock.advance(timing);
            out.push((
                plan.events.iter().collect(),
                plan.steps.map(|s| s.step).collect(),
            ));
            position = (position + len) % loop_len;
        }
        out
    }

    #[test]
    fn a_loop_from_8_back_to_0_is_reported_and_the_steps_restart_at_0() {
        let blocks = play_loop(1000, true, 700); // three and a half passes
        let steps: Vec<u64> = blocks.iter().flat_map(|(_, s)| s.iter().copied()).collect();
        let passes: Vec<_> = steps.chunks(32).collect();
        assert!(passes.len() >= 3);
        for pass in &passes[..3] {
            assert_eq!(pass.to_vec(), (0..32).collect::<Vec<_>>());
        }
        let events: Vec<_> = blocks.iter().flat_map(|(e, _)| e.iter().copied()).collect();
        assert_eq!(events[0], TransportEvent::Started { step: 0 });
        assert!(
            events.len() == 4
                && events[1..].iter().all(|e| *e
                    == TransportEvent::Loop {
                        from_step: 32,
                        to_step: 0
                    })
        );
        // The wrap is reported in the block that starts the loop again, before its steps.
        let wrap = blocks
            .iter()
            .position(|(e, _)| e.len() == 1 && matches!(e[0], TransportEvent::Loop { .. }))
            .unwrap();
        assert_eq!(blocks[wrap].1.first(), Some(&0));
    }

    #[test]
    fn a_loop_wrapped_inside_a_block_is_still_a_loop() {
        // 700-sample blocks do not divide the 192 000-sample loop: the block [191 800, 192 500)
        // plays on past the loop end (step 32 at 192 000, the documented limit) and the host
        // starts the next block 500 samples into the loop, where the next boundary is step 1.
        let blocks = play_loop(700, false, 300);
        let events: Vec<_> = blocks.iter().flat_map(|(e, _)| e.iter().copied()).collect();
        assert_eq!(
            events,
            [
                TransportEvent::Started { step: 0 },
                TransportEvent::Loop {
                    from_step: 33,
                    to_step: 1
                }
            ]
        );
    }

    #[test]
    fn jumps_are_reported_and_steps_go_on_from_the_new_position() {
        let mut clock = Clock::new(SIXTEENTHS);
        let mut timing = BlockTiming::new(48_000.0, 512, 120.0, 0.0);
        for _ in 0..200 {
            clock.advance(timing);
            timing.start_quarters = timing.end_quarters();
        }
        let from_step = clock.next_step();
        assert_eq!(from_step, 18); // 102 400 samples played: steps 0..=17
        // Forward to quarter 64 (step 256), even with a loop set elsewhere.
        timing.start_quarters = 64.0;
        timing.loop_quarters = Some((0.0, 8.0));
        let plan = clock.advance(timing);
        assert!(plan.events.iter().eq([TransportEvent::Jump {
            from_step,
            to_step: 256
        }]));
        assert_eq!(
            plan.steps.collect::<Vec<_>>(),
            [ScheduledStep {
                step: 256,
                offset: 0
            }]
        );
        // Back to a position between steps: the next boundary, step 9 at quarter 2.25.
        timing.start_quarters = 2.2;
        let plan = clock.advance(timing);
        assert!(plan.events.iter().eq([TransportEvent::Jump {
            from_step: 257,
            to_step: 9
        }]));
        assert_eq!(plan.steps.count(), 0); // step 9 is 1200 samples away
        timing.start_quarters = timing.end_quarters();
        timing.len = 1024;
        let steps: Vec<_> = clock.advance(timing).steps.collect();
        assert_eq!(
            steps,
            [ScheduledStep {
                step: 9,
                offset: 1200 - 512
            }]
        );
    }

    #[test]
    fn a_nudge_that_crosses_no_boundary_is_not_reported() {
        let mut clock = Clock::new(SIXTEENTHS);
        let mut timing = BlockTiming::new(48_000.0, 1000, 120.0, 0.0);
        assert_eq!(clock.advance(timing).steps.count(), 1); // step 0
        // 100 samples further than expected: step 1 is still next, 100 samples earlier.
        timing.start_quarters = 1100.0 / 24_000.0;
        timing.len = 5000;
        let plan = clock.advance(timing);
        assert!(plan.events.is_empty());
        assert_eq!(
            plan.steps.collect::<Vec<_>>(),
            [ScheduledStep {
                step: 1,
                offset: 4900
            }]
        );
    }

    #[test]
    fn a_stopped_transport_emits_nothing_and_start_and_stop_are_reported() {
        let mut clock = Clock::new(SIXTEENTHS);
        let stopped = BlockTiming {
            playing: false,
            ..BlockTiming::new(48_000.0, 48_000, 120.0, 0.0)
        };
        for _ in 0..3 {
            let plan = clock.advance(stopped);
            assert!(plan.events.is_empty() && plan.steps.count() == 0 && plan.timing.is_none());
            assert_eq!(steps_in_block(stopped, SIXTEENTHS).count(), 0);
        }
        let playing = BlockTiming {
            playing: true,
            start_quarters: 1.5,
            ..stopped
        };
        let plan = clock.advance(playing);
        assert!(plan.events.iter().eq([TransportEvent::Started { step: 6 }]));
        assert_eq!(plan.steps.indices(), 6..14);
        assert!(clock.is_running());
        let plan = clock.advance(BlockTiming {
            start_quarters: 3.5,
            ..stopped
        });
        assert!(plan.events.iter().eq([TransportEvent::Stopped]) && plan.steps.count() == 0);
        assert!(clock.advance(stopped).events.is_empty());
        assert!(!clock.is_running());
    }

    #[test]
    fn a_count_in_before_zero_emits_nothing_until_step_0() {
        let mut clock = Clock::new(SIXTEENTHS);
        let mut timing = BlockTiming::new(48_000.0, 1000, 120.0, -1.0);
        let mut seen = Vec::new();
        for block in 0..40u64 {
            let plan = clock.advance(timing);
            assert_eq!(plan.events.is_empty(), block > 0);
            seen.extend(
                plan.steps
                    .map(|s| (s.step, block * 1000 + u64::from(s.offset))),
            );
            timing.start_quarters = timing.end_quarters();
        }
        assert_eq!(seen, [(0, 24_000), (1, 30_000), (2, 36_000)]);
    }

    #[test]
    fn unusable_timings_emit_nothing() {
        let good = BlockTiming::new(48_000.0, 4800, 120.0, 0.0);
        let bad = [
            BlockTiming {
                tempo_bpm: 0.0,
                ..good
            },
            BlockTiming {
                tempo_bpm: -120.0,
                ..good
            },
            BlockTiming {
                tempo_bpm: f64::NAN,
                ..good
            },
            BlockTiming {
                sample_rate: 0.0,
                ..good
            },
            BlockTiming {
                start_quarters: f64::NAN,
                ..good
            },
            BlockTiming {
                start_quarters: f64::INFINITY,
                ..good
            },
            BlockTiming {
                start_quarters: 1e300,
                ..good
            },
        ];
        let mut clock = Clock::new(SIXTEENTHS);
        for timing in bad {
            assert_eq!(steps_in_block(timing, SIXTEENTHS).count(), 0);
            let plan = clock.advance(timing);
            assert!(plan.events.is_empty() && plan.steps.count() == 0);
            assert_eq!(step_at_sample(&timing, 10, SIXTEENTHS).step, 0);
            if !(timing.tempo_bpm > 0.0 && timing.sample_rate > 0.0) {
                let plan = clock.advance_free(timing.sample_rate, 4800, timing.tempo_bpm);
                assert!(plan.events.is_empty() && plan.steps.count() == 0);
            }
        }
        // A free run that meets an unusable tempo stops, and says so.
        clock.advance_free(48_000.0, 4800, 120.0);
        let plan = clock.advance_free(48_000.0, 4800, 0.0);
        assert!(plan.events.iter().eq([TransportEvent::Stopped]) && plan.steps.count() == 0);
        assert_eq!(
            steps_in_block(BlockTiming { len: 0, ..good }, SIXTEENTHS).count(),
            0
        );
    }

    fn play_free(
        sample_rate: u32,
        tempo: f64,
        steps_per_quarter: u32,
        seconds: u64,
        seed: u64,
    ) -> Vec<(u64, u64)> {
        let mut clock = Clock::new(StepGrid::new(steps_per_quarter));
        let mut rng = Rng::new(seed);
        let (mut at, mut seen) = (0u64, Vec::new());
        while at < seconds * u64::from(sample_rate) {
            let len = 1 + rng.below(4096) as u32;
            let plan = clock.advance_free(f64::from(sample_rate), len, tempo);
            assert_eq!(plan.events.is_empty(), at > 0);
            seen.extend(plan.steps.map(|s| (s.step, at + u64::from(s.offset))));
            at += u64::from(len);
        }
        seen.retain(|&(_, at)| at < seconds * u64::from(sample_rate));
        seen
    }

    #[test]
    fn free_running_at_300_bpm_in_16_steps_a_quarter_is_exact_over_ten_minutes() {
        // 80 steps a second: 600 samples a step at 48 kHz, 551.25 at 44.1 kHz.
        let seen = play_free(48_000, 300.0, 16, 600, 5);
        assert_eq!(seen.len(), 48_000);
        assert!(
            seen.iter()
                .enumerate()
                .all(|(k, &(step, at))| step == k as u64 && at == 600 * step)
        );
        let seen = play_free(44_100, 300.0, 16, 600, 6);
        assert_eq!(seen.len(), 48_000);
        let ceil_551_25 = |k: u64| (k * 2205).div_ceil(4);
        assert!(
            seen.iter()
                .enumerate()
                .all(|(k, &(step, at))| step == k as u64 && at == ceil_551_25(step))
        );
    }

    #[test]
    fn free_running_changes_tempo_on_a_block_and_hands_over_to_the_host_and_back() {
        let mut clock = Clock::new(SIXTEENTHS);
        let (mut at, mut seen) = (0u64, Vec::new());
        for len in lens_cut_at(3, 400_000, 99_000) {
            let tempo = if at < 99_000 { 120.0 } else { 150.0 };
            let plan = clock.advance_free(48_000.0, len, tempo);
            assert_eq!(plan.events.is_empty(), at > 0);
            seen.extend(plan.steps.map(|s| (s.step, at + u64::from(s.offset))));
            at += u64::from(len);
        }
        let expected = |k: u64| {
            if k <= 16 {
                6000 * k
            } else {
                101_400 + 4800 * (k - 17)
            }
        };
        assert!(
            seen.iter()
                .enumerate()
                .all(|(k, &(step, at))| step == k as u64 && at == expected(step))
        );

        // The host starts playing at quarter 16: the free run stops, the host's run starts.
        let next = clock.next_step();
        let plan = clock.advance(BlockTiming::new(48_000.0, 512, 120.0, 16.0));
        assert!(plan.events.iter().eq([
            TransportEvent::Stopped,
            TransportEvent::Started { step: 64 }
        ]));
        assert_eq!(
            plan.steps.collect::<Vec<_>>(),
            [ScheduledStep {
                step: 64,
                offset: 0
            }]
        );
        assert_ne!(next, 64);
        // The host stops; free running resumes on the next step, at once.
        let plan = clock.advance_free(48_000.0, 512, 120.0);
        assert!(plan.events.iter().eq([
            TransportEvent::Stopped,
            TransportEvent::Started { step: 65 }
        ]));
        assert_eq!(
            plan.steps.collect::<Vec<_>>(),
            [ScheduledStep {
                step: 65,
                offset: 0
            }]
        );
        assert_eq!(plan.timing.map(|t| t.start_quarters), Some(65.0 / 4.0));
        assert_eq!(
            clock.advance_free(48_000.0, 6000, 120.0).steps.indices(),
            66..67
        );
    }

    #[test]
    fn step_at_sample_finds_the_nearest_boundary() {
        let timing = BlockTiming::new(48_000.0, 48_000, 120.0, 1.0); // step 4 on sample 0
        let at = |offset| step_at_sample(&timing, offset, SIXTEENTHS);
        assert_eq!(
            at(0),
            StepPosition {
                step: 4,
                fraction: 0.0
            }
        );
        assert_eq!(
            at(1500),
            StepPosition {
                step: 4,
                fraction: 0.25
            }
        );
        assert_eq!(
            at(3000),
            StepPosition {
                step: 5,
                fraction: -0.5
            }
        ); // ties go later
        assert_eq!(
            at(4500),
            StepPosition {
                step: 5,
                fraction: -0.25
            }
        );
        let count_in = BlockTiming {
            start_quarters: -1.0,
            ..timing
        };
        assert_eq!(
            step_at_sample(&count_in, 0, SIXTEENTHS),
            StepPosition {
                step: 0,
                fraction: -4.0
            }
        );
    }

    #[test]
    fn block_timing_from_the_hosts_transport() {
        let mut transport = Transport::new(48_000.0);
        assert_eq!(BlockTiming::from_transport(&transport, 512), None);
        transport.playing = true;
        transport.tempo = Some(120.0);
        transport.pos_samples = Some(48_000);
        transport.loop_range_beats = Some((0.0, 8.0));
        let timing = BlockTiming::from_transport(&transport, 512).unwrap();
        assert_eq!(
            timing,
            BlockTiming {
                loop_quarters: Some((0.0, 8.0)),
                ..BlockTiming::new(48_000.0, 512, 120.0, 2.0)
            }
        );
        transport.pos_beats = Some(3.25);
        assert_eq!(
            BlockTiming::from_transport(&transport, 512)
                .unwrap()
                .start_quarters,
            3.25
        );
        transport.tempo = None;
        assert_eq!(BlockTiming::from_transport(&transport, 512), None);
    }
}
