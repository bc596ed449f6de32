use std::path::PathBuf;

/// Errors from configuration, data, training and checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid training config: {field} = {value}: expected {allowed}")]
    InvalidConfig { field: String, value: String, allowed: String },
    #[error("failed to read training config {path}: {reason}")]
    ConfigFile { path: PathBuf, reason: String },
    #[error(transparent)]
    Model(#[from] selfcorrect_model::ModelError),
    #[error(transparent)]
    Data(#[from] selfcorrect_data::DataError),
    #[error(transparent)]
    Task(#[from] selfcorrect_tasks::TaskError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid checkpoint {path}: {reason}")]
    InvalidCheckpoint { path: PathBuf, reason: String },
    #[error(
        "the loss became {loss} at step {step}; training stopped and the last checkpoint is unchanged. \
         Lower the learning rate or raise warmup_steps"
    )]
    NonFiniteLoss { step: u64, loss: f64 },
    #[error(
        "tokenizer in {path} has {found} tokens but the model's vocab_size is {expected}; use the tokenizer saved with the model"
    )]
    VocabularyMismatch { path: PathBuf, expected: usize, found: usize },
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}
