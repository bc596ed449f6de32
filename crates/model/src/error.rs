//! The error type shared by every module of the crate.

use std::path::PathBuf;

/// Errors from building, running, saving and loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A configuration field has a value outside its allowed range.
    #[error("invalid config field `{field}`: got {value}, expected {allowed}")]
    InvalidConfig { field: &'static str, value: String, allowed: String },

    /// A tensor passed to the model has the wrong shape or content.
    #[error("invalid input `{name}`: {reason}")]
    InvalidInput { name: &'static str, reason: String },

    /// A file could not be read, written or renamed.
    #[error("I/O failed on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    /// A checkpoint could not be serialised.
    #[error("failed to save checkpoint {path}: {reason}")]
    SaveFailed { path: PathBuf, reason: String },

    /// `config.json` is not valid JSON for a model config.
    #[error("failed to parse config {path}: {source}")]
    ConfigJson { path: PathBuf, source: serde_json::Error },

    /// The safetensors file is truncated, corrupt or not a safetensors file.
    #[error("corrupt checkpoint {path}: {reason}; the file may be truncated, so save it again")]
    CorruptCheckpoint { path: PathBuf, reason: String },

    /// A tensor that the config requires is not in the checkpoint.
    #[error("missing tensor `{key}` in checkpoint {path}")]
    MissingTensor { key: String, path: PathBuf },

    /// A checkpoint tensor has a shape that does not match the config.
    #[error("shape mismatch for `{key}` in {path}: expected {expected:?} from the config, found {found:?}")]
    ShapeMismatch { key: String, path: PathBuf, expected: Vec<usize>, found: Vec<usize> },

    /// A checkpoint tensor is stored in a dtype that the loader does not read.
    #[error("unsupported dtype {dtype} for `{key}` in {path}; supported: F64, F32, F16, BF16")]
    UnsupportedDtype { key: String, path: PathBuf, dtype: String },

    /// The backend failed to run an operation or to read a result back.
    #[error("backend failure: {reason}")]
    Backend { reason: String },

    /// The global gradient norm is NaN or infinite, so clipping cannot rescale it.
    #[error("gradient norm is not finite ({norm}); the step should be skipped")]
    NonFiniteGradNorm { norm: f64 },
}

/// Result type of the crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
