//! File helpers: every output is written to a temporary name in the same
//! folder and then renamed, so a reader never sees a half-written file and an
//! interrupted run leaves the previous file in place.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{DataError, Result};

/// The temporary sibling of `path` that output is written to before the rename.
pub(crate) fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes a file through `write` into a temporary name, then renames it to `path`.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|err| DataError::io(parent, err))?;
    }
    let temporary = temporary_path(path);
    let result = File::create(&temporary).and_then(|file| {
        let mut writer = BufWriter::new(file);
        write(&mut writer)?;
        writer.flush()?;
        writer.get_ref().sync_all()
    });
    if let Err(err) = result {
        // The temporary file is incomplete, so it goes; the write error is the one to report.
        let _ = fs::remove_file(&temporary);
        return Err(DataError::io(&temporary, err));
    }
    fs::rename(&temporary, path).map_err(|err| DataError::io(path, err))
}

/// Writes one JSON value per line.
pub fn write_jsonl<T: Serialize>(path: &Path, items: &[T]) -> Result<()> {
    write_atomically(path, |writer| {
        for item in items {
            serde_json::to_writer(&mut *writer, item).map_err(std::io::Error::other)?;
            writer.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// Writes pretty-printed JSON with a final newline.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_atomically(path, |writer| {
        serde_json::to_writer_pretty(&mut *writer, value).map_err(std::io::Error::other)?;
        writer.write_all(b"\n")
    })
}

/// Reads the non-blank lines of a JSONL file, each with its one-based line number.
pub(crate) fn read_jsonl_values(path: &Path) -> Result<Vec<(usize, serde_json::Value)>> {
    let file = File::open(path).map_err(|err| DataError::io(path, err))?;
    let mut values = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|err| DataError::io(path, err))?;
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(&line).map_err(|err| DataError::InvalidRecord {
            path: path.to_path_buf(),
            line: index + 1,
            reason: format!("not valid JSON: {err}"),
        })?;
        values.push((index + 1, value));
    }
    Ok(values)
}
