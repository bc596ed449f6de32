//! Output helpers shared by the commands.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A writer to stdout, or to a file that appears under its final name only
/// after [`Output::finish`], so an interrupted run never leaves a partial file
/// in place of an earlier complete one.
pub enum Output {
    Stdout(BufWriter<io::Stdout>),
    File { writer: BufWriter<File>, temporary: PathBuf, path: PathBuf },
}

impl Output {
    pub fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Output::Stdout(BufWriter::new(io::stdout())));
        };
        let temporary = temporary_path(path);
        let file = File::create(&temporary).with_context(|| format!("failed to create {}", temporary.display()))?;
        Ok(Output::File { writer: BufWriter::new(file), temporary, path: path.to_path_buf() })
    }

    pub fn finish(self) -> anyhow::Result<()> {
        match self {
            Output::Stdout(mut writer) => writer.flush().context("failed to write to stdout"),
            Output::File { writer, temporary, path } => {
                let file = writer
                    .into_inner()
                    .map_err(|err| err.into_error())
                    .with_context(|| format!("failed to write {}", temporary.display()))?;
                file.sync_all().with_context(|| format!("failed to write {}", temporary.display()))?;
                fs::rename(&temporary, &path)
                    .with_context(|| format!("failed to move {} to {}", temporary.display(), path.display()))
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(writer) => writer.write(buf),
            Output::File { writer, .. } => writer.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(writer) => writer.flush(),
            Output::File { writer, .. } => writer.flush(),
        }
    }
}

/// `dir/name` becomes `dir/.name.tmp`, in the same folder so the rename is atomic.
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}
