//! Folders of music files: find them, read each into pieces, and say why a file was rejected
//! without stopping at it (`cantus data check`, and the trainer's data loading).

use super::ReadError;
use super::abc::read_abc_tunes;
use super::midi::read_midi_with_report;
use crate::music::{EncodeReport, Melody, Piece, StepGrid};
use std::path::{Path, PathBuf};

/// The file types Cantus reads, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Midi,
    Abc,
}

impl FileKind {
    /// `.mid`, `.midi`, `.abc`, any case.
    pub fn of(path: &Path) -> Option<FileKind> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "mid" | "midi" => Some(FileKind::Midi),
            "abc" => Some(FileKind::Abc),
            _ => None,
        }
    }
}

/// One piece read from a file; `label` names it for messages (`tune.abc#X:3`).
#[derive(Debug, Clone)]
pub struct LoadedPiece {
    pub label: String,
    pub piece: Piece,
}

/// What reading one file gave: its pieces, and the tunes inside it that failed.
#[derive(Debug)]
pub struct LoadedFile {
    pub path: PathBuf,
    /// Empty when the whole file was rejected.
    pub pieces: Vec<LoadedPiece>,
    /// Why the file, or some of its tunes, could not be read.
    pub errors: Vec<FileError>,
    /// What was read past or repaired: damaged MIDI data, skipped ABC characters.
    pub warnings: Vec<String>,
}

/// A file's, or one of its tunes', reason for rejection.
#[derive(Debug)]
pub struct FileError {
    /// 1-based tune number inside a multi-tune ABC file; `None` for the whole file.
    pub tune: Option<usize>,
    pub error: ReadError,
}

impl From<ReadError> for FileError {
    fn from(error: ReadError) -> Self {
        FileError { tune: None, error }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.tune {
            Some(tune) => write!(f, "tune {tune}: {}", self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

impl LoadedFile {
    pub fn is_usable(&self) -> bool {
        !self.pieces.is_empty()
    }
}

/// Every music file below `root` (or `root` itself if it is a file), sorted, symlinked folders
/// not followed (so a link loop cannot trap the walk). Unreadable folders are reported as
/// rejected files rather than aborting the walk.
pub fn find_music_files(root: &Path) -> Vec<Result<PathBuf, (PathBuf, std::io::Error)>> {
    let mut found = Vec::new();
    if !root.is_dir() {
        found.push(Ok(root.to_path_buf()));
        return found;
    }
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) => {
                found.push(Err((folder, error)));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_real_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_real_dir {
                folders.push(path);
            } else if FileKind::of(&path).is_some() {
                found.push(Ok(path));
            }
        }
    }
    found.sort_by(|a, b| path_of(a).cmp(path_of(b)));
    found
}

fn path_of(entry: &Result<PathBuf, (PathBuf, std::io::Error)>) -> &Path {
    match entry {
        Ok(path) | Err((path, _)) => path,
    }
}

/// Reads one file into its pieces. A MIDI file is one piece; an ABC file is one piece per tune.
pub fn load_file(path: &Path) -> LoadedFile {
    let mut loaded = LoadedFile {
        path: path.to_path_buf(),
        pieces: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    if path.is_dir() {
        loaded.errors.push(
            ReadError::Unsupported("is a directory, expected a .mid, .midi or .abc file".into())
                .into(),
        );
        return loaded;
    }
    let label = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            loaded.errors.push(ReadError::from(error).into());
            return loaded;
        }
    };
    match FileKind::of(path) {
        Some(FileKind::Midi) => match read_midi_with_report(&bytes) {
            Ok((piece, report)) => {
                for damage in report.damage {
                    loaded.warnings.push(format!(
                        "damaged at byte {}: {} (kept the notes before it)",
                        damage.offset, damage.message
                    ));
                }
                loaded.pieces.push(LoadedPiece { label, piece });
            }
            Err(error) => loaded.errors.push(error.into()),
        },
        Some(FileKind::Abc) => match decode_text(&bytes) {
            Ok(text) => {
                for (index, tune) in read_abc_tunes(&text).into_iter().enumerate() {
                    match tune {
                        Ok(tune) => {
                            for w in &tune.warnings {
                                let (line, column) = (w.line, w.column);
                                loaded
                                    .warnings
                                    .push(format!("line {line}, column {column}: {}", w.message));
                            }
                            loaded.pieces.push(LoadedPiece {
                                label: match tune.reference {
                                    Some(x) => format!("{label}#X:{x}"),
                                    None => label.clone(),
                                },
                                piece: tune.piece,
                            });
                        }
                        Err(error) => loaded.errors.push(FileError {
                            tune: Some(index + 1),
                            error,
                        }),
                    }
                }
            }
            Err(error) => loaded.errors.push(error.into()),
        },
        None => loaded.errors.push(
            ReadError::Unsupported("unknown file type: expected .mid, .midi or .abc".into()).into(),
        ),
    }
    loaded
}

/// ABC files are text: UTF-8, or Latin-1 as older collections are. Control bytes other than
/// tab, newline, carriage return and form feed mean binary data; name where the first one is.
pub fn decode_text(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, ReadError> {
    let is_binary = |b: u8| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c);
    if let Some(offset) = bytes.iter().position(|&b| is_binary(b)) {
        let before = &bytes[..offset];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        return Err(ReadError::Syntax {
            line,
            column: 1 + offset - line_start,
            message: format!("binary data (byte 0x{:02x}), not ABC text", bytes[offset]),
        });
    }
    Ok(match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => std::borrow::Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    })
}

/// The melody Cantus would learn from a piece: a part named like a melody, else the skyline
/// (see [`super::midi::MelodySource::auto`]).
pub fn melody_of(piece: &Piece, grid: StepGrid) -> Result<(Melody, EncodeReport), ReadError> {
    super::midi::extract_melody(piece, &super::midi::MelodySource::auto(piece), grid)
}
