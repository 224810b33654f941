//! A picture of a waveform (PNG, plotters): primer in grey, generated audio in blue, so a
//! person sees at a glance whether the continuation keeps the primer's shape.

use plotters::prelude::*;
use std::path::Path;

/// Columns the waveform is drawn in; each shows the lowest and highest sample under it.
const COLUMNS: usize = 1200;
/// Up to this many samples the waveform is drawn as a line; beyond, as per-column extremes.
const LINE_LIMIT: usize = 24_000;

/// Draws `samples` (at `sample_rate`) to `path`; the first `primer` samples are the primer.
pub fn plot_waveform(
    path: &Path,
    title: &str,
    samples: &[f32],
    sample_rate: u32,
    primer: usize,
) -> Result<(), String> {
    let seconds = samples.len() as f64 / f64::from(sample_rate);
    let per_column = samples.len().div_ceil(COLUMNS).max(1);
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs())).max(1e-3) as f64 * 1.1;
    let root = BitMapBackend::new(path, (COLUMNS as u32 + 100, 400)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..seconds.max(1e-6), -peak..peak)?;
        chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc("amplitude")
            .disable_mesh()
            .draw()?;
        let time = |i: usize| i as f64 / f64::from(sample_rate);
        if samples.len() <= LINE_LIMIT {
            // Few enough samples to draw the line itself.
            let line = |range: std::ops::Range<usize>, colour: RGBColor| {
                LineSeries::new(range.map(|i| (time(i), f64::from(samples[i]))), colour)
            };
            let split = primer.min(samples.len());
            chart.draw_series(line(
                0..(split + 1).min(samples.len()),
                RGBColor(140, 140, 140),
            ))?;
            chart.draw_series(line(split..samples.len(), BLUE))?;
        } else {
            let columns = samples.chunks(per_column).enumerate().map(|(k, chunk)| {
                let start = k * per_column;
                let (low, high) = chunk
                    .iter()
                    .fold((f32::MAX, f32::MIN), |(l, h), &s| (l.min(s), h.max(s)));
                let colour = if start < primer {
                    RGBColor(140, 140, 140)
                } else {
                    BLUE
                };
                let x = time(start);
                PathElement::new(vec![(x, f64::from(low)), (x, f64::from(high))], colour)
            });
            chart.draw_series(columns)?;
        }
        if primer > 0 && primer < samples.len() {
            let x = time(primer);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, -peak), (x, peak)],
                RED.stroke_width(1),
            )))?;
        }
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("{}: {e}", path.display()))
}
