//! Datasets for Error Injection Fine-Tuning (EIFT): records whose text is split
//! into segments with loss flags, synthetic errors injected into golden traces
//! and re-checked by the task's verifier, tokenizers, exact span-to-token loss
//! masks, padded batches, and tokenized exports for Python training stacks.
//!
//! This crate owns no model and no training loop; problems, traces and
//! verifiers come from `selfcorrect-tasks`.
//!
//! # Library API for the command-line tool
//!
//! Each command is config in, files out:
//!
//! - `selfcorrect dataset`: [`DatasetConfig::from_toml`] (TOML text and
//!   `key.path=value` overrides), [`DatasetConfig::validate`], then
//!   [`build_dataset`]`(&resolved, out_dir) -> Result<DatasetStats>`, which writes
//!   `train.jsonl`, `validation.jsonl`, `test.jsonl`, `stats.json` and `config.toml`.
//! - `selfcorrect inject`: [`InjectConfig::from_toml`], then
//!   [`inject`]`(input_jsonl, &config) -> Result<InjectOutput>` and
//!   [`write_jsonl`]`(out_path, &output.records)`.
//! - `selfcorrect export`: [`Tokenizer::from_file`] (any Hugging Face
//!   `tokenizer.json`) or [`Tokenizer::char_level_for_records`] then
//!   [`Tokenizer::save`], then
//!   [`export`]`(records_jsonl, &tokenizer, ExportFormat, out_path) -> Result<ExportSummary>`.
//!
//! Training code reads records with [`read_records`], encodes them with
//! [`encode_record`] and pads them with [`Batch::new`]; the shift convention
//! between inputs, targets and `loss_mask` is documented in [`mask`].

pub mod config;
pub mod dataset;
mod error;
pub mod export;
pub mod inject;
mod io;
pub mod mask;
pub mod record;
pub mod tokenizer;

pub use config::{DatasetConfig, InjectConfig, MixConfig, Mode, ResolvedDatasetConfig, ResolvedMix, Split};
pub use dataset::{DatasetStats, InjectOutput, MixStats, build_dataset, generate_splits, inject};
pub use error::{DataError, Result};
pub use export::{ExportFormat, ExportSummary, export};
pub use io::{write_json, write_jsonl};
pub use mask::{Batch, EncodedExample, IGNORE_INDEX, encode_record, token_loss_flags};
pub use record::{Meta, Record, Role, Segment, read_records};
pub use tokenizer::{SpecialTokens, Token, Tokenizer};
