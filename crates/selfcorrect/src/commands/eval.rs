//! `selfcorrect eval` and `selfcorrect mine`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use burn::tensor::Device;
use selfcorrect_eval::{MinedError, paired_difference};
use selfcorrect_tasks::{DEFAULT_RECOGNITION, Problem, TASK_FAMILIES, Task, task_by_name};

use crate::Failure;
use crate::evaluate::{EvalSettings, EvalSummary, evaluate, load_model, mine};
use crate::io::Output;
use crate::report::MEASURES;
use crate::report::format::{estimate, percent_points};

/// Default seed of evaluation problems: a fixed value no dataset split uses.
pub const DEFAULT_EVAL_SEED: u64 = 1_000_003;

#[derive(Debug, clap::Args)]
pub struct ProblemArgs {
    #[arg(long, help = format!("Task name: {TASK_FAMILIES}"))]
    pub task: Option<String>,
    /// Number of problems.
    #[arg(long, default_value_t = 200)]
    pub count: usize,
    /// Seed of the generated problems (ignored with --data).
    #[arg(long, default_value_t = DEFAULT_EVAL_SEED)]
    pub seed: u64,
    /// A dataset folder: take the problems from its test.jsonl, held out from training.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Maximum tokens generated per rollout.
    #[arg(long, default_value_t = 1024)]
    pub max_new_tokens: usize,
    /// Sequences decoded together.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, default_value = DEFAULT_RECOGNITION)]
    pub recognition: String,
}

impl ProblemArgs {
    fn settings(&self) -> anyhow::Result<EvalSettings> {
        if self.batch_size == 0 || self.max_new_tokens == 0 {
            bail!("--batch-size and --max-new-tokens must be at least 1");
        }
        Ok(self.settings_unchecked())
    }

    fn settings_unchecked(&self) -> EvalSettings {
        EvalSettings {
            max_new_tokens: self.max_new_tokens,
            batch_size: self.batch_size,
            recognition: self.recognition.clone(),
            seed: self.seed,
        }
    }
}

/// Loads the evaluation problems: the test split of `--data`, or generated ones.
pub fn load_problems(args: &ProblemArgs) -> anyhow::Result<(Box<dyn Task>, Vec<Box<dyn Problem>>)> {
    if let Some(dir) = &args.data {
        let path = dir.join("test.jsonl");
        let records = selfcorrect_data::read_records(&path)?;
        let name = match (&args.task, records.first()) {
            (Some(task), _) => task.clone(),
            (None, Some(record)) => record.task.clone(),
            (None, None) => bail!("{} has no records", path.display()),
        };
        let task = task_by_name(&name)?;
        let mut problems = Vec::new();
        for record in records.iter().filter(|r| r.task == name).take(args.count) {
            problems.push(task.load(&record.problem)?);
        }
        return Ok((task, problems));
    }
    let name = args.task.as_deref().ok_or_else(|| anyhow!("give --task or --data"))?;
    let task = task_by_name(name)?;
    let problems = (0..args.count as u64).map(|i| task.generate(args.seed, i)).collect::<Result<Vec<_>, _>>()?;
    Ok((task, problems))
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The checkpoint folder to evaluate.
    #[arg(long, required_unless_present = "compare")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub problems: ProblemArgs,
    /// Mine on-policy errors from this model's rollouts (default: the evaluated model's own).
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Output folder for rollouts.jsonl, synthetic.jsonl, on_policy.jsonl, mined.jsonl,
    /// summary.json and summary.md.
    #[arg(long, default_value = "eval")]
    pub out: PathBuf,
    /// Compare the evaluation folders given, side by side, instead of evaluating.
    #[arg(long, num_args = 2.., value_name = "DIR", conflicts_with = "model")]
    pub compare: Vec<PathBuf>,
}

pub fn eval(args: &EvalArgs) -> Result<u8, Failure> {
    if !args.compare.is_empty() {
        print!("{}", compare(&args.compare)?);
        return Ok(0);
    }
    let device = Device::flex();
    let model_dir = args.model.as_ref().ok_or_else(|| anyhow!("give --model DIR"))?;
    let loaded = load_model(model_dir, &device)?;
    let (task, problems) = load_problems(&args.problems)?;
    let settings = args.problems.settings()?;

    let reference_mined = match &args.reference {
        Some(dir) => {
            let reference = load_model(dir, &device)?;
            let output = evaluate(&reference, task.as_ref(), &problems, None, &settings, &device)?;
            Some(mine(task.as_ref(), &problems, &output.rollouts))
        }
        None => None,
    };
    eprintln!("evaluating {} on {} {} problems", model_dir.display(), problems.len(), task.name());
    let output = evaluate(&loaded, task.as_ref(), &problems, reference_mined.as_deref(), &settings, &device)?;

    fs::create_dir_all(&args.out).with_context(|| format!("failed to create {}", args.out.display()))?;
    write_lines(&args.out.join("rollouts.jsonl"), &output.rollouts)?;
    write_lines(&args.out.join("synthetic.jsonl"), &output.synthetic)?;
    write_lines(&args.out.join("on_policy.jsonl"), &output.on_policy)?;
    write_lines(&args.out.join("mined.jsonl"), &output.mined)?;
    let mut summary_file = Output::open(Some(&args.out.join("summary.json")))?;
    serde_json::to_writer_pretty(&mut summary_file, &output.summary)?;
    summary_file.finish()?;
    let table = summary_table(&[("model".to_string(), &output.summary)]);
    let mut markdown = Output::open(Some(&args.out.join("summary.md")))?;
    markdown.write_all(table.as_bytes())?;
    markdown.finish()?;
    print!("{table}");
    eprintln!("{:.0} generated tokens/s; wrote {}", output.summary.tokens_per_second, args.out.display());
    Ok(0)
}

fn write_lines<T: serde::Serialize>(path: &Path, items: &[T]) -> anyhow::Result<()> {
    let mut out = Output::open(Some(path))?;
    for item in items {
        serde_json::to_writer(&mut out, item)?;
        out.write_all(b"\n")?;
    }
    out.finish()
}

/// Markdown tables of every measure for each summary, in columns.
fn summary_table(columns: &[(String, &EvalSummary)]) -> String {
    let mut out = String::new();
    for (title, pick) in [
        ("Free rollouts", (|s| &s.rollouts) as fn(&EvalSummary) -> &selfcorrect_eval::Metrics),
        ("Synthetic-error prefills", |s| &s.synthetic_prefill),
        ("On-policy-error prefills", |s| &s.on_policy_prefill),
    ] {
        out.push_str(&format!("\n### {title}\n\n| measure |"));
        for (name, _) in columns {
            out.push_str(&format!(" {name} |"));
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(columns.len()));
        out.push('\n');
        for (label, get) in MEASURES {
            out.push_str(&format!("| {label} |"));
            for (_, summary) in columns {
                out.push_str(&format!(" {} |", estimate(get(pick(summary)))));
            }
            out.push('\n');
        }
    }
    let c = columns.iter().map(|(name, s)| {
        format!(
            "{name}: {} mined, {} of a synthetic kind, {} of {} aligned are exact synthetic steps",
            s.coverage.mined, s.coverage.kind_in_taxonomy, s.coverage.exact_step, s.coverage.aligned
        )
    });
    out.push_str("\nCoverage of on-policy errors: ");
    out.push_str(&c.collect::<Vec<_>>().join("; "));
    out.push('\n');
    out
}

/// Side-by-side summaries and the accuracy of each against the first, paired on the same problems.
fn compare(dirs: &[PathBuf]) -> anyhow::Result<String> {
    let mut summaries = Vec::new();
    for dir in dirs {
        let path = dir.join("summary.json");
        let text = fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
        let summary: EvalSummary = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an evaluation summary; rerun selfcorrect eval", path.display()))?;
        summaries.push((dir.display().to_string(), summary));
    }
    let (first_name, first) = &summaries[0];
    let mut out = String::from("## Accuracy against the first, paired on the same problems\n\n");
    for (name, summary) in &summaries[1..] {
        if summary.task != first.task || summary.scores.len() != first.scores.len() {
            bail!(
                "{name} was evaluated on other problems than {first_name} ({} x{} against {} x{}); evaluate both with the same --task, --count and --seed or --data",
                summary.task,
                summary.scores.len(),
                first.task,
                first.scores.len()
            );
        }
        let diff =
            paired_difference(&first.scores, &summary.scores, 7).ok_or_else(|| anyhow!("no problems to compare"))?;
        let verdict = if diff.significant { "significant" } else { "not significant" };
        out.push_str(&format!(
            "- {name} minus {first_name}: {} ({verdict}, {} problems)\n",
            percent_points(&diff),
            diff.pairs
        ));
    }
    let columns: Vec<(String, &EvalSummary)> = summaries.iter().map(|(n, s)| (n.clone(), s)).collect();
    out.push_str(&summary_table(&columns));
    Ok(out)
}

#[derive(Debug, clap::Args)]
pub struct MineArgs {
    /// The model whose own errors are mined.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub problems: ProblemArgs,
    /// Output JSONL: one first error per rollout that has one, with its prefix.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn mine_command(args: &MineArgs) -> Result<u8, Failure> {
    let device = Device::flex();
    let loaded = load_model(&args.model, &device)?;
    let (task, problems) = load_problems(&args.problems)?;
    let output = evaluate(&loaded, task.as_ref(), &problems, None, &args.problems.settings()?, &device)?;
    let mined: Vec<&MinedError> = output.mined.iter().collect();
    write_lines(&args.out, &mined)?;
    eprintln!(
        "mined {} first errors from {} rollouts ({} of a synthetic kind) into {}",
        mined.len(),
        problems.len(),
        output.summary.coverage.kind_in_taxonomy,
        args.out.display()
    );
    Ok(0)
}
