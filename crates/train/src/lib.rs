//! Training: masked supervised fine-tuning of the transformer on dataset
//! records. It uses AdamW without decay on norms and biases, a warm-up and
//! cosine schedule, global-norm clipping and gradient accumulation. Checkpoints
//! resume to the same weights as an uninterrupted run, and batched rollouts
//! serve validation and evaluation.
//!
//! Datasets and tokenizers come from `selfcorrect-data`, the model from
//! `selfcorrect-model`; this crate owns the loop and its state.

pub mod adamw;
pub mod batches;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod retention;
pub mod rollout;
pub mod schedule;
pub mod trainer;

pub use config::{ResolvedTrainConfig, TrainConfig};
pub use error::{Result, TrainError};
pub use rollout::{Rollout, RolloutRequest, run_rollouts};
pub use trainer::{MetricsRecord, TrainOutcome, train};
