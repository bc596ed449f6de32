//! `selfcorrect run [CONFIG]`.

use std::path::PathBuf;

use anyhow::Context;

use crate::Failure;
use crate::experiment::config::{DEFAULT_CONFIG, ExperimentConfig, PAPER_CONFIG, TINY_CONFIG};
use crate::experiment::{RunOptions, run_experiment};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// An experiment config (TOML), or a preset name: default, paper or tiny. Without it, the
    /// built-in default (about 15 minutes on 2 CPU cores).
    pub config: Option<String>,
    /// Run folder; finished stages found there are reused. Default: runs/NAME.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &RunArgs) -> Result<u8, Failure> {
    let (text, source) = match args.config.as_deref() {
        None | Some("default") => (DEFAULT_CONFIG.to_string(), "the built-in default".to_string()),
        Some("paper") => (PAPER_CONFIG.to_string(), "the paper preset".to_string()),
        Some("tiny") => (TINY_CONFIG.to_string(), "the tiny preset".to_string()),
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| {
                format!("failed to read experiment config {path}; give a TOML file or a preset: default, paper, tiny")
            })?,
            path.to_string(),
        ),
    };
    let config = ExperimentConfig::parse(&text, &source)?;
    if args.config.is_none() {
        eprintln!(
            "running the built-in default study ({} on {}, families {}); it takes about 15 minutes on 2 CPU cores",
            config.name,
            config.tasks.join(", "),
            config.families.join(", ")
        );
    }
    let out_dir = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(&config.name));
    // The report shows the resolved config, every default written out.
    let resolved = toml::to_string(&config).context("failed to write the resolved experiment config")?;
    let report = run_experiment(&config, &RunOptions { out_dir, config_text: resolved })?;
    eprintln!("report: {}", report.display());
    Ok(0)
}
