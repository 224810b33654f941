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
    let path = output.join(PLOT_FILE);
    let train: Vec<(f64, f64)> = history
        .iter()
        .map(|r| ((r.epoch + 1) as f64, r.train_nll))
        .collect();
    let valid: Vec<(f64, f64)> = history
        .iter()
        .filter_map(|r| Some(((r.epoch + 1) as f64, r.valid_nll?)))
        .collect();
    let values = train.iter().chain(&valid).map(|p| p.1);
    let (low, high) = values.fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    if train.is_empty() || !low.is_finite() || !high.is_finite() {
        return Ok(());
    }
    let margin = ((high - low) * 0.1).max(0.01);
    let epochs = history.len().max(2) as f64;
    let root = BitMapBackend::new(&path, (800, 500)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{name}: loss per epoch"), ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(1.0..epochs, (low - margin)..(high + margin))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("NLL (nats per token)")
            .draw()?;
        chart
            .draw_series(LineSeries::new(train.clone(), BLUE.stroke_width(2)))?
            .label("train")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        if !valid.is_empty() {
            chart
                .draw_series(LineSeries::new(valid.clone(), RED.stroke_width(2)))?
                .label("validation")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("{}: {e}", path.display()))
}
