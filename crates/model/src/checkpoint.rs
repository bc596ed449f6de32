//! Checkpoints in the Hugging Face layout: a directory with `model.safetensors` (tensors under
//! their Hugging Face keys) and `config.json`.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::DType;
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};

use crate::config::{ModelConfig, ResolvedConfig};
use crate::error::{ModelError, Result};
use crate::transformer::Transformer;
use crate::weights::{Init, WeightSource, named_weights};

/// File name of the weights inside a checkpoint directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// File name of the config inside a checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";

/// Saves `model` into `dir` (created if needed) as `model.safetensors` and `config.json`.
///
/// Each file is written under a temporary name and renamed into place, so a crash never leaves
/// a partly written file under the final name. Tensors keep their dtype (`f32` unless the device
/// was configured otherwise). The safetensors metadata carries `format: pt`, which Hugging Face
/// `transformers` expects.
pub fn save(model: &Transformer, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|source| ModelError::Io { path: dir.to_path_buf(), source })?;
    let weights_path = dir.join(WEIGHTS_FILE);

    let weights = named_weights(model);
    write_tensors(&weights_path, &weights)?;

    // `torch_dtype` names the dtype the weights were saved in.
    let config_path = dir.join(CONFIG_FILE);
    let mut config = model.config().to_model_config();
    config.torch_dtype = weights.first().and_then(|(_, data)| torch_dtype(data.dtype())).map(str::to_string);
    let json = serde_json::to_string_pretty(&config)
        .map_err(|source| ModelError::ConfigJson { path: config_path.clone(), source })?;
    write_atomic(&config_path, json.as_bytes())
}

/// Reads and validates `config.json` from a checkpoint directory.
pub fn load_config(dir: &Path) -> Result<ResolvedConfig> {
    let path = dir.join(CONFIG_FILE);
    let json = fs::read_to_string(&path).map_err(|source| ModelError::Io { path: path.clone(), source })?;
    let config = ModelConfig::from_json(&json).map_err(|source| ModelError::ConfigJson { path, source })?;
    config.validate()
}

/// Writes named tensors to one safetensors file, atomically, with the
/// `format: pt` metadata that Hugging Face `transformers` expects.
pub fn write_tensors(path: &Path, tensors: &[(String, TensorData)]) -> Result<()> {
    let mut views = Vec::with_capacity(tensors.len());
    for (key, data) in tensors {
        let dtype = safetensors_dtype(data.dtype()).ok_or_else(|| ModelError::UnsupportedDtype {
            key: key.clone(),
            path: path.to_path_buf(),
            dtype: format!("{:?}", data.dtype()),
        })?;
        // NOTE: safetensors is little-endian and `TensorData` bytes are native-endian, so this
        // is correct on little-endian hosts only (x86-64, AArch64).
        let view = TensorView::new(dtype, data.shape().to_vec(), data.as_bytes()).map_err(|error| {
            ModelError::SaveFailed { path: path.to_path_buf(), reason: format!("tensor `{key}`: {error}") }
        })?;
        views.push((key.clone(), view));
    }
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|error| ModelError::SaveFailed { path: path.to_path_buf(), reason: error.to_string() })?;
    write_atomic(path, &bytes)
}

/// Reads every tensor of a safetensors file, keyed by name.
pub fn read_tensors(path: &Path) -> Result<HashMap<String, TensorData>> {
    let bytes = fs::read(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|error| ModelError::CorruptCheckpoint { path: path.to_path_buf(), reason: error.to_string() })?;
    let mut source = SafetensorsSource { tensors, path: path.to_path_buf() };
    let keys: Vec<(String, Vec<usize>)> =
        source.tensors.tensors().into_iter().map(|(key, view)| (key, view.shape().to_vec())).collect();
    let mut out = HashMap::with_capacity(keys.len());
    for (key, shape) in keys {
        let data = source.tensor(&key, &shape, Init::Zeros)?;
        out.insert(key, data);
    }
    Ok(out)
}

/// Loads a checkpoint directory onto `device`.
///
/// Every tensor the config requires must be present with the shape the config implies, and the
/// error for a mismatch names the key and both shapes. Extra tensors (such as `lm_head.weight` beside tied
/// embeddings) are ignored. F64, F32, F16 and BF16 tensors are converted to the device's float
/// dtype.
pub fn load(dir: &Path, device: &Device) -> Result<Transformer> {
    let config = load_config(dir)?;

    let path = dir.join(WEIGHTS_FILE);
    let bytes = fs::read(&path).map_err(|source| ModelError::Io { path: path.clone(), source })?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|error| ModelError::CorruptCheckpoint { path: path.clone(), reason: error.to_string() })?;

    let mut source = SafetensorsSource { tensors, path };
    Transformer::from_weights(&config, &mut source, device)
}

/// Reads tensors from a deserialised safetensors buffer.
struct SafetensorsSource<'data> {
    tensors: SafeTensors<'data>,
    path: PathBuf,
}

impl WeightSource for SafetensorsSource<'_> {
    fn tensor(&mut self, key: &str, shape: &[usize], _init: Init) -> Result<TensorData> {
        let view = self.tensors.tensor(key).map_err(|error| match error {
            SafeTensorError::TensorNotFound(_) => {
                ModelError::MissingTensor { key: key.to_string(), path: self.path.clone() }
            }
            other => {
                ModelError::CorruptCheckpoint { path: self.path.clone(), reason: format!("tensor `{key}`: {other}") }
            }
        })?;

        if view.shape() != shape {
            return Err(ModelError::ShapeMismatch {
                key: key.to_string(),
                path: self.path.clone(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        let dtype = burn_dtype(view.dtype()).ok_or_else(|| ModelError::UnsupportedDtype {
            key: key.to_string(),
            path: self.path.clone(),
            dtype: format!("{:?}", view.dtype()),
        })?;

        TensorData::try_from_bytes_vec(view.data().to_vec(), shape.to_vec(), dtype).map_err(|error| {
            ModelError::CorruptCheckpoint { path: self.path.clone(), reason: format!("tensor `{key}`: {error:?}") }
        })
    }
}

fn safetensors_dtype(dtype: DType) -> Option<Dtype> {
    match dtype {
        DType::F64 => Some(Dtype::F64),
        DType::F32 => Some(Dtype::F32),
        DType::F16 => Some(Dtype::F16),
        DType::BF16 => Some(Dtype::BF16),
        _ => None,
    }
}

fn torch_dtype(dtype: DType) -> Option<&'static str> {
    match dtype {
        DType::F64 => Some("float64"),
        DType::F32 => Some("float32"),
        DType::F16 => Some("float16"),
        DType::BF16 => Some("bfloat16"),
        _ => None,
    }
}

fn burn_dtype(dtype: Dtype) -> Option<DType> {
    match dtype {
        Dtype::F64 => Some(DType::F64),
        Dtype::F32 => Some(DType::F32),
        Dtype::F16 => Some(DType::F16),
        Dtype::BF16 => Some(DType::BF16),
        _ => None,
    }
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk and renames it to `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path.file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let io_error = |source| ModelError::Io { path: temporary.clone(), source };

    let written = fs::File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&temporary, path));
    if let Err(source) = written {
        // Best-effort cleanup: the write error is the one to report.
        if temporary.exists() {
            let _cleanup = fs::remove_file(&temporary);
        }
        return Err(io_error(source));
    }
    Ok(())
}
