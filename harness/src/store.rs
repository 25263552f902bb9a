//! The run folder on disk (DESIGN "Run folder"): created at the start, appended to as things
//! happen, so a harness killed at any moment leaves a folder `traitor check` can read.

use crate::exit::Failure;
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use traitor_model::Manifest;

/// One run's folder.
#[derive(Clone, Debug)]
pub struct RunStore {
    pub dir: PathBuf,
}

impl RunStore {
    /// Creates `<root>/<campaign>/<run_id>/` and its `logs/`.
    pub fn create(root: &Path, campaign: &str, run_id: &str) -> Result<Self, Failure> {
        let dir = root.join(campaign).join(run_id);
        std::fs::create_dir_all(dir.join("logs"))
            .map_err(|e| Failure::harness(format!("creating run folder {}: {e}", dir.display())))?;
        Ok(Self { dir })
    }

    /// Writes `manifest.json` atomically (a reader never sees half a manifest).
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<(), Failure> {
        self.write_json("manifest.json", manifest)
    }

    /// Writes a whole JSON file atomically: to a temporary name, then renamed.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), Failure> {
        let path = self.dir.join(name);
        write_json_atomically(&path, value)
            .map_err(|e| Failure::harness(format!("writing {}: {e}", path.display())))
    }

    /// An appender for a `.jsonl` file of the run (created if absent, never truncated).
    pub fn jsonl(&self, name: &str) -> Result<Jsonl, Failure> {
        let path = self.dir.join(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Failure::harness(format!("opening {}: {e}", path.display())))?;
        Ok(Jsonl {
            inner: Arc::new(Mutex::new((BufWriter::new(file), 0))),
            path,
        })
    }
}

/// Writes `bytes` to a hidden temporary name beside `path`, then renames it over `path`,
/// so a reader (a later `traitor check`, a resumed campaign) never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// [`write_atomically`] for a value as pretty JSON with a final newline.
pub fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let mut text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    text.push(b'\n');
    write_atomically(path, &text)
}

/// A JSON-lines file written one whole line at a time and flushed after each, shared
/// between tasks. Lines are numbered in file order.
#[derive(Clone, Debug)]
pub struct Jsonl {
    inner: Arc<Mutex<(BufWriter<File>, u64)>>,
    path: PathBuf,
}

impl Jsonl {
    /// Appends one record and flushes it to the file.
    pub fn append<T: Serialize>(&self, record: &T) -> Result<(), Failure> {
        self.append_numbered(|_| record)
    }

    /// Appends the record `make` builds from the line's number (0-based), so numbers follow
    /// file order even when tasks race.
    pub fn append_numbered<T: Serialize>(
        &self,
        make: impl FnOnce(u64) -> T,
    ) -> Result<(), Failure> {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (out, count) = &mut *guard;
        let mut line = serde_json::to_vec(&make(*count))
            .map_err(|e| Failure::harness(format!("encoding a record: {e}")))?;
        line.push(b'\n');
        *count += 1;
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|e| Failure::harness(format!("writing {}: {e}", self.path.display())))
    }
}
