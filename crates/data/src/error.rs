//! The crate's error type.

use std::path::PathBuf;

/// Errors from configs, dataset building, tokenizers and exports.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A config field with a value outside its allowed range or set.
    #[error("invalid config field `{field}` = {value}: expected {allowed}")]
    InvalidConfig { field: String, value: String, allowed: String },

    /// A config file or override that is not valid TOML or does not match the schema.
    #[error("invalid config: {0}")]
    ConfigSyntax(String),

    #[error(transparent)]
    Task(#[from] selfcorrect_tasks::TaskError),

    /// A problem of a task that cannot be used for a dataset, such as a trace
    /// with no step where any error kind can be injected.
    #[error("{0}")]
    Dataset(String),

    /// A line of a JSONL input that could not be read as a record.
    #[error("{path}:{line}: {reason}")]
    InvalidRecord { path: PathBuf, line: usize, reason: String },

    /// Text containing a character the tokenizer has no token for.
    #[error(
        "character {character:?} (U+{code:04X}) at byte {offset} of record {record} is not in the \
         tokenizer's vocabulary; {fix}"
    )]
    UnknownCharacter { character: char, code: u32, offset: usize, record: String, fix: String },

    /// A tokenizer file that cannot be loaded or used.
    #[error("tokenizer {path}: {reason}")]
    Tokenizer { path: String, reason: String },

    /// A named special token that the vocabulary does not contain.
    #[error("special token {role} = {name:?} is not in the tokenizer's vocabulary; {fix}")]
    MissingSpecialToken { role: &'static str, name: String, fix: String },

    #[error("batch: {0}")]
    Batch(String),

    #[error("parquet: {0}")]
    Parquet(String),

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{path}: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }

    pub(crate) fn invalid_config(field: &str, value: impl ToString, allowed: impl ToString) -> Self {
        DataError::InvalidConfig { field: field.to_string(), value: value.to_string(), allowed: allowed.to_string() }
    }
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;
