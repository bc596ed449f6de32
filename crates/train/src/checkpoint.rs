//! Training checkpoints: `checkpoints/step-NNNNNNNN/` holding the model
//! (Hugging Face layout), the tokenizer, the resolved training config, the
//! optimiser moments and the trainer state. A checkpoint is written into a
//! temporary folder and renamed into place, so a killed write leaves the
//! previous checkpoints intact and never a partial one under a final name.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError, io_error};

pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const TRAIN_CONFIG_FILE: &str = "train_config.json";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
pub const STATE_FILE: &str = "trainer_state.json";

/// The state of a run after a completed optimiser step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Optimiser steps completed; training resumes at this step.
    pub step: u64,
    pub seed: u64,
    /// Loss tokens trained on so far.
    pub tokens: u64,
    /// Mean training loss of the last logged interval.
    pub last_loss: Option<f64>,
}

pub fn checkpoints_dir(out_dir: &Path) -> PathBuf {
    out_dir.join("checkpoints")
}

pub fn checkpoint_dir(out_dir: &Path, step: u64) -> PathBuf {
    checkpoints_dir(out_dir).join(format!("step-{step:08}"))
}

/// Steps of the complete checkpoints under `out_dir`, oldest first.
pub fn list_checkpoints(out_dir: &Path) -> Result<Vec<u64>> {
    let dir = checkpoints_dir(out_dir);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut steps = Vec::new();
    for entry in fs::read_dir(&dir).map_err(io_error(&dir))? {
        let entry = entry.map_err(io_error(&dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(step) = name.strip_prefix("step-").and_then(|s| s.parse::<u64>().ok()) {
            if entry.path().join(STATE_FILE).exists() {
                steps.push(step);
            }
        }
    }
    steps.sort_unstable();
    Ok(steps)
}

/// Writes a checkpoint by letting `fill` write its files into a temporary
/// folder, then renaming the folder to its final name.
pub fn write_checkpoint(out_dir: &Path, step: u64, fill: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    let final_dir = checkpoint_dir(out_dir, step);
    let temporary = checkpoints_dir(out_dir).join(format!(".step-{step:08}.tmp"));
    if temporary.exists() {
        fs::remove_dir_all(&temporary).map_err(io_error(&temporary))?;
    }
    fs::create_dir_all(&temporary).map_err(io_error(&temporary))?;
    fill(&temporary)?;
    if final_dir.exists() {
        fs::remove_dir_all(&final_dir).map_err(io_error(&final_dir))?;
    }
    fs::rename(&temporary, &final_dir).map_err(io_error(&final_dir))?;
    Ok(final_dir)
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|err| TrainError::InvalidCheckpoint { path: path.to_path_buf(), reason: err.to_string() })?;
    fs::write(path, text + "\n").map_err(io_error(path))
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(io_error(path))?;
    serde_json::from_str(&text)
        .map_err(|err| TrainError::InvalidCheckpoint { path: path.to_path_buf(), reason: err.to_string() })
}
