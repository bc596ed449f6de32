//! Datasets for Error Injection Fine-Tuning (EIFT). Records split their text
//! into segments with loss flags, and synthetic errors injected into golden
//! traces are re-checked by the task's verifier. The crate also owns the
//! tokenizers, exact span-to-token loss masks, padded batches, and tokenized
//! exports for Python training stacks.
//!
//! This crate owns no model and no training loop; problems, traces and
//! verifiers come from `selfcorrect-tasks`.
//!
//! # Library API for the command-line tool
//!
//! Each command is config in, files out:
//!
//! - `selfcorrect dataset`: [`DatasetConfig::from_path`] or
//!   [`DatasetConfig::from_toml`] (TOML and `key.path=value` overrides), then
//!   [`DatasetConfig::validate`], then
//!   [`build_dataset`]`(&resolved, out_dir) -> Result<DatasetStats>`. It writes
//!   `train.jsonl`, `validation.jsonl`, `test.jsonl`, `stats.json` and `config.toml`.
//! - `selfcorrect inject`: [`InjectConfig::from_path`] or [`InjectConfig::from_toml`],
//!   then [`inject()`]`(input_jsonl, &config) -> Result<InjectOutput>` and
//!   [`write_jsonl`]`(out_path, &output.records)`.
//! - `selfcorrect export`: [`Tokenizer::from_file`] for any Hugging Face
//!   `tokenizer.json`, or a character-level tokenizer from
//!   [`Tokenizer::char_level_for_task`] or [`Tokenizer::char_level_for_records`]
//!   saved with [`Tokenizer::save`] (build it once and reuse it for every
//!   split, so the ids agree). Then
//!   [`export()`]`(records_jsonl, &tokenizer, format, out_path) -> Result<ExportSummary>`
//!   with [`ExportFormat`] parsed from `"jsonl"` or `"parquet"`.
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

pub use config::{
    DatasetConfig, InjectConfig, KindDraw, MAX_SPLIT_RECORDS, MixConfig, Mode, ResolvedDatasetConfig, ResolvedMix,
    Split,
};
pub use dataset::{DatasetStats, InjectOutput, MixStats, build_dataset, generate_splits, inject};
pub use error::{DataError, Result};
pub use export::{ExportFormat, ExportSummary, export};
pub use io::{write_json, write_jsonl};
pub use mask::{Batch, EncodedExample, IGNORE_INDEX, encode_record, token_loss_flags};
pub use record::{Meta, Record, Role, Segment, read_records};
pub use tokenizer::{SpecialTokens, Token, Tokenizer};
