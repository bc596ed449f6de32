//! The `selfcorrect` binary: a thin layer over the library crates.
//!
//! Exit codes: 0 on success, 1 when a check ran and found the input wanting
//! (such as a valid Sudoku that naked singles cannot solve), 2 on invalid input
//! or usage.

mod commands;
mod io;
mod report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "selfcorrect",
    version,
    about = "Research toolkit for teaching language models to correct their own reasoning"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate problems with golden traces as JSONL records.
    Generate(commands::generate::Args),
    /// Verify model outputs step by step, or validate one Sudoku puzzle.
    Check(commands::check::Args),
    /// Print one example as a person would read it.
    Show(commands::show::Args),
    /// List the tasks and their error kinds.
    Tasks,
    /// Rebuild report.md, report.html and plots/ of a run from its results.json.
    Report {
        /// The run folder.
        run_dir: std::path::PathBuf,
    },
}

/// An error with the exit code it should produce.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure { code: 2, error: error.into() }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("selfcorrect: error: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Generate(args) => commands::generate::run(&args),
        Command::Check(args) => commands::check::run(&args),
        Command::Show(args) => commands::show::run(&args),
        Command::Tasks => commands::show::list_tasks(),
        Command::Report { run_dir } => {
            report::write_report(&run_dir)?;
            eprintln!("wrote {}", run_dir.join("report.html").display());
            Ok(0)
        }
    }
}
