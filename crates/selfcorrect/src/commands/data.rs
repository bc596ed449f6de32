//! `selfcorrect dataset`, `inject` and `export`: EIFT datasets and their
//! tokenized exports.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use selfcorrect_data::{
    DatasetConfig, ExportFormat, InjectConfig, SpecialTokens, Tokenizer, build_dataset, export, inject, read_records,
    write_json, write_jsonl,
};

use crate::Failure;

#[derive(Debug, clap::Args)]
pub struct DatasetArgs {
    /// Dataset config (TOML): task, mode ("ft" or "eift"), seed, [splits], [eift].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Task, when no config file is given.
    #[arg(long)]
    pub task: Option<String>,
    /// Override one config value, as KEY=VALUE (for example splits.train=5000 or eift.injected_fraction=0.3).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Output folder for train.jsonl, validation.jsonl, test.jsonl, stats.json and config.toml.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn dataset(args: &DatasetArgs) -> Result<u8, Failure> {
    let text = match (&args.config, &args.task) {
        (Some(path), _) => {
            std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?
        }
        (None, Some(task)) => format!("task = {task:?}\n"),
        (None, None) => return Err(anyhow!("give --config FILE or --task NAME").into()),
    };
    let mut overrides = args.overrides.clone();
    if let (Some(_), Some(task)) = (&args.config, &args.task) {
        overrides.push(format!("task={task:?}"));
    }
    let config = DatasetConfig::from_toml(&text, &overrides)?.validate()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("failed to create {}", args.out.display()))?;
    let stats = build_dataset(&config, &args.out)?;
    eprintln!(
        "wrote {} train, {} validation and {} test records to {}",
        stats.train.records,
        stats.validation.records,
        stats.test.records,
        args.out.display()
    );
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct InjectArgs {
    /// JSONL records with "task" and "problem" (such as the output of `selfcorrect generate`).
    pub input: PathBuf,
    /// Injection config (TOML): seed and an [eift] table.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one config value, as KEY=VALUE (for example eift.injected_fraction=1).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Output JSONL of dataset records.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn inject_command(args: &InjectArgs) -> Result<u8, Failure> {
    let text = match &args.config {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?,
        None => String::new(),
    };
    let config = InjectConfig::from_toml(&text, &args.overrides)?;
    let output = inject(&args.input, &config)?;
    write_jsonl(&args.out, &output.records)?;
    let stats_path = args.out.with_extension("stats.json");
    write_json(&stats_path, &output.stats)?;
    eprintln!(
        "wrote {} records to {} and counts to {}",
        output.records.len(),
        args.out.display(),
        stats_path.display()
    );
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// JSONL dataset records.
    pub input: PathBuf,
    /// A Hugging Face tokenizer.json. Without it, a character-level tokenizer is built from the
    /// records and saved as tokenizer.json beside --out, replacing any file of that name.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// File format of the output.
    #[arg(long, default_value = "parquet", value_parser = ["jsonl", "parquet"])]
    pub format: String,
    /// The recognition phrase, added to a built character-level vocabulary.
    #[arg(long, default_value = selfcorrect_tasks::DEFAULT_RECOGNITION)]
    pub recognition: String,
    /// Output file with input_ids, attention_mask and labels (-100 outside the loss).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn export_command(args: &ExportArgs) -> Result<u8, Failure> {
    let format: ExportFormat = args.format.parse()?;
    let special = SpecialTokens::default();
    let tokenizer = match &args.tokenizer {
        Some(path) => Tokenizer::from_file(path, &special)?,
        None => {
            let records = read_records(&args.input)?;
            let tokenizer = Tokenizer::char_level_for_records(&records, &args.recognition, &special)?;
            let path = args.out.with_file_name("tokenizer.json");
            tokenizer.save(&path)?;
            eprintln!("built a character-level tokenizer of {} tokens: {}", tokenizer.vocab_size(), path.display());
            tokenizer
        }
    };
    let summary = export(&args.input, &tokenizer, format, &args.out)?;
    eprintln!(
        "wrote {} records ({} tokens, {} in the loss) to {}",
        summary.records,
        summary.tokens,
        summary.loss_tokens,
        args.out.display()
    );
    Ok(0)
}
