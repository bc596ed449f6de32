//! `selfcorrect train` and `selfcorrect sample`.

use std::path::PathBuf;

use burn::tensor::Device;
use selfcorrect_model::SamplingConfig;
use selfcorrect_tasks::{DEFAULT_RECOGNITION, Summary, TASK_FAMILIES, task_by_name};
use selfcorrect_train::{RolloutRequest, TrainConfig, run_rollouts};

use crate::Failure;
use crate::evaluate::{LoadedModel, load_model};

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Training config (TOML) with [model], [data], [optim] and [run] tables.
    #[arg(long)]
    pub config: PathBuf,
    /// Output folder; overrides run.out_dir. A folder with checkpoints of the same config resumes.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn train(args: &TrainArgs) -> Result<u8, Failure> {
    let mut config = TrainConfig::from_file(&args.config)?;
    if let Some(out) = &args.out {
        config.run.out_dir = out.clone();
    }
    let resolved = config.validate()?;
    let steps = config.optim.steps;
    let outcome = selfcorrect_train::train(&resolved, &Device::flex(), &mut |record| {
        eprintln!("{}", record.progress_line(steps));
    })?;
    if let Some(step) = outcome.resumed_from {
        eprintln!("resumed from step {step}");
    }
    eprintln!("final checkpoint: {}", outcome.checkpoint.display());
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// A checkpoint folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long, help = format!("Task name: {TASK_FAMILIES}"))]
    pub task: String,
    /// Problems to sample, from the test split's seed space.
    #[arg(long, default_value_t = 8)]
    pub count: u64,
    /// Dataset seed of the problems.
    #[arg(long, default_value_t = 1_000_003)]
    pub seed: u64,
    /// Softmax temperature, at least 0; 0 is greedy decoding.
    #[arg(long, default_value_t = 0.0, value_parser = parse_temperature, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Nucleus sampling threshold in (0, 1]; 1 samples from the whole distribution.
    #[arg(long, default_value_t = 1.0, value_parser = parse_top_p)]
    pub top_p: f64,
    #[arg(long, default_value_t = 1024)]
    pub max_new_tokens: usize,
    /// Sequences decoded together.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, default_value = DEFAULT_RECOGNITION)]
    pub recognition: String,
}

fn parse_temperature(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err("expected a finite number of at least 0, such as 0 (greedy) or 0.7".to_string()),
    }
}

fn parse_top_p(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value > 0.0 && value <= 1.0 => Ok(value),
        _ => Err("expected a number above 0 and at most 1, such as 0.95".to_string()),
    }
}

pub fn sample(args: &SampleArgs) -> Result<u8, Failure> {
    let device = Device::flex();
    let task = task_by_name(&args.task)?;
    let LoadedModel { model, tokenizer } = load_model(&args.model, &device)?;
    if args.batch_size == 0 {
        return Err(anyhow::anyhow!("--batch-size 0 is invalid; decode at least 1 sequence at a time").into());
    }
    let problems = (0..args.count).map(|index| task.generate(args.seed, index)).collect::<Result<Vec<_>, _>>()?;
    let requests: Vec<RolloutRequest<'_>> =
        problems.iter().map(|problem| RolloutRequest { problem: problem.as_ref(), prefix: String::new() }).collect();
    let sampling = SamplingConfig {
        max_new_tokens: args.max_new_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        eos_token_id: Some(tokenizer.eos_id()),
        seed: args.seed,
    };
    let rollouts = run_rollouts(&model, &tokenizer, &requests, &sampling, &args.recognition, args.batch_size, &device)?;

    let mut summary = Summary::new(task.as_ref());
    for (index, (problem, rollout)) in problems.iter().zip(&rollouts).enumerate() {
        summary.add(&rollout.annotation);
        let record = serde_json::json!({
            "id": format!("{}/{}/{index}", task.name(), args.seed),
            "task": task.name(),
            "problem": problem.to_json(),
            "output": rollout.output,
            "cut_off": rollout.cut_off,
            "score": rollout.annotation.score,
        });
        println!("{record}");
    }
    eprint!("{summary}");
    Ok(0)
}
