//! What a run leaves beside the model for people: `log.csv` and `loss.png`.

use super::checkpoint::EpochRecord;
use plotters::prelude::*;
use std::path::Path;

pub const LOG_FILE: &str = "log.csv";
pub const PLOT_FILE: &str = "loss.png";

/// Rewrites the CSV log from the whole history (so a resumed run never duplicates rows).
pub fn write_log(output: &Path, history: &[EpochRecord]) -> std::io::Result<()> {
    let optional = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
    let mut csv = String::from(
        "epoch,steps,train_nll,valid_nll,valid_accuracy,learning_rate,tokens_per_second\n",
    );
    for r in history {
        csv.push_str(&format!(
            "{},{},{:.6},{},{},{:.6e},{:.1}\n",
            r.epoch + 1,
            r.steps,
            r.train_nll,
            optional(r.valid_nll),
            optional(r.valid_accuracy),
            r.learning_rate,
            r.tokens_per_second
        ));
    }
    std::fs::write(output.join(LOG_FILE), csv)
}

/// Plots training and validation NLL per epoch.
pub fn plot_losses(output: &Path, name: &str, history: &[EpochRecord]) -> Result<(), String> {
    let train: Vec<(f64, f64)> = history
        .iter()
        .map(|r| ((r.epoch + 1) as f64, r.train_nll))
        .collect();
    let valid: Vec<(f64, f64)> = history
        .iter()
        .filter_map(|r| Some(((r.epoch + 1) as f64, r.valid_nll?)))
        .collect();
    let epochs = history.len().max(2) as f64;
    plot_curves(
        &output.join(PLOT_FILE),
        &format!("{name}: loss per epoch"),
        ("epoch", "NLL (nats per token)"),
        1.0..epochs,
        false,
        &[("train", &train), ("validation", &valid)],
    )
}

/// Draws named curves (train in blue, the next in red) over `x_range` with axis names
/// `(x, y)`, the y axis logarithmic if `log_y` (for losses that fall by orders of magnitude,
/// as the audio trainer's mean squared error does). Empty curves are left out; nothing is
/// drawn when there is nothing finite to draw.
pub fn plot_curves(
    path: &Path,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    x_range: std::ops::Range<f64>,
    log_y: bool,
    curves: &[(&str, &[(f64, f64)])],
) -> Result<(), String> {
    let values = curves
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.1))
        .filter(|v| !log_y || *v > 0.0);
    let (low, high) = values.fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    let first_empty = curves.first().is_none_or(|(_, points)| points.is_empty());
    if first_empty || !low.is_finite() || !high.is_finite() || low > high {
        return Ok(());
    }
    let colours = [BLUE, RED];
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60);
        // A macro rather than a function: linear and logarithmic charts are different types.
        macro_rules! finish {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(x_desc)
                    .y_desc(y_desc)
                    .draw()?;
                for (k, (label, points)) in curves.iter().enumerate() {
                    if points.is_empty() {
                        continue;
                    }
                    let colour = colours[k.min(colours.len() - 1)];
                    chart
                        .draw_series(LineSeries::new(points.to_vec(), colour.stroke_width(2)))?
                        .label(*label)
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                        });
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()?;
            }};
        }
        if log_y {
            let y = (low * 0.8)..(high * 1.25);
            finish!(builder.build_cartesian_2d(x_range.clone(), y.log_scale())?);
        } else {
            let margin = ((high - low) * 0.1).max(0.01);
            let y = (low - margin)..(high + margin);
            finish!(builder.build_cartesian_2d(x_range.clone(), y)?);
        }
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("{}: {e}", path.display()))
}
