//! The RNN-cells paper's experiment grid (`cantus-train grid GRID.toml`): every cell × layer
//! count × data variant trained with the normal trainer, then scored by validation NLL, accuracy
//! and the tonality metrics of generated melodies, into `results.md` and `results.csv`.
//!
//! ```toml
//! [base]                        # a training configuration (see `config`); name, output,
//! description = "..."           # model.cell and model.layers are set per run (may be left out)
//! [base.data]
//! train = ["data/ryans/train"]
//! valid = ["data/ryans/valid"]
//! encoding = "melody_events"    # melody_events | pitch_sequence
//! [base.model]
//! embedding = 32
//! hidden = 128
//! [base.training]
//! # ...
//!
//! [grid]                        # the defaults: the paper's whole grid
//! cells = ["rnn", "lstm", "gru", "ugrnn", "nas"]
//! layers = [1, 2, 3, 4, 5]
//! variants = ["plain", "interval", "transposed"]
//! output = "grid-results"       # a folder per run: <cell>-l<layers>-<variant>
//! generate = 20                 # pieces generated per run for the tonality metrics
//! generate_steps = 256          # tokens per piece
//! ```
//!
//! Variants: `plain` is the base encoding as written, `interval` the intervals encoding (each
//! melody's first pitch, then its steps), `transposed` the base encoding in all 12 keys.
//! Relative paths are resolved against the grid file's folder. Every run is resumable: a rerun
//! resumes unfinished runs and skips finished ones, reusing the row saved in their folder.

use super::checkpoint::{self, checkpoint_path};
use super::config::{
    Augmentation, ConfigError, DataConfig, EncodingKind, TrainConfig, TrainingConfig,
};
use super::data::{load_corpus, note_encoding};
use super::trainer::{RunOptions, train};
use crate::engine::sampler::SamplingSettings;
use crate::generate::{Decoded, decode, default_primer, generate};
use crate::model::folder::{CARD_FILE, write_atomically};
use crate::model::{CellKind, Model, NetworkConfig};
use crate::music::Encoding;
use crate::music::tonality::Tonality;
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const RESULTS_MD: &str = "results.md";
pub const RESULTS_CSV: &str = "results.csv";
/// A finished run's row, kept in its folder so that a rerun need not generate again.
const ROW_FILE: &str = "grid-row.json";

/// How the training data is presented to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    Plain,
    Interval,
    Transposed,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Plain, Variant::Interval, Variant::Transposed];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Interval => "interval",
            Variant::Transposed => "transposed",
        }
    }
}

/// A grid file: the base training configuration and what varies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    pub base: TrainConfig,
    #[serde(default)]
    pub grid: GridSpec,
}

/// The `[grid]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GridSpec {
    pub cells: Vec<CellKind>,
    pub layers: Vec<usize>,
    pub variants: Vec<Variant>,
    pub output: PathBuf,
    /// Pieces generated per run for the tonality metrics (0 = none).
    pub generate: usize,
    /// Tokens per generated piece.
    pub generate_steps: usize,
}

impl Default for GridSpec {
    fn default() -> Self {
        Self {
            cells: CellKind::ALL.to_vec(),
            layers: vec![1, 2, 3, 4, 5],
            variants: Variant::ALL.to_vec(),
            output: "grid-results".into(),
            generate: 20,
            generate_steps: 256,
        }
    }
}

/// One run of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct GridRun {
    pub cell: CellKind,
    pub layers: usize,
    pub variant: Variant,
    /// Its training configuration: named `<cell>-l<layers>-<variant>`, in the folder of that name.
    pub config: TrainConfig,
}

/// Where a run stands before the grid reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Fresh,
    /// Unfinished: continues from its checkpoint.
    Resume {
        step: u64,
    },
    /// Finished earlier: skipped.
    Finished,
}

/// What the grid reports as it goes.
#[derive(Debug, Clone, Copy)]
pub enum GridEvent<'a> {
    /// Run `index` (from 1) of `total` begins.
    Run {
        index: usize,
        total: usize,
        name: &'a str,
        state: RunState,
    },
    /// A row of the table is ready.
    Row(&'a ResultRow),
}

/// A row of the results table: a run's, or the training data's (`cell` = `data`, no layers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub cell: String,
    pub layers: Option<usize>,
    pub variant: Variant,
    pub parameters: Option<usize>,
    /// The best model's validation NLL (nats per token) and accuracy.
    pub valid_nll: Option<f64>,
    pub accuracy: Option<f64>,
    /// Mean tonality metrics of the generated pieces (or of the data).
    pub conjunct_motion: Option<f64>,
    pub macroharmony: Option<f64>,
    pub centricity: Option<f64>,
    /// Training throughput of the best model's epoch.
    pub tokens_per_second: Option<f64>,
}

/// Why the grid stopped: the run (or file) and the reason.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {message}")]
pub struct GridError {
    pub context: String,
    pub message: String,
}

fn fail(context: impl std::fmt::Display) -> impl FnOnce(String) -> GridError {
    let context = context.to_string();
    move |message| GridError { context, message }
}

impl GridConfig {
    /// Reads and validates a grid file, resolving paths against its folder.
    pub fn load(path: &Path) -> Result<GridConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        // The fields set per run may be left out of `base`: fill them in for the schema.
        if let Some(toml::Value::Table(base)) = table.get_mut("base") {
            base.entry("name").or_insert("grid".into());
            base.entry("output").or_insert(".".into());
            if let Some(toml::Value::Table(model)) = base.get_mut("model") {
                model.entry("cell").or_insert("lstm".into());
                model.entry("layers").or_insert(1.into());
            }
        }
        let mut config: GridConfig = table
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.to_string().trim_end().replace('\n', " ")))?;
        let data = &mut config.base.data;
        config.base.data_as_written = (data.train.clone(), data.valid.clone());
        let folder = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| -> Result<(), ConfigError> {
            *p = std::path::absolute(folder.join(&*p))
                .map_err(|e| invalid(format!("{}: {e}", p.display())))?;
            Ok(())
        };
        resolve(&mut config.grid.output)?;
        for p in data.train.iter_mut().chain(&mut data.valid) {
            resolve(p)?;
        }
        config.validate().map_err(invalid)?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let g = &self.grid;
        if g.cells.is_empty() || g.layers.is_empty() || g.variants.is_empty() {
            return Err("grid.cells, grid.layers and grid.variants must not be empty".into());
        }
        if g.layers.iter().any(|l| !(1..=5).contains(l)) {
            return Err("grid.layers must be in 1..=5".into());
        }
        if g.generate > 0 && g.generate_steps == 0 {
            return Err("grid.generate_steps must be positive".into());
        }
        let encoding = self.base.data.encoding;
        if !matches!(
            encoding,
            EncodingKind::MelodyEvents | EncodingKind::PitchSequence
        ) {
            let why = "the interval variant derives its own";
            return Err(format!(
                "base.data.encoding must be melody_events or pitch_sequence ({why})"
            ));
        }
        self.runs()
            .iter()
            .try_for_each(|run| run.config.validate())
            .map_err(|e| format!("base: {e}"))
    }

    /// Every run, variant by variant, then cell by cell, then by layers.
    pub fn runs(&self) -> Vec<GridRun> {
        let g = &self.grid;
        let mut runs = Vec::new();
        for &variant in &g.variants {
            for &cell in &g.cells {
                for &layers in &g.layers {
                    let name = format!("{}-l{layers}-{}", cell_name(cell), variant.name());
                    let mut config = self.base.clone();
                    config.model.cell = cell;
                    config.model.layers = layers;
                    config.data = self.data(variant);
                    config.output = g.output.join(&name);
                    config.name = name;
                    runs.push(GridRun {
                        cell,
                        layers,
                        variant,
                        config,
                    });
                }
            }
        }
        runs
    }

    /// The base data configuration in a variant.
    pub fn data(&self, variant: Variant) -> DataConfig {
        let mut data = self.base.data.clone();
        data.augment = match variant {
            Variant::Transposed => Augmentation::AllKeys,
            Variant::Plain | Variant::Interval => Augmentation::None,
        };
        if variant == Variant::Interval {
            data.encoding = EncodingKind::Intervals;
        }
        data
    }
}

fn cell_name(cell: CellKind) -> String {
    format!("{cell:?}").to_lowercase()
}

/// Trains and scores every run in turn, rewriting the results after each; returns the rows.
/// `command` is recorded in every model card.
pub fn run_grid(
    config: &GridConfig,
    device: &Device,
    command: &str,
    mut report: impl FnMut(GridEvent),
) -> Result<Vec<ResultRow>, GridError> {
    let output = &config.grid.output;
    std::fs::create_dir_all(output).map_err(|e| fail(output.display())(e.to_string()))?;
    let runs = config.runs();
    let mut rows = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        if index == 0 || runs[index - 1].variant != run.variant {
            let row = data_row(config, run.variant)?;
            report(GridEvent::Row(&row));
            rows.push(row);
        }
        let name = &run.config.name;
        let state = run_state(run)?;
        report(GridEvent::Run {
            index: index + 1,
            total: runs.len(),
            name,
            state,
        });
        let row_file = run.config.output.join(ROW_FILE);
        let saved = (state == RunState::Finished)
            .then(|| saved_row(&row_file, &config.grid))
            .flatten();
        let row = match saved {
            Some(row) => row,
            None => {
                let finished = state == RunState::Finished
                    || train(
                        run.config.clone(),
                        device.clone(),
                        RunOptions {
                            resume: state != RunState::Fresh,
                            command: command.to_string(),
                            quiet: true,
                        },
                    )
                    .map_err(|e| fail(name)(e.to_string()))?
                    .finished;
                let row = score_run(run, &config.grid).map_err(fail(name))?;
                if finished {
                    save_row(&row_file, &config.grid, &row)?;
                }
                row
            }
        };
        report(GridEvent::Row(&row));
        rows.push(row);
        write_results(output, &rows, &config.grid)?;
    }
    Ok(rows)
}

/// Fresh, resumable or finished; a finished run must have been trained as configured now.
fn run_state(run: &GridRun) -> Result<RunState, GridError> {
    let dir = &run.config.output;
    if !checkpoint_path(dir).exists() {
        return Ok(RunState::Fresh);
    }
    let (_, progress) = checkpoint::load(dir, &Device::Cpu).map_err(fail(&run.config.name))?;
    if !progress.finished {
        return Ok(RunState::Resume {
            step: progress.global_step,
        });
    }
    let settings = |c: &TrainConfig| {
        let training = TrainingConfig {
            max_steps: 0,
            ..c.training.clone()
        };
        (c.model.clone(), c.data.clone(), training)
    };
    if settings(&progress.config) != settings(&run.config) {
        return Err(fail(dir.display())(
            "a finished run of another configuration: remove the folder to train it again, \
             or choose another grid.output"
                .into(),
        ));
    }
    Ok(RunState::Finished)
}

/// The training data's tonality metrics in a variant (every key of `transposed`).
fn data_row(config: &GridConfig, variant: Variant) -> Result<ResultRow, GridError> {
    let corpus = load_corpus(&config.data(variant))
        .map_err(|e| fail(format!("data-{}", variant.name()))(e.to_string()))?;
    let pieces: Vec<Tonality> = corpus
        .train
        .iter()
        .flatten()
        .map(|tokens| Tonality::of(&pitches(&corpus.encoding, tokens)))
        .collect();
    Ok(ResultRow::new("data".into(), None, variant).with_tonality(Tonality::mean_of(&pieces)))
}

/// A trained run's row: the card's validation figures and the metrics of `generate` pieces
/// sampled plainly (seeds `seed`, `seed + 1`, …) on the CPU, where stepping a small model is
/// fastest. A run paused before its first epoch ended has no model yet: only its size.
fn score_run(run: &GridRun, grid: &GridSpec) -> Result<ResultRow, String> {
    let c = &run.config;
    let network = NetworkConfig {
        cell: c.model.cell,
        layers: c.model.layers,
        embedding: c.model.embedding,
        hidden: c.model.hidden,
        vocab_size: note_encoding(c.data.encoding, c.data.steps_per_quarter).vocab_size(),
        dropout: c.model.dropout,
    };
    let mut row = ResultRow::new(cell_name(run.cell), Some(run.layers), run.variant);
    row.parameters = Some(network.parameter_count());
    if !c.output.join(CARD_FILE).exists() {
        return Ok(row);
    }
    let model = Model::load(&c.output, &Device::Cpu).map_err(|e| e.to_string())?;
    if let Some(record) = &model.card.training {
        row.valid_nll = record.valid_nll;
        row.accuracy = record.valid_accuracy;
        row.tokens_per_second = record.tokens_per_second;
    }
    let encoding = &model.card.encoding;
    let primer = default_primer(encoding);
    let settings = SamplingSettings::default();
    let mut pieces = Vec::with_capacity(grid.generate);
    for i in 0..grid.generate as u64 {
        let seed = c.training.seed.wrapping_add(i);
        let mut tokens = primer.clone();
        tokens.extend(
            generate(&model, &primer, grid.generate_steps, &settings, seed)
                .map_err(|e| e.to_string())?,
        );
        pieces.push(Tonality::of(&pitches(encoding, &tokens)));
    }
    Ok(row.with_tonality(Tonality::mean_of(&pieces)))
}

/// The pitches of a note encoding's tokens (none for tokens outside the vocabulary, which
/// neither the data nor a sampler produces).
fn pitches(encoding: &Encoding, tokens: &[u32]) -> Vec<u8> {
    match decode(encoding, tokens) {
        Ok(Decoded::Melody { melody, .. }) => melody.pitches(),
        _ => Vec::new(),
    }
}

/// A row saved by an earlier grid, if it was generated with the same settings.
fn saved_row(path: &Path, grid: &GridSpec) -> Option<ResultRow> {
    let (generate, steps, row): (usize, usize, ResultRow) =
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (generate == grid.generate && steps == grid.generate_steps).then_some(row)
}

fn save_row(path: &Path, grid: &GridSpec, row: &ResultRow) -> Result<(), GridError> {
    let json = serde_json::to_vec(&(grid.generate, grid.generate_steps, row))
        .expect("rows always serialise");
    write_atomically(path, &json).map_err(|e| fail(path.display())(e.to_string()))
}

impl ResultRow {
    fn new(cell: String, layers: Option<usize>, variant: Variant) -> Self {
        Self {
            cell,
            layers,
            variant,
            parameters: None,
            valid_nll: None,
            accuracy: None,
            conjunct_motion: None,
            macroharmony: None,
            centricity: None,
            tokens_per_second: None,
        }
    }

    fn with_tonality(self, tonality: Tonality) -> Self {
        Self {
            conjunct_motion: tonality.conjunct_motion,
            macroharmony: tonality.limited_macroharmony,
            centricity: tonality.centricity,
            ..self
        }
    }

    /// `<cell>-l<layers>-<variant>`, or `data-<variant>`.
    pub fn name(&self) -> String {
        match self.layers {
            Some(layers) => format!("{}-l{layers}-{}", self.cell, self.variant.name()),
            None => format!("{}-{}", self.cell, self.variant.name()),
        }
    }

    /// The row's values as the results files write them (blank where there is none).
    pub fn fields(&self) -> [String; 10] {
        let int = |v: Option<usize>| v.map_or(String::new(), |v| v.to_string());
        let real = |v: Option<f64>, decimals: usize| {
            v.map_or(String::new(), |v| format!("{v:.decimals$}"))
        };
        [
            self.cell.clone(),
            int(self.layers),
            self.variant.name().into(),
            int(self.parameters),
            real(self.valid_nll, 4),
            real(self.accuracy, 4),
            real(self.conjunct_motion, 3),
            real(self.macroharmony, 3),
            real(self.centricity, 3),
            real(self.tokens_per_second, 0),
        ]
    }
}

/// The columns, as `results.md` and `results.csv` name them.
const COLUMNS: [(&str, &str); 10] = [
    ("cell", "cell"),
    ("layers", "layers"),
    ("variant", "variant"),
    ("parameters", "parameters"),
    ("valid NLL", "valid_nll"),
    ("accuracy", "accuracy"),
    ("conjunct motion", "conjunct_motion"),
    ("macroharmony", "macroharmony"),
    ("centricity", "centricity"),
    ("tokens/s", "tokens_per_second"),
];

/// Rewrites `results.md` and `results.csv` (atomically: a kill leaves the previous ones).
fn write_results(output: &Path, rows: &[ResultRow], grid: &GridSpec) -> Result<(), GridError> {
    let mut md = format!(
        "# Experiment grid\n\n\
         Valid NLL (nats per token; encodings differ, so compare within a variant) and accuracy \
         are each run's best model on the validation split. Conjunct motion, macroharmony and \
         centricity are means over {} pieces of {} tokens sampled from it; the `data` rows give \
         the training data's. Tokens/s is the training throughput.\n\n| {} |\n|",
        grid.generate,
        grid.generate_steps,
        COLUMNS.map(|c| c.0).join(" | ")
    );
    for (column, _) in COLUMNS {
        let text = matches!(column, "cell" | "variant");
        md.push_str(if text { " --- |" } else { " ---: |" });
    }
    md.push('\n');
    let mut csv = COLUMNS.map(|c| c.1).join(",") + "\n";
    for row in rows {
        let fields = row.fields();
        md.push_str(&format!("| {} |\n", fields.join(" | ")));
        csv.push_str(&(fields.join(",") + "\n"));
    }
    for (file, text) in [(RESULTS_MD, md), (RESULTS_CSV, csv)] {
        let path = output.join(file);
        write_atomically(&path, text.as_bytes())
            .map_err(|e| fail(path.display())(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: &str = r#"
[base.data]
train = ["songs"]
encoding = "pitch_sequence"
[base.model]
embedding = 8
hidden = 16
[base.training]
sequence_length = 32
batch_size = 4
learning_rate = 0.01
epochs = 1
[grid]
cells = ["gru", "nas"]
layers = [1, 3]
output = "out"
"#;

    #[test]
    fn a_grid_names_its_runs_and_derives_the_variants() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.toml");
        std::fs::write(&path, GRID).unwrap();
        let config = GridConfig::load(&path).unwrap();
        assert_eq!(config.grid.generate, 20);
        let runs = config.runs();
        let names: Vec<&str> = runs.iter().map(|r| r.config.name.as_str()).collect();
        assert_eq!(names.len(), 12);
        assert_eq!(
            names[..4],
            [
                "gru-l1-plain",
                "gru-l3-plain",
                "nas-l1-plain",
                "nas-l3-plain"
            ]
        );
        let last = &runs[11];
        assert_eq!((last.cell, last.layers), (CellKind::Nas, 3));
        assert_eq!(last.config.data.augment, Augmentation::AllKeys);
        assert_eq!(last.config.data.encoding, EncodingKind::PitchSequence);
        assert_eq!(runs[4].config.data.encoding, EncodingKind::Intervals);
        assert_eq!(runs[4].config.data.augment, Augmentation::None);
        let out = std::path::absolute(dir.path().join("out")).unwrap();
        assert_eq!(last.config.output, out.join("nas-l3-transposed"));
        assert!(last.config.data.train[0].ends_with("songs"));
    }

    #[test]
    fn the_shipped_grid_is_the_papers() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/grid.toml");
        let config = GridConfig::load(&path).unwrap();
        assert_eq!(config.runs().len(), 5 * 5 * 3);
        assert_eq!(config.grid.generate, 20);
        assert!(config.base.data.train.iter().all(|p| p.is_dir()));
    }

    #[test]
    fn grid_mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.toml");
        let error = |text: String| {
            std::fs::write(&path, text).unwrap();
            GridConfig::load(&path).unwrap_err().to_string()
        };
        let e = error(GRID.replace("[1, 3]", "[1, 6]"));
        assert!(e.contains("grid.layers must be in 1..=5"), "{e}");
        let e = error(GRID.replace("embedding = 8", "embedding = 0"));
        assert!(e.contains("base: model sizes must be positive"), "{e}");
        let e = error(GRID.replace("pitch_sequence", "chars"));
        assert!(e.contains("melody_events or pitch_sequence"), "{e}");
        let e = error(GRID.replace("hidden", "hiden"));
        assert!(e.contains("hiden"), "{e}");
        let e = error(GRID.replace("\"nas\"", "\"transformer\""));
        assert!(e.contains("transformer"), "{e}");
    }
}
