//! `selfcorrect show` and `selfcorrect tasks`: examples and taxonomies for people.

use selfcorrect_tasks::{TASK_FAMILIES, task_by_name};

use crate::Failure;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, help = format!("Task name: {TASK_FAMILIES}"))]
    pub task: String,
    /// Dataset seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Item index within the dataset.
    #[arg(long, default_value_t = 0)]
    pub index: u64,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let task = task_by_name(&args.task)?;
    let problem = task.generate(args.seed, args.index)?;
    let steps = problem.golden_steps();
    println!("{} seed {} item {}", task.name(), args.seed, args.index);
    println!();
    println!("prompt:");
    for line in problem.prompt().lines() {
        println!("  {line}");
    }
    println!();
    println!("golden trace ({} steps):", steps.len());
    for (number, step) in steps.iter().enumerate() {
        println!("  {:>3}  {step}", number + 1);
    }
    println!();
    println!("answer: {}", problem.answer());
    Ok(0)
}

pub fn list_tasks() -> Result<u8, Failure> {
    for name in ["mult-4x4", "sudoku-4x4"] {
        let task = task_by_name(name)?;
        let family = name.split('-').next().unwrap_or(name);
        println!("{family} error kinds:");
        for kind in task.error_kinds() {
            let marker = if kind.synthetic { ' ' } else { '*' };
            println!("  {marker}{:<18} {}", kind.name, kind.description);
        }
        println!();
    }
    println!("Task names: {TASK_FAMILIES}.");
    println!("Kinds marked * are detected in rollouts but never injected.");
    Ok(0)
}
