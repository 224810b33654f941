//! The models and presets the editor's picker lists: `presets/*.toml` and the model folders
//! (those with a `model.json` card) under `models/`, in a few places a musician's files are
//! likely to be (see [`search_roots`]). Read on the GUI thread when the picker opens, never by
//! the audio thread.

use std::path::{Path, PathBuf};

/// The environment variable naming a folder with `models/` and `presets/` to list first.
pub const HOME_ENV: &str = "CANTUS_HOME";

/// One entry of the picker: what it says, and the model path it sets (empty: the embedded model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub label: String,
    pub path: String,
}

/// The embedded model, always first.
pub fn embedded() -> Choice {
    Choice {
        label: "folk (embedded)".into(),
        path: String::new(),
    }
}

/// Where to look: `CANTUS_HOME`, the folder holding the current model (or preset) and the ones
/// above it, the working directory, and the source tree the plugin was built from.
pub fn search_roots(current: &str) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = std::env::var_os(HOME_ENV)
        .map(PathBuf::from)
        .into_iter()
        .collect();
    let current = Path::new(current.trim());
    if current.is_absolute() {
        roots.extend(current.ancestors().skip(1).take(3).map(Path::to_path_buf));
    }
    roots.extend(std::env::current_dir().ok());
    roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    roots
}

/// The presets and model folders under `roots`, each listed once (by canonical path), presets
/// first, each group sorted by name; after the embedded model.
pub fn choices(roots: &[PathBuf]) -> Vec<Choice> {
    let mut seen = Vec::new();
    let mut presets = Vec::new();
    let mut models = Vec::new();
    for root in roots {
        for path in entries(&root.join("presets")) {
            if path.extension().is_some_and(|e| e == "toml") {
                remember(&path, "preset", &mut seen, &mut presets);
            }
        }
        for path in entries(&root.join("models")) {
            if path.join("model.json").is_file() {
                remember(&path, "model", &mut seen, &mut models);
            }
        }
    }
    presets.sort_by(|a: &Choice, b| a.label.cmp(&b.label));
    models.sort_by(|a: &Choice, b| a.label.cmp(&b.label));
    std::iter::once(embedded())
        .chain(presets)
        .chain(models)
        .collect()
}

fn entries(folder: &Path) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
}

fn remember(path: &Path, kind: &str, seen: &mut Vec<PathBuf>, into: &mut Vec<Choice>) {
    let Ok(canonical) = path.canonicalize() else {
        return;
    };
    if seen.contains(&canonical) {
        return;
    }
    let name = canonical
        .file_stem()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    into.push(Choice {
        label: format!("{kind}: {name}"),
        path: canonical.to_string_lossy().into_owned(),
    });
    seen.push(canonical);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_presets_and_model_folders_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("presets")).unwrap();
        std::fs::write(root.join("presets/warm.toml"), "").unwrap();
        std::fs::write(root.join("presets/notes.txt"), "").unwrap();
        std::fs::create_dir_all(root.join("models/jig")).unwrap();
        std::fs::write(root.join("models/jig/model.json"), "{}").unwrap();
        std::fs::create_dir_all(root.join("models/empty")).unwrap();
        let listed = choices(&[root.to_path_buf(), root.join("presets/..")]);
        let labels: Vec<_> = listed.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["folk (embedded)", "preset: warm", "model: jig"]);
        assert!(listed[1].path.ends_with("warm.toml"));
        assert!(Path::new(&listed[2].path).join("model.json").is_file());
    }

    #[test]
    fn the_current_models_folders_are_searched() {
        let roots = search_roots("/music/cantus/models/jig");
        assert!(roots.contains(&PathBuf::from("/music/cantus")));
        assert!(roots.contains(&PathBuf::from(env!("CARGO_MANIFEST_DIR"))));
    }
}
