//! `selfcorrect generate`: problems with golden traces as JSONL.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use selfcorrect_tasks::{Problem, TASK_FAMILIES, task_by_name};
use serde::Serialize;

use crate::Failure;
use crate::io::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, help = format!("Task name: {TASK_FAMILIES}"))]
    pub task: String,
    /// Number of records to write.
    #[arg(long, default_value_t = 10)]
    pub count: u64,
    /// Dataset seed; item i of seed s is the same on every machine.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Index of the first item.
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Output file (written under a temporary name, then renamed); stdout if absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// A generated problem as written to JSONL.
#[derive(Debug, Serialize)]
pub struct GoldenRecord {
    pub id: String,
    pub task: String,
    pub problem: serde_json::Value,
    pub prompt: String,
    pub trace: Vec<String>,
    pub answer: String,
    pub meta: Meta,
}

#[derive(Debug, Serialize)]
pub struct Meta {
    pub seed: u64,
    pub index: u64,
}

impl GoldenRecord {
    pub fn new(task: &str, seed: u64, index: u64, problem: &dyn Problem) -> Self {
        GoldenRecord {
            id: format!("{task}/{seed}/{index}"),
            task: task.to_string(),
            problem: problem.to_json(),
            prompt: problem.prompt(),
            trace: problem.golden_steps(),
            answer: problem.answer(),
            meta: Meta { seed, index },
        }
    }
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let task = task_by_name(&args.task)?;
    let mut out = Output::open(args.out.as_deref())?;
    let end = args.start.checked_add(args.count).context("--start plus --count overflows")?;
    for index in args.start..end {
        let problem = task.generate(args.seed, index)?;
        let record = GoldenRecord::new(task.name(), args.seed, index, problem.as_ref());
        serde_json::to_writer(&mut out, &record).context("failed to write a record")?;
        out.write_all(b"\n").context("failed to write a record")?;
    }
    out.finish()?;
    Ok(0)
}
