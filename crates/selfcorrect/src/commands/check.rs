//! `selfcorrect check`: step-by-step verification of model outputs, and
//! validation of a single Sudoku puzzle.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use selfcorrect_tasks::sudoku::{Grid, SinglesOutcome, Sudoku};
use selfcorrect_tasks::{DEFAULT_RECOGNITION, Summary, TASK_FAMILIES, Task, task_by_name};
use serde_json::{Map, Value};

use crate::Failure;
use crate::io::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, help = format!(
        "Task name: {TASK_FAMILIES}. Optional with FILE when every record has a \"task\" field"
    ))]
    pub task: Option<String>,
    /// JSONL file of records with "problem" and "output" fields ('-' for stdin).
    #[arg(required_unless_present = "puzzle", conflicts_with = "puzzle")]
    pub file: Option<PathBuf>,
    /// A Sudoku puzzle of 16 or 81 characters, digits for givens and '.' or '0' for blanks.
    #[arg(long)]
    pub puzzle: Option<String>,
    /// The recognition phrase that flags the step before it as a mistake.
    #[arg(long, default_value = DEFAULT_RECOGNITION)]
    pub recognition: String,
    /// Where to write annotated records (temporary name, then rename); stdout if absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    match (&args.puzzle, &args.file) {
        (Some(puzzle), _) => check_puzzle(args.task.as_deref(), puzzle),
        (None, Some(file)) => check_file(args, file),
        (None, None) => Err(anyhow!("give a FILE of records or --puzzle").into()),
    }
}

/// Validates one puzzle: exit 0 with its golden trace when it has one solution
/// and naked singles reach it, 1 when it has one solution but needs other
/// techniques, 2 when it is malformed, contradictory, unsolvable or ambiguous.
fn check_puzzle(task_name: Option<&str>, text: &str) -> Result<u8, Failure> {
    let grid = Grid::parse(text)?;
    let expected = format!("sudoku-{0}x{0}", grid.size);
    let name = task_name.unwrap_or(&expected);
    let task = task_by_name(name)?;
    if !name.starts_with(&expected) {
        return Err(anyhow!("a {0}x{0} puzzle given with --task {name}; use --task {expected}", grid.size).into());
    }

    match grid.count_solutions(2) {
        0 => return Err(anyhow!("invalid puzzle: it has no solution").into()),
        1 => {}
        _ => return Err(anyhow!("invalid puzzle: it has several solutions").into()),
    }
    if let SinglesOutcome::Stuck { placed, empty } = grid.solve_singles() {
        println!("one solution: yes");
        println!("naked singles: stall after {placed} placements with {empty} cells empty");
        return Ok(1);
    }

    let sudoku = Sudoku::from_spec(task.name(), &task.name()["sudoku-".len()..])?;
    let problem = sudoku.puzzle(text)?;
    println!("one solution: yes");
    println!("naked singles: solve it in {} placements", problem.solution().cells.len() - grid.filled());
    println!();
    print!("{}", selfcorrect_tasks::Problem::prompt(&problem));
    for step in selfcorrect_tasks::Problem::golden_steps(&problem) {
        println!("{step}");
    }
    Ok(0)
}

fn check_file(args: &Args, path: &PathBuf) -> Result<u8, Failure> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file = File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
        Box::new(BufReader::new(file))
    };
    let fixed_task = args.task.as_deref().map(task_by_name).transpose()?;
    let mut out = Output::open(args.out.as_deref())?;
    let mut summaries: Vec<(String, Summary)> = Vec::new();
    let mut bad_lines = 0usize;

    // Lines are read as bytes so that one line of invalid UTF-8 is reported
    // as that line's error while every other line is still annotated.
    for (number, bytes) in reader.split(b'\n').enumerate() {
        let number = number + 1;
        let bytes = bytes.with_context(|| format!("failed to read line {number} of {}", path.display()))?;
        let line = String::from_utf8(bytes).map_err(|_| anyhow!("line is not valid UTF-8"));
        if line.as_deref().is_ok_and(|l| l.trim().is_empty()) {
            continue;
        }
        let annotated =
            line.and_then(|line| annotate_line(&line, fixed_task.as_deref(), &args.recognition, &mut summaries));
        let record = match annotated {
            Ok(record) => record,
            Err(err) => {
                bad_lines += 1;
                eprintln!("selfcorrect: error: line {number}: {err:#}");
                let mut record = Map::new();
                record.insert("line".into(), Value::from(number));
                record.insert("error".into(), Value::from(format!("{err:#}")));
                record
            }
        };
        serde_json::to_writer(&mut out, &record).context("failed to write a record")?;
        out.write_all(b"\n").context("failed to write a record")?;
    }
    out.finish()?;

    for (task, summary) in &summaries {
        eprintln!("task {task}");
        eprint!("{summary}");
    }
    if bad_lines > 0 {
        return Err(anyhow!("{bad_lines} invalid line(s); every other line was annotated").into());
    }
    Ok(0)
}

fn annotate_line(
    line: &str,
    fixed_task: Option<&dyn Task>,
    recognition: &str,
    summaries: &mut Vec<(String, Summary)>,
) -> anyhow::Result<Map<String, Value>> {
    let mut record: Map<String, Value> = match serde_json::from_str(line) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(anyhow!("expected a JSON object")),
        Err(err) => return Err(anyhow!("invalid JSON: {err}")),
    };
    let record_task = record.get("task").and_then(Value::as_str).map(str::to_string);
    let owned;
    let task: &dyn Task = match (fixed_task, &record_task) {
        (Some(task), Some(name)) if name != task.name() => {
            return Err(anyhow!("record is for task {name}, but --task is {}", task.name()));
        }
        (Some(task), _) => task,
        (None, Some(name)) => {
            owned = task_by_name(name)?;
            owned.as_ref()
        }
        (None, None) => return Err(anyhow!("record has no \"task\" field; pass --task")),
    };
    let problem_json = record.get("problem").ok_or_else(|| anyhow!("record has no \"problem\" field"))?;
    let problem = task.load(problem_json)?;
    let output = match record.get("output") {
        Some(Value::String(text)) => text.clone(),
        Some(_) => return Err(anyhow!("\"output\" must be a string")),
        None => return Err(anyhow!("record has no \"output\" field")),
    };

    let annotation = problem.annotate(&output, recognition);
    let summary = match summaries.iter_mut().position(|(name, _)| name == task.name()) {
        Some(index) => &mut summaries[index].1,
        None => {
            summaries.push((task.name().to_string(), Summary::new(task)));
            &mut summaries.last_mut().expect("just pushed").1
        }
    };
    summary.add(&annotation);
    record.insert("annotation".into(), serde_json::to_value(&annotation)?);
    Ok(record)
}
