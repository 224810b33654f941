//! The step grid: how quarter-note time maps onto the model's steps.

use serde::{Deserialize, Serialize};

/// A step grid with a fixed number of steps per quarter note (4 = sixteenth notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StepGrid {
    pub steps_per_quarter: u32,
}

impl Default for StepGrid {
    fn default() -> Self {
        Self::SIXTEENTHS
    }
}

impl StepGrid {
    pub const SIXTEENTHS: StepGrid = StepGrid {
        steps_per_quarter: 4,
    };

    pub fn new(steps_per_quarter: u32) -> Self {
        assert!(
            steps_per_quarter > 0,
            "a grid needs at least one step per quarter"
        );
        Self { steps_per_quarter }
    }

    /// The step nearest to a time in quarter notes (ties round up, never below 0).
    pub fn step_at(&self, quarters: f64) -> u32 {
        let step = (quarters * f64::from(self.steps_per_quarter) + 0.5).floor();
        step.clamp(0.0, f64::from(u32::MAX)) as u32
    }

    /// Where a step starts, in quarter notes.
    pub fn quarters_at(&self, step: u32) -> f64 {
        f64::from(step) / f64::from(self.steps_per_quarter)
    }
}
