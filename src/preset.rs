//! Presets: a model folder plus the instrument's settings, as a small TOML file that the plugin,
//! `cantus jam` and `cantus generate --preset` load. `presets/README.md` documents the format.
//!
//! Every setting is optional: a preset changes what it names and keeps the rest, so it can be as
//! small as a name and one setting. Unknown keys are errors (a typo must not be ignored in
//! silence), and every value is checked on load; messages give the file, the line and the field.
//! Loading reads only the TOML file; [`Preset::check_model`] looks at the model folder, still
//! without reading weights.

use crate::engine::sampler::SamplingSettings;
use crate::model::ModelCard;
use crate::model::folder::{CARD_FILE, WEIGHTS_FILE};
use crate::music::Encoding;
use crate::music::melody::{MAX_PITCH, MIN_PITCH};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// A preset file: what to play with, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub model: ModelSource,
    #[serde(default)]
    pub settings: Settings,
    /// The folder a relative model path is resolved against: the preset file's.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file it was read from, named in error messages; `None` for text.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// Where a preset's model comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ModelSource {
    /// The `folk` model compiled into the plugin: `model = "embedded"`, or no `model` key.
    #[default]
    Embedded,
    /// A model folder as written in the file; a relative path is relative to the preset's folder
    /// (write `"./embedded"` for a folder that happens to be called `embedded`).
    Folder(PathBuf),
}

/// The instrument's settings; `None` keeps the current value.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// 0.05..=2.0, as the plugin's knob.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// 0 keeps every token; more than the vocabulary keeps every token too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// In (0, 1]; 1 keeps every token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// −1 (fewer note onsets) ..= 1 (more).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub density: Option<f64>,
    /// 0.1..=10; 1 is off, above 1 discourages recent notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Tonic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// Lowest and highest pitch the model may start, MIDI numbers in 36..=96 (C2..=C7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lowest: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highest: Option<u32>,
    /// The grid, 1..=8; a melody-events model only plays on its own grid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps_per_quarter: Option<u32>,
    /// Steps kept ready ahead of the playhead, 1..=64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookahead: Option<u32>,
    /// Answer mode: steps of silence after the player's phrase before the answer, 0..=128.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_gap: Option<u32>,
    /// Answer mode: how long the answer lasts, 1..=16 bars.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_bars: Option<u32>,
    /// Velocity of the generated notes, 1..=127.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub velocity: Option<u32>,
    /// Random variation of timing and velocity, 0.0..=1.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub humanise: Option<f64>,
    /// MIDI channel of the generated notes, 1..=16.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<u32>,
    /// Harmonise mode: MIDI channels of alto, tenor and bass, 1..=16.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alto_channel: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenor_channel: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bass_channel: Option<u32>,
    /// The built-in voice's level, −60 (silent) ..= 0 dB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level_db: Option<f64>,
    /// 0..=2^63−1: TOML integers are signed 64-bit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// How the model and the player share the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The model continues from what the player plays.
    Continue,
    /// Call and response: after the player's phrase, the model answers for `answer_bars`.
    Answer,
    /// The model plays on its own and does not listen.
    Solo,
    /// Alto, tenor and bass under what the player plays, from the chorale model.
    #[serde(alias = "harmonize")]
    Harmonise,
}

/// Which pitch classes, counted from the key's tonic, the model may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    Major,
    Minor,
    Dorian,
    Mixolydian,
    Pentatonic,
    Chromatic,
}

impl Scale {
    /// Semitones above the tonic.
    pub fn degrees(self) -> &'static [u8] {
        match self {
            Scale::Major => &[0, 2, 4, 5, 7, 9, 11],
            Scale::Minor => &[0, 2, 3, 5, 7, 8, 10],
            Scale::Dorian => &[0, 2, 3, 5, 7, 9, 10],
            Scale::Mixolydian => &[0, 2, 4, 5, 7, 9, 10],
            Scale::Pentatonic => &[0, 2, 4, 7, 9],
            Scale::Chromatic => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        }
    }

    /// The allowed pitch classes (C = 0) of this scale on `tonic`.
    pub fn pitch_classes(self, tonic: Tonic) -> [bool; 12] {
        let mut classes = [false; 12];
        for degree in self.degrees() {
            classes[usize::from((tonic.0 + degree) % 12)] = true;
        }
        classes
    }
}

/// A key's tonic as a pitch class, C = 0. Written `"D"`, `"F#"`, `"Bb"`; written back with the
/// usual key-signature spelling (`"Eb"`, `"F#"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tonic(u8);

impl Tonic {
    const NAMES: [&str; 12] = [
        "C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
    ];

    /// `None` unless `pitch_class < 12`.
    pub fn new(pitch_class: u8) -> Option<Tonic> {
        (pitch_class < 12).then_some(Tonic(pitch_class))
    }

    pub fn pitch_class(self) -> u8 {
        self.0
    }
}

impl std::str::FromStr for Tonic {
    type Err = String;

    fn from_str(text: &str) -> Result<Tonic, String> {
        let mut chars = text.chars();
        let natural = match chars.next().map(|c| c.to_ascii_uppercase()) {
            Some('C') => 0,
            Some('D') => 2,
            Some('E') => 4,
            Some('F') => 5,
            Some('G') => 7,
            Some('A') => 9,
            Some('B') => 11,
            _ => return Err(key_error(text)),
        };
        let shift = match chars.as_str() {
            "" => 0,
            "#" | "♯" => 1,
            "b" | "♭" => 11,
            _ => return Err(key_error(text)),
        };
        Ok(Tonic((natural + shift) % 12))
    }
}

fn key_error(text: &str) -> String {
    format!(
        "key {text:?}: expected a note letter A-G with an optional # or b (\"D\", \"F#\", \"Bb\"); the mode goes in `scale`"
    )
}

impl TryFrom<String> for Tonic {
    type Error = String;
    fn try_from(text: String) -> Result<Tonic, String> {
        text.parse()
    }
}

impl From<Tonic> for String {
    fn from(tonic: Tonic) -> String {
        tonic.to_string()
    }
}

impl fmt::Display for Tonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAMES[usize::from(self.0)])
    }
}

impl Serialize for ModelSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ModelSource::Embedded => serializer.serialize_str(EMBEDDED),
            ModelSource::Folder(path) => match path.to_str() {
                Some(text) => serializer.serialize_str(text),
                None => Err(serde::ser::Error::custom(format!(
                    "model path {} is not UTF-8",
                    path.display()
                ))),
            },
        }
    }
}

impl<'de> Deserialize<'de> for ModelSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            EMBEDDED => Ok(ModelSource::Embedded),
            "" => Err(serde::de::Error::custom(
                "model is empty: write a model folder, or \"embedded\"",
            )),
            _ => Ok(ModelSource::Folder(PathBuf::from(text))),
        }
    }
}

/// The word that names the plugin's compiled-in model.
pub const EMBEDDED: &str = "embedded";

/// Where in a preset something went wrong: the file and line where known.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}", file.display()),
            (Some(file), None) => write!(f, "{}", file.display()),
            (None, Some(line)) => write!(f, "preset, line {line}"),
            (None, None) => f.write_str("preset"),
        }
    }
}

/// Why a preset could not be read, used or written.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, a wrong type, an unknown key (the message names it), an unknown word.
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },
    /// A value outside its range.
    #[error("{at}: {field} = {value}: must be {expected}")]
    Invalid {
        at: Location,
        field: String,
        value: String,
        expected: String,
    },
    #[error("{at}: model folder {}: {why}", folder.display())]
    Model {
        at: Location,
        folder: PathBuf,
        why: String,
    },
}

impl Preset {
    /// Reads and checks a preset file; a relative model path is resolved against its folder.
    pub fn load(path: &Path) -> Result<Preset, PresetError> {
        let text = std::fs::read_to_string(path).map_err(|source| PresetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        Self::parse(&text, base_dir, Some(path.to_path_buf()))
    }

    /// Reads and checks preset text; a relative model path is resolved against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Preset, PresetError> {
        Self::parse(text, base_dir.to_path_buf(), None)
    }

    fn parse(text: &str, base_dir: PathBuf, file: Option<PathBuf>) -> Result<Preset, PresetError> {
        let mut preset: Preset = toml::from_str(text).map_err(|error| PresetError::Syntax {
            at: Location {
                file: file.clone(),
                line: error.span().map(|span| line_at(text, span.start)),
            },
            message: error.message().trim_end().to_string(),
        })?;
        preset.base_dir = base_dir;
        preset.file = file;
        preset.validate().map_err(|mut error| {
            if let PresetError::Invalid { at, field, .. } = &mut error {
                let key = field.rsplit('.').next().unwrap_or(field);
                at.line = line_of_key(text, key);
            }
            error
        })?;
        Ok(preset)
    }

    /// The preset as TOML text, after checking it (a preset built in code may be out of range).
    pub fn to_toml(&self) -> Result<String, PresetError> {
        self.validate()?;
        toml::to_string(self).map_err(|error| PresetError::Syntax {
            at: self.location(),
            message: error.to_string(),
        })
    }

    /// The model folder, resolved; `None` for the embedded model.
    pub fn model_path(&self) -> Option<PathBuf> {
        match &self.model {
            ModelSource::Embedded => None,
            ModelSource::Folder(path) => Some(self.base_dir.join(path)),
        }
    }

    /// Checks that the model folder holds a readable card and a weights file, and that a
    /// melody-events model's grid matches `steps_per_quarter`, without reading the weights.
    /// The embedded model is always there.
    pub fn check_model(&self) -> Result<(), PresetError> {
        let Some(folder) = self.model_path() else {
            return Ok(());
        };
        let model_error = |why: String| PresetError::Model {
            at: self.location(),
            folder: folder.clone(),
            why,
        };
        if !folder.is_dir() {
            return Err(model_error("no such folder".into()));
        }
        for file in [CARD_FILE, WEIGHTS_FILE] {
            if !folder.join(file).is_file() {
                return Err(model_error(format!("has no {file}")));
            }
        }
        let card_text = std::fs::read_to_string(folder.join(CARD_FILE))
            .map_err(|error| model_error(format!("{CARD_FILE}: {error}")))?;
        let card: ModelCard = serde_json::from_str(&card_text)
            .map_err(|error| model_error(format!("{CARD_FILE}: {error}")))?;
        card.validate()
            .map_err(|why| model_error(format!("{CARD_FILE}: {why}")))?;
        if let Encoding::MelodyEvents {
            steps_per_quarter: model,
            ..
        } = card.encoding
            && let Some(preset) = self.settings.steps_per_quarter
            && model != preset
        {
            return Err(model_error(format!(
                "the model plays {model} steps per quarter, the preset's steps_per_quarter is {preset}"
            )));
        }
        Ok(())
    }

    /// Checks every value's range (loading does it; call it on a preset built in code).
    pub fn validate(&self) -> Result<(), PresetError> {
        let invalid = |field: &str, value: String, expected: &str| PresetError::Invalid {
            at: self.location(),
            field: field.to_string(),
            value,
            expected: expected.to_string(),
        };
        if self.name.trim().is_empty() {
            return Err(invalid(
                "name",
                format!("{:?}", self.name),
                "a non-empty name",
            ));
        }
        self.settings
            .validate()
            .map_err(|(field, value, expected)| {
                invalid(&format!("settings.{field}"), value, &expected)
            })
    }

    fn location(&self) -> Location {
        Location {
            file: self.file.clone(),
            line: None,
        }
    }
}

impl Settings {
    /// Sets the sampling fields this preset names (temperature, top_k, top_p, density,
    /// repetition_penalty) and keeps the others.
    pub fn apply_sampling(&self, sampling: &mut SamplingSettings) {
        if let Some(t) = self.temperature {
            sampling.temperature = t as f32;
        }
        if let Some(k) = self.top_k {
            sampling.top_k = k as usize;
        }
        if let Some(p) = self.top_p {
            sampling.top_p = p as f32;
        }
        if let Some(d) = self.density {
            sampling.density = d as f32;
        }
        if let Some(r) = self.repetition_penalty {
            sampling.repetition_penalty = r as f32;
        }
    }

    /// The first value out of range, as (field, value, what it must be).
    fn validate(&self) -> Result<(), (&'static str, String, String)> {
        fn within<T: PartialOrd + fmt::Display + Copy>(
            field: &'static str,
            value: Option<T>,
            lowest: T,
            highest: T,
        ) -> Result<(), (&'static str, String, String)> {
            match value {
                Some(v) if !(lowest <= v && v <= highest) => {
                    Err((field, v.to_string(), format!("in {lowest}..={highest}")))
                }
                _ => Ok(()),
            }
        }
        within("temperature", self.temperature, 0.05, 2.0)?;
        if let Some(p) = self.top_p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(("top_p", p.to_string(), "in (0, 1]".into()));
        }
        within("density", self.density, -1.0, 1.0)?;
        within("repetition_penalty", self.repetition_penalty, 0.1, 10.0)?;
        within("lowest", self.lowest, MIN_PITCH.into(), MAX_PITCH.into())?;
        within("highest", self.highest, MIN_PITCH.into(), MAX_PITCH.into())?;
        if let (Some(low), Some(high)) = (self.lowest, self.highest)
            && high < low
        {
            return Err((
                "highest",
                high.to_string(),
                format!("at least lowest ({low})"),
            ));
        }
        within("steps_per_quarter", self.steps_per_quarter, 1, 8)?;
        within("lookahead", self.lookahead, 1, 64)?;
        within("answer_gap", self.answer_gap, 0, 128)?;
        within("answer_bars", self.answer_bars, 1, 16)?;
        within("velocity", self.velocity, 1, 127)?;
        within("humanise", self.humanise, 0.0, 1.0)?;
        within("channel", self.channel, 1, 16)?;
        within("alto_channel", self.alto_channel, 1, 16)?;
        within("tenor_channel", self.tenor_channel, 1, 16)?;
        within("bass_channel", self.bass_channel, 1, 16)?;
        within("level_db", self.level_db, -60.0, 0.0)?;
        within("seed", self.seed, 0, i64::MAX as u64)?;
        Ok(())
    }
}

/// The 1-based line holding byte `offset`.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The 1-based line where `key = …` is written, if it is on a line of its own.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|index| index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presets_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("presets")
    }

    fn shipped() -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(presets_dir())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_shipped_preset_loads_and_its_model_checks_out() {
        let files = shipped();
        assert!(files.len() >= 4, "{files:?}");
        for file in files {
            let preset = Preset::load(&file).unwrap_or_else(|e| panic!("{e}"));
            preset.check_model().unwrap_or_else(|e| panic!("{e}"));
            assert!(preset.description.is_some(), "{}", file.display());
            assert_eq!(
                preset.model_path(),
                Some(presets_dir().join("../models/folk")),
                "{}",
                file.display()
            );
        }
    }

    #[test]
    fn to_toml_and_back_is_the_same_preset() {
        for file in shipped() {
            let preset = Preset::load(&file).unwrap();
            let text = preset.to_toml().unwrap();
            let again = Preset::from_toml_str(&text, &preset.base_dir).unwrap();
            assert_eq!(
                again,
                Preset {
                    file: None,
                    ..preset
                },
                "{text}"
            );
        }
        // The embedded model, and a key spelt with a flat, survive too.
        let text = "name = \"x\"\n[settings]\nkey = \"Bb\"\n";
        let preset = Preset::from_toml_str(text, Path::new("")).unwrap();
        assert_eq!(preset.model, ModelSource::Embedded);
        assert_eq!(preset.settings.key, Tonic::new(10));
        let written = preset.to_toml().unwrap();
        assert!(written.contains("model = \"embedded\""), "{written}");
        assert_eq!(
            Preset::from_toml_str(&written, Path::new("")).unwrap(),
            preset
        );
    }

    #[test]
    fn an_unknown_field_is_named_with_its_line() {
        let text = "name = \"x\"\n[settings]\ntemperature = 1.0\ntempreature = 1.2\n";
        let error = Preset::from_toml_str(text, Path::new("")).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("preset, line 4: "), "{message}");
        assert!(message.contains("unknown field `tempreature`"), "{message}");

        let error = Preset::from_toml_str("name = \"x\"\nmodle = \"a\"\n", Path::new(""));
        assert!(error.unwrap_err().to_string().contains("`modle`"));
    }

    #[test]
    fn out_of_range_values_are_refused_naming_the_field() {
        let cases = [
            (
                "temperature = 3.0",
                "line 3: settings.temperature = 3: must be in 0.05..=2",
            ),
            ("top_p = 0.0", "settings.top_p = 0: must be in (0, 1]"),
            ("lowest = 20", "settings.lowest = 20: must be in 36..=96"),
            (
                "lowest = 80\nhighest = 60",
                "line 4: settings.highest = 60: must be at least lowest (80)",
            ),
            (
                "velocity = 300",
                "line 3: settings.velocity = 300: must be in 1..=127",
            ),
            ("channel = 17", "settings.channel = 17: must be in 1..=16"),
            ("level_db = 3", "settings.level_db = 3: must be in -60..=0"),
            (
                "steps_per_quarter = 0",
                "settings.steps_per_quarter = 0: must be in 1..=8",
            ),
        ];
        for (setting, expected) in cases {
            let text = format!("name = \"x\"\n[settings]\n{setting}\n");
            let message = Preset::from_toml_str(&text, Path::new(""))
                .unwrap_err()
                .to_string();
            assert!(message.contains(expected), "{setting}: {message}");
        }
        let wrong_words = [
            ("key = \"H\"", "key \"H\""),
            ("scale = \"lydian\"", "lydian"),
            ("mode = \"duet\"", "duet"),
            ("lowest = \"C3\"", "C3"),
        ];
        for (setting, expected) in wrong_words {
            let text = format!("name = \"x\"\n[settings]\n{setting}\n");
            let message = Preset::from_toml_str(&text, Path::new(""))
                .unwrap_err()
                .to_string();
            assert!(
                message.starts_with("preset, line 3: ") && message.contains(expected),
                "{setting}: {message}"
            );
        }
        let empty_name = Preset::from_toml_str("name = \" \"\n", Path::new("")).unwrap_err();
        assert!(empty_name.to_string().contains("name"), "{empty_name}");
    }

    #[test]
    fn a_relative_model_path_is_relative_to_the_preset_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mine.toml");
        std::fs::write(&file, "name = \"mine\"\nmodel = \"models/tune\"\n").unwrap();
        let preset = Preset::load(&file).unwrap();
        assert_eq!(preset.model_path(), Some(dir.path().join("models/tune")));

        let absolute = dir.path().join("elsewhere");
        let text = format!("name = \"a\"\nmodel = {:?}\n", absolute.to_str().unwrap());
        let preset = Preset::from_toml_str(&text, Path::new("/unused")).unwrap();
        assert_eq!(preset.model_path(), Some(absolute));
        let embedded = Preset::from_toml_str("name = \"e\"\n", Path::new("/x")).unwrap();
        assert_eq!(embedded.model_path(), None);
        embedded.check_model().unwrap();
    }

    #[test]
    fn a_missing_or_incomplete_model_folder_is_reported_on_check() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(&file, "name = \"p\"\nmodel = \"gone\"\n").unwrap();
        let preset = Preset::load(&file).expect("loading does not look at the model");
        let message = preset.check_model().unwrap_err().to_string();
        assert!(
            message.starts_with(&file.display().to_string()) && message.contains("no such folder"),
            "{message}"
        );

        std::fs::create_dir(dir.path().join("gone")).unwrap();
        std::fs::write(dir.path().join("gone").join(CARD_FILE), "{}").unwrap();
        let message = preset.check_model().unwrap_err().to_string();
        assert!(message.contains("has no model.safetensors"), "{message}");

        // The right files, the wrong grid.
        let folk = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/folk");
        let text = format!(
            "name = \"p\"\nmodel = {:?}\n[settings]\nsteps_per_quarter = 3\n",
            folk.to_str().unwrap()
        );
        let preset = Preset::from_toml_str(&text, dir.path()).unwrap();
        let message = preset.check_model().unwrap_err().to_string();
        assert!(message.contains("4 steps per quarter"), "{message}");
    }

    #[test]
    fn sampling_settings_take_what_the_preset_names_and_keep_the_rest() {
        let text = "name = \"x\"\n[settings]\ntemperature = 0.5\ntop_k = 7\ndensity = -0.25\n";
        let preset = Preset::from_toml_str(text, Path::new("")).unwrap();
        let mut sampling = SamplingSettings {
            top_p: 0.9,
            greedy: true,
            ..SamplingSettings::default()
        };
        preset.settings.apply_sampling(&mut sampling);
        assert_eq!(
            sampling,
            SamplingSettings {
                temperature: 0.5,
                top_k: 7,
                top_p: 0.9,
                greedy: true,
                density: -0.25,
                ..SamplingSettings::default()
            }
        );
    }

    #[test]
    fn keys_and_scales_give_pitch_classes() {
        let d: Tonic = "D".parse().unwrap();
        let classes = Scale::Dorian.pitch_classes(d);
        let white = [0, 2, 4, 5, 7, 9, 11];
        assert!((0..12).all(|pc| classes[pc] == white.contains(&pc)));
        assert_eq!("F#".parse(), Ok(Tonic(6)));
        assert_eq!("Gb".parse(), Ok(Tonic(6)));
        assert_eq!("Cb".parse(), Ok(Tonic(11)));
        assert!("Dm".parse::<Tonic>().is_err());
        assert_eq!(Tonic(3).to_string(), "Eb");
    }
}
