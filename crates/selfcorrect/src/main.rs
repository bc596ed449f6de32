//! The `selfcorrect` binary: a thin layer over the library crates.
//!
//! Exit codes: 0 on success, 1 when a check ran and found the input wanting
//! (such as a valid Sudoku that naked singles cannot solve), 2 on invalid input
//! or usage.

mod commands;
mod evaluate;
mod experiment;
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
    /// Build train, validation and test splits (FT or EIFT) with loss masks.
    Dataset(commands::data::DatasetArgs),
    /// Inject synthetic errors into golden records from a JSONL file.
    Inject(commands::data::InjectArgs),
    /// Tokenize dataset records for Python training stacks (Parquet or JSONL).
    Export(commands::data::ExportArgs),
    /// Train or fine-tune a transformer on a dataset.
    Train(commands::train::TrainArgs),
    /// Sample rollouts from a checkpoint and verify them.
    Sample(commands::train::SampleArgs),
    /// Evaluate self-correction: free rollouts, synthetic and on-policy error prefills.
    Eval(commands::eval::EvalArgs),
    /// Mine a model's own first errors as reusable prefills.
    Mine(commands::eval::MineArgs),
    /// Print one example as a person would read it.
    Show(commands::show::Args),
    /// List the tasks and their error kinds.
    Tasks,
    /// Run the FT-versus-EIFT study and write its report (built-in default without CONFIG).
    Run(commands::run::RunArgs),
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
            eprintln!("selfcorrect: error: {}", error_chain(&failure.error));
            ExitCode::from(failure.code)
        }
    }
}

/// Joins an error and its causes with ": ", leaving out a cause whose text the
/// message already contains (library errors often quote their source).
fn error_chain(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Generate(args) => commands::generate::run(&args),
        Command::Check(args) => commands::check::run(&args),
        Command::Show(args) => commands::show::run(&args),
        Command::Dataset(args) => commands::data::dataset(&args),
        Command::Inject(args) => commands::data::inject_command(&args),
        Command::Export(args) => commands::data::export_command(&args),
        Command::Train(args) => commands::train::train(&args),
        Command::Sample(args) => commands::train::sample(&args),
        Command::Eval(args) => commands::eval::eval(&args),
        Command::Mine(args) => commands::eval::mine_command(&args),
        Command::Tasks => commands::show::list_tasks(),
        Command::Run(args) => commands::run::run(&args),
        Command::Report { run_dir } => {
            report::write_report(&run_dir)?;
            eprintln!("wrote {}", run_dir.join("report.html").display());
            Ok(0)
        }
    }
}
