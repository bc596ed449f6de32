//! Runs the stages of an experiment in order, reusing finished stages whose
//! key is unchanged, and writes `results.json` and the report.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use burn::tensor::Device;
use selfcorrect_data::DatasetConfig;
use selfcorrect_eval::{MinedError, paired_difference};
use selfcorrect_tasks::{Task, task_by_name};
use selfcorrect_train::{MetricsRecord, TrainConfig};
use serde::{Deserialize, Serialize};

use super::config::{ExperimentConfig, Stage};
use super::plan::{Action, plan, stage_key};
use crate::evaluate::{EvalSettings, EvalSummary, evaluate, load_model};
use crate::report::results::{ArmResults, CellResults, CurvePoint, Environment, RunResults};

pub struct RunOptions {
    pub out_dir: PathBuf,
    /// The resolved config as TOML, saved with the results.
    pub config_text: String,
}

/// One unit of work and the stages it reads.
#[derive(Debug, Clone, Serialize)]
enum StageSpec {
    Data { task: String, mode: String },
    Train { task: String, family: String, arm: String, init_from: Option<String>, data: String },
    Eval { task: String, family: String, arm: String, model: String, data: String, reference: Option<String> },
}

/// The record of a finished stage, in `stages/NAME/stage.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StageRecord {
    key: String,
    /// The final checkpoint, for training stages.
    checkpoint: Option<PathBuf>,
    seconds: f64,
}

const STAGE_FILE: &str = "stage.json";
const BURN_VERSION: &str = "0.22.1";

pub fn run_experiment(config: &ExperimentConfig, options: &RunOptions) -> anyhow::Result<PathBuf> {
    let started_at = SystemTime::now();
    let started = Instant::now();
    let out = &options.out_dir;
    fs::create_dir_all(out.join("stages")).with_context(|| format!("failed to create {}", out.display()))?;
    let device = Device::flex();

    // Every model shape and training setting is checked before any stage runs,
    // so a bad value fails now and not minutes into the run. The vocabulary
    // size only matters for the embeddings, so any value checks the shape.
    for family in &config.families {
        for stage in [&config.base, &config.finetune] {
            let resolved =
                train_config(config, stage, family, None, Path::new("data"), Path::new("out"))?.validate()?;
            if let (Some(family), Some(preset)) = (resolved.family, resolved.preset) {
                resolved.file.model.resolve(family, preset, 64).context("invalid experiment config: [model]")?;
            }
        }
    }

    // The stage list, in dependency order, with keys that chain upstream keys.
    let mut stages: Vec<(String, StageSpec)> = Vec::new();
    for task in &config.tasks {
        for mode in ["ft", "eift"] {
            stages.push((format!("data-{task}-{mode}"), StageSpec::Data { task: task.clone(), mode: mode.into() }));
        }
        for family in &config.families {
            let cell = format!("{task}-{family}");
            stages.push((
                format!("base-{cell}"),
                StageSpec::Train {
                    task: task.clone(),
                    family: family.clone(),
                    arm: "base".into(),
                    init_from: None,
                    data: format!("data-{task}-ft"),
                },
            ));
            for arm in ["ft", "eift"] {
                stages.push((
                    format!("{arm}-{cell}"),
                    StageSpec::Train {
                        task: task.clone(),
                        family: family.clone(),
                        arm: arm.into(),
                        init_from: Some(format!("base-{cell}")),
                        data: format!("data-{task}-{arm}"),
                    },
                ));
            }
            for arm in ["ft", "eift"] {
                stages.push((
                    format!("eval-{arm}-{cell}"),
                    StageSpec::Eval {
                        task: task.clone(),
                        family: family.clone(),
                        arm: arm.into(),
                        model: format!("{arm}-{cell}"),
                        data: format!("data-{task}-ft"),
                        reference: (arm != "ft").then(|| format!("eval-ft-{cell}")),
                    },
                ));
            }
        }
    }
    let mut keys: HashMap<String, String> = HashMap::new();
    let mut keyed = Vec::new();
    for (name, spec) in &stages {
        let upstream: Vec<&String> = match spec {
            StageSpec::Data { .. } => vec![],
            StageSpec::Train { init_from, data, .. } => init_from.iter().chain(std::iter::once(data)).collect(),
            StageSpec::Eval { model, data, reference, .. } => {
                std::iter::once(model).chain(std::iter::once(data)).chain(reference.iter()).collect()
            }
        };
        let upstream_keys: Vec<&str> = upstream.iter().map(|u| keys[*u].as_str()).collect();
        let text =
            format!("{}\n{}\n{}", serde_json::to_string(spec)?, stage_settings(config, spec)?, upstream_keys.join(","));
        let key = stage_key(&text);
        keys.insert(name.clone(), key.clone());
        keyed.push((name.clone(), key));
    }

    let finished: HashMap<String, String> = stages
        .iter()
        .filter_map(|(name, _)| read_record(&out.join("stages").join(name)).map(|r| (name.clone(), r.key)))
        .collect();
    let actions = plan(&keyed, &finished);
    let to_run = actions.iter().filter(|a| **a == Action::Run).count();
    eprintln!(
        "run {}: {} stages, {} to run, {} reused from {}",
        config.name,
        stages.len(),
        to_run,
        stages.len() - to_run,
        out.display()
    );

    for (position, ((name, spec), action)) in stages.iter().zip(&actions).enumerate() {
        let dir = out.join("stages").join(name);
        let label = format!("[{}/{}] {name}", position + 1, stages.len());
        if *action == Action::Reuse {
            eprintln!("{label}: reused");
            continue;
        }
        if dir.exists() {
            // A finished stage with another key, or an interrupted one: start it over.
            if read_record(&dir).is_some() {
                fs::remove_dir_all(&dir).with_context(|| format!("failed to clear {}", dir.display()))?;
            }
        }
        fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
        eprintln!("{label}: running (run time so far {})", clock(started.elapsed().as_secs_f64()));
        let stage_started = Instant::now();
        let checkpoint = run_stage(config, spec, &dir, out, &label, &device)?;
        let record =
            StageRecord { key: keys[name].clone(), checkpoint, seconds: stage_started.elapsed().as_secs_f64() };
        write_record(&dir, &record)?;
        eprintln!("{label}: done in {}", clock(record.seconds));
    }

    let results = collect_results(config, options, out, started_at, started.elapsed().as_secs_f64())?;
    let path = out.join("results.json");
    let temporary = crate::io::temporary_path(&path);
    fs::write(&temporary, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("failed to write {}", temporary.display()))?;
    fs::rename(&temporary, &path).with_context(|| format!("failed to write {}", path.display()))?;
    crate::report::write_report(out)?;
    Ok(out.join("report.html"))
}

/// Serialises the part of the config a stage depends on, for its key.
fn stage_settings(config: &ExperimentConfig, spec: &StageSpec) -> anyhow::Result<String> {
    Ok(match spec {
        StageSpec::Data { .. } => serde_json::to_string(&(&config.data, config.seed))?,
        StageSpec::Train { arm, .. } => {
            let stage = if arm == "base" { &config.base } else { &config.finetune };
            serde_json::to_string(&(&config.model, stage, config.seed, config.data.max_seq_len))?
        }
        StageSpec::Eval { .. } => serde_json::to_string(&(&config.eval, config.seed))?,
    })
}

fn read_record(dir: &Path) -> Option<StageRecord> {
    let text = fs::read_to_string(dir.join(STAGE_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_record(dir: &Path, record: &StageRecord) -> anyhow::Result<()> {
    let path = dir.join(STAGE_FILE);
    let temporary = crate::io::temporary_path(&path);
    fs::write(&temporary, serde_json::to_string_pretty(record)?)
        .with_context(|| format!("failed to write {}", temporary.display()))?;
    fs::rename(&temporary, &path).with_context(|| format!("failed to write {}", path.display()))
}

fn run_stage(
    config: &ExperimentConfig,
    spec: &StageSpec,
    dir: &Path,
    out: &Path,
    label: &str,
    device: &Device,
) -> anyhow::Result<Option<PathBuf>> {
    let stage_dir = |name: &str| out.join("stages").join(name);
    match spec {
        StageSpec::Data { task, mode } => {
            let text = format!(
                "task = {task:?}\nmode = {mode:?}\nseed = {}\n[splits]\ntrain = {}\nvalidation = {}\ntest = {}\n[eift]\ninjected_fraction = {}\n",
                config.seed, config.data.train, config.data.validation, config.data.test, config.data.injected_fraction
            );
            let resolved = DatasetConfig::from_toml(&text, &[])?.validate()?;
            selfcorrect_data::build_dataset(&resolved, dir)?;
            Ok(None)
        }
        StageSpec::Train { family, arm, init_from, data, .. } => {
            let stage = if arm == "base" { &config.base } else { &config.finetune };
            let init = match init_from {
                Some(name) => Some(
                    read_record(&stage_dir(name))
                        .and_then(|r| r.checkpoint)
                        .with_context(|| format!("stage {name} has no checkpoint; rerun it"))?,
                ),
                None => None,
            };
            let train_config = train_config(config, stage, family, init.as_deref(), &stage_dir(data), dir)?;
            let resolved = train_config.validate()?;
            let started = Instant::now();
            let steps = stage.steps;
            let outcome = selfcorrect_train::train(&resolved, device, &mut |record: &MetricsRecord| {
                let elapsed = started.elapsed().as_secs_f64();
                let left = elapsed / record.step.max(1) as f64 * steps.saturating_sub(record.step) as f64;
                eprintln!("{label}: {} | stage time left {}", record.progress_line(steps), clock(left));
            })?;
            Ok(Some(outcome.checkpoint))
        }
        StageSpec::Eval { task, model, data, reference, .. } => {
            let checkpoint = read_record(&stage_dir(model))
                .and_then(|r| r.checkpoint)
                .with_context(|| format!("stage {model} has no checkpoint; rerun it"))?;
            let loaded = load_model(&checkpoint, device)?;
            let task = task_by_name(task)?;
            let problems = test_problems(task.as_ref(), &stage_dir(data), config.eval.problems)?;
            let mined: Option<Vec<(usize, MinedError)>> = match reference {
                Some(name) => Some(read_mined(&stage_dir(name).join("mined.jsonl"))?),
                None => None,
            };
            let settings = EvalSettings {
                max_new_tokens: config.eval.max_new_tokens,
                batch_size: config.eval.batch_size,
                recognition: selfcorrect_tasks::DEFAULT_RECOGNITION.into(),
                seed: config.seed,
            };
            let output = evaluate(&loaded, task.as_ref(), &problems, mined.as_deref(), &settings, device)?;
            let mined_lines: Vec<String> = mined
                .unwrap_or_else(|| crate::evaluate::mine(task.as_ref(), &problems, &output.rollouts))
                .iter()
                .map(|(index, error)| serde_json::json!({"problem": index, "error": error}).to_string())
                .collect();
            fs::write(dir.join("mined.jsonl"), mined_lines.join("\n") + "\n")?;
            let rollouts: Vec<String> =
                output.rollouts.iter().map(|r| serde_json::to_string(r)).collect::<Result<_, _>>()?;
            fs::write(dir.join("rollouts.jsonl"), rollouts.join("\n") + "\n")?;
            fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&output.summary)?)?;
            eprintln!(
                "{label}: accuracy {:.3} over {} problems, {:.0} generated tokens/s",
                output.summary.rollouts.accuracy.value.unwrap_or(0.0),
                problems.len(),
                output.summary.tokens_per_second
            );
            Ok(None)
        }
    }
}

fn train_config(
    config: &ExperimentConfig,
    stage: &Stage,
    family: &str,
    init_from: Option<&Path>,
    data: &Path,
    out: &Path,
) -> anyhow::Result<TrainConfig> {
    let shape = &config.model;
    let mut model = toml::Table::new();
    model.insert("family".into(), family.into());
    model.insert("size".into(), shape.size.clone().into());
    if let Some(dir) = init_from {
        model.insert("init_from".into(), dir.display().to_string().into());
    }
    for (key, value) in [
        ("hidden_size", shape.hidden_size),
        ("intermediate_size", shape.intermediate_size),
        ("num_hidden_layers", shape.num_hidden_layers),
        ("num_attention_heads", shape.num_attention_heads),
        ("num_key_value_heads", shape.num_key_value_heads),
    ] {
        if let Some(value) = value {
            model.insert(key.into(), (value as i64).into());
        }
    }
    let text = format!(
        "[model]\n{}\n[data]\ntrain = {:?}\nvalidation = {:?}\nmax_seq_len = {}\n\n[optim]\nsteps = {}\nbatch_size = {}\nlearning_rate = {:e}\nmin_learning_rate = {:e}\nwarmup_steps = {}\n\n[run]\nout_dir = {:?}\nseed = {}\nlog_every = {}\neval_every = 0\neval_problems = 0\ncheckpoint_every = {}\nkeep_last = 1\n",
        toml::to_string(&model)?,
        data.join("train.jsonl").display().to_string(),
        data.join("validation.jsonl").display().to_string(),
        config.data.max_seq_len,
        stage.steps,
        stage.batch_size,
        stage.learning_rate,
        stage.min_learning_rate,
        stage.warmup_steps,
        out.display().to_string(),
        config.seed,
        (stage.steps / 10).max(1),
        (stage.steps / 4).max(1),
    );
    Ok(toml::from_str(&text)?)
}

fn test_problems(
    task: &dyn Task,
    data: &Path,
    count: usize,
) -> anyhow::Result<Vec<Box<dyn selfcorrect_tasks::Problem>>> {
    let records = selfcorrect_data::read_records(&data.join("test.jsonl"))?;
    let problems: Vec<_> = records.iter().take(count).map(|r| task.load(&r.problem)).collect::<Result<_, _>>()?;
    if problems.is_empty() {
        bail!("{} has no test problems", data.display());
    }
    Ok(problems)
}

fn read_mined(path: &Path) -> anyhow::Result<Vec<(usize, MinedError)>> {
    let text = fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    let mut mined = Vec::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        #[derive(Deserialize)]
        struct Line {
            problem: usize,
            error: MinedError,
        }
        let parsed: Line = serde_json::from_str(line).with_context(|| {
            format!("{} line {} is not a mined error; rerun the reference evaluation", path.display(), number + 1)
        })?;
        mined.push((parsed.problem, parsed.error));
    }
    Ok(mined)
}

fn collect_results(
    config: &ExperimentConfig,
    options: &RunOptions,
    out: &Path,
    started_at: SystemTime,
    wall_seconds: f64,
) -> anyhow::Result<RunResults> {
    let stage_dir = |name: &str| out.join("stages").join(name);
    let mut cells = Vec::new();
    for task in &config.tasks {
        let stats: serde_json::Value = read_json(&stage_dir(&format!("data-{task}-eift")).join("stats.json"))?;
        let synthetic_mix: Vec<(String, u64)> = stats["train"]["errors_by_kind"]
            .as_object()
            .map(|kinds| kinds.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect())
            .unwrap_or_default();
        for family in &config.families {
            let cell = format!("{task}-{family}");
            let mut arms = Vec::new();
            let mut summaries: HashMap<&str, EvalSummary> = HashMap::new();
            for arm in ["ft", "eift"] {
                let summary: EvalSummary = read_json(&stage_dir(&format!("eval-{arm}-{cell}")).join("summary.json"))?;
                let curve = read_curve(&stage_dir(&format!("{arm}-{cell}")).join("metrics.jsonl"))?;
                arms.push(ArmResults {
                    arm: arm.to_string(),
                    rollouts: summary.rollouts.clone(),
                    synthetic_prefill: summary.synthetic_prefill.clone(),
                    on_policy_prefill: summary.on_policy_prefill.clone(),
                    training_curve: curve,
                });
                summaries.insert(arm, summary);
            }
            let parameters = read_record(&stage_dir(&format!("base-{cell}")))
                .and_then(|r| r.checkpoint)
                .and_then(|dir| selfcorrect_model::checkpoint::load_config(&dir).ok())
                .map_or(0, |c| c.num_parameters());
            cells.push(CellResults {
                task: task.clone(),
                family: family.clone(),
                parameters,
                accuracy_difference: paired_difference(&summaries["ft"].scores, &summaries["eift"].scores, config.seed),
                coverage: summaries["ft"].coverage,
                arms,
                synthetic_mix: synthetic_mix.clone(),
            });
        }
    }
    Ok(RunResults {
        name: config.name.clone(),
        config: options.config_text.clone(),
        environment: Environment {
            selfcorrect_version: env!("CARGO_PKG_VERSION").into(),
            burn_version: BURN_VERSION.into(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cpu: cpu_name(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            started: rfc3339(started_at),
            finished: rfc3339(SystemTime::now()),
            wall_seconds,
        },
        cells,
    })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    let text = fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid; rerun its stage", path.display()))
}

fn read_curve(path: &Path) -> anyhow::Result<Vec<CurvePoint>> {
    let text = fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<MetricsRecord>(line).ok())
        .map(|r| CurvePoint { step: r.step, loss: r.loss })
        .collect())
}

fn cpu_name() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Formats seconds as `1h02m03s`, `2m05s` or `42s`.
fn clock(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// UTC time as RFC 3339, from the civil-from-days algorithm of Howard Hinnant
/// ("chrono-Compatible Low-Level Date Algorithms").
fn rfc3339(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // 2000-02-29T12:34:56Z is 951_827_696 seconds after the epoch (a leap day).
        assert_eq!(rfc3339(UNIX_EPOCH + std::time::Duration::from_secs(951_827_696)), "2000-02-29T12:34:56Z");
    }

    #[test]
    fn clock_formats() {
        assert_eq!(clock(42.0), "42s");
        assert_eq!(clock(125.0), "2m05s");
        assert_eq!(clock(3723.0), "1h02m03s");
    }
}
