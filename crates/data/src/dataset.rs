//! Dataset building: problems per split with held-out problems kept out of
//! train, one record per problem (clean or with injected errors), and counts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::Serialize;
use selfcorrect_tasks::{Problem, Rng, Task, item_seed, task_by_name};

use crate::config::{InjectConfig, Mode, ResolvedDatasetConfig, ResolvedMix, Split};
use crate::error::{DataError, Result};
use crate::inject::{InjectionPlan, build_segments, plan_errors};
use crate::io::{read_jsonl_values, write_atomically, write_json, write_jsonl};
use crate::record::{Meta, Record};

/// Draws per split beyond its size before building gives up on finding new
/// problems: a task with few distinct problems (mult-1x1 has 81) can run out
/// once the held-out splits take theirs.
const EXTRA_DRAWS_FACTOR: u64 = 20;
const EXTRA_DRAWS_MIN: u64 = 10_000;

/// Counts for one split or one injection run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MixStats {
    pub records: u64,
    pub clean: u64,
    pub injected: u64,
    /// `injected / records`, the realised share of records with errors.
    pub injected_share: f64,
    /// Records per number of injected errors (0 for clean records).
    pub records_by_error_count: BTreeMap<usize, u64>,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// The expected number of errors per kind given the positions drawn: the
    /// sum over errors of each kind's probability at the error's position. The
    /// realised counts scatter around it; both differ from the configured
    /// weights because not every kind can occur at every step.
    pub expected_errors_by_kind: BTreeMap<String, f64>,
    /// Errors requested but not placed because the trace had too few steps
    /// where some kind could be injected.
    pub shortfall: u64,
    /// Wrong steps the verifier did not confirm; each was replaced by a new draw.
    pub rejected_by_verifier: u64,
    /// Draws skipped because the problem is already in a held-out split.
    pub held_out_problems_skipped: u64,
    /// Records whose problem already occurs earlier in the same split.
    pub repeated_problems: u64,
}

impl MixStats {
    fn new(mix: &ResolvedMix) -> Self {
        let mut stats = Self::default();
        for (kind, _) in &mix.kind_weights {
            stats.errors_by_kind.insert(kind.to_string(), 0);
            stats.expected_errors_by_kind.insert(kind.to_string(), 0.0);
        }
        stats
    }

    fn add(&mut self, plan: &InjectionPlan, injected: bool) {
        self.records += 1;
        if injected {
            self.injected += 1;
        } else {
            self.clean += 1;
        }
        *self.records_by_error_count.entry(plan.errors.len()).or_default() += 1;
        for error in &plan.errors {
            self.errors += 1;
            *self.errors_by_kind.entry(error.kind.to_string()).or_default() += 1;
            for (kind, probability) in &error.kind_probabilities {
                *self.expected_errors_by_kind.entry(kind.to_string()).or_default() += probability;
            }
        }
        self.shortfall += plan.shortfall as u64;
        self.rejected_by_verifier += plan.rejected.len() as u64;
        self.injected_share = self.injected as f64 / self.records as f64;
    }
}

/// Counts for a whole dataset, written to `stats.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetStats {
    pub task: String,
    pub mode: &'static str,
    pub seed: u64,
    pub train: MixStats,
    pub validation: MixStats,
    pub test: MixStats,
}

/// The records of every split, before they are written.
#[derive(Debug, Clone)]
pub struct DatasetSplits {
    pub train: Vec<Record>,
    pub validation: Vec<Record>,
    pub test: Vec<Record>,
    pub stats: DatasetStats,
}

/// The seed of a split, hashed from the dataset seed and the split name so that
/// splits draw independent problems and dataset seed `s + 1` shares nothing
/// systematic with seed `s`.
pub fn split_seed(task: &str, seed: u64, split: Split) -> u64 {
    item_seed(&format!("{task}/split/{}", split.name()), seed, 0)
}

/// The seed of the injection draws for one record.
fn record_rng(task: &str, seed: u64, index: u64) -> Rng {
    Rng::new(item_seed(&format!("{task}/inject"), seed, index))
}

/// Makes one record from a problem: clean, or with errors drawn from `mix`
/// (`None` means clean).
pub fn make_record(
    problem: &dyn Problem,
    task: &str,
    id: String,
    meta: Meta,
    mix: Option<&ResolvedMix>,
    rng: &mut Rng,
) -> (Record, InjectionPlan, bool) {
    let golden = problem.golden_steps();
    let (plan, injected) = match mix {
        Some(mix) if rng.unit() < mix.injected_fraction => {
            let count = rng.range_inclusive(mix.min_errors as u64, mix.max_errors as u64) as usize;
            (plan_errors(problem, &golden, mix, count, rng), true)
        }
        _ => (InjectionPlan::default(), false),
    };
    let segments = build_segments(&problem.prompt(), &golden, mix.map(|mix| (plan.errors.as_slice(), mix)));
    let record = Record {
        id,
        task: task.to_string(),
        problem: problem.to_json(),
        segments,
        meta: Meta { errors: plan.errors.len(), ..meta },
    };
    (record, plan, injected)
}

/// Generates every split in memory. Held-out splits come first, and a problem
/// already in an earlier split is skipped, so no test or validation problem
/// appears in train and the splits share no problem.
pub fn generate_splits(config: &ResolvedDatasetConfig) -> Result<DatasetSplits> {
    let task: &dyn Task = config.task.as_ref();
    let name = task.name().to_string();
    let mix = match config.mode {
        Mode::Ft => None,
        Mode::Eift => Some(&config.mix),
    };
    let mut held_out: HashSet<String> = HashSet::new();
    let mut by_split: HashMap<Split, (Vec<Record>, MixStats)> = HashMap::new();

    for split in Split::ALL {
        let size = config.split_size(split);
        let seed = split_seed(&name, config.seed, split);
        let mut records = Vec::with_capacity(size as usize);
        let mut stats = MixStats::new(&config.mix);
        let mut seen_in_split: HashSet<String> = HashSet::new();
        let max_draws = size + (size * EXTRA_DRAWS_FACTOR).max(EXTRA_DRAWS_MIN);

        let mut index = 0;
        while (records.len() as u64) < size {
            if index >= max_draws {
                return Err(DataError::Dataset(format!(
                    "task {name} has too few distinct problems: split {} found {} of {size} records in \
                     {max_draws} draws after leaving out the problems of the held-out splits; lower \
                     splits.{} or use a task with more problems",
                    split.name(),
                    records.len(),
                    split.name()
                )));
            }
            let problem = task.generate(seed, index)?;
            let key = problem.to_json().to_string();
            if held_out.contains(&key) {
                stats.held_out_problems_skipped += 1;
                index += 1;
                continue;
            }
            if !seen_in_split.insert(key) {
                stats.repeated_problems += 1;
            }

            let id = format!("{name}/{seed}/{index}");
            let meta = Meta { seed, index, errors: 0, split: Some(split.name().to_string()) };
            let mut rng = record_rng(&name, seed, index);
            let (record, plan, injected) = make_record(problem.as_ref(), &name, id, meta, mix, &mut rng);
            stats.add(&plan, injected);
            records.push(record);
            index += 1;
        }

        if split != Split::Train {
            held_out.extend(seen_in_split);
        }
        by_split.insert(split, (records, stats));
    }

    let mut take = |split| by_split.remove(&split).unwrap_or_default();
    let (train, train_stats) = take(Split::Train);
    let (validation, validation_stats) = take(Split::Validation);
    let (test, test_stats) = take(Split::Test);
    let stats = DatasetStats {
        task: name,
        mode: config.mode.name(),
        seed: config.seed,
        train: train_stats,
        validation: validation_stats,
        test: test_stats,
    };
    Ok(DatasetSplits { train, validation, test, stats })
}

/// Builds a dataset into `out_dir`: `train.jsonl`, `validation.jsonl`,
/// `test.jsonl`, `stats.json` (counts per split) and `config.toml` (the
/// resolved config with every default written out). The same config gives
/// byte-identical files.
pub fn build_dataset(config: &ResolvedDatasetConfig, out_dir: &Path) -> Result<DatasetStats> {
    let splits = generate_splits(config)?;
    write_jsonl(&out_dir.join("train.jsonl"), &splits.train)?;
    write_jsonl(&out_dir.join("validation.jsonl"), &splits.validation)?;
    write_jsonl(&out_dir.join("test.jsonl"), &splits.test)?;
    write_json(&out_dir.join("stats.json"), &splits.stats)?;

    let resolved = toml::to_string(&config.to_file_config())
        .map_err(|err| DataError::ConfigSyntax(format!("cannot write the resolved config: {err}")))?;
    write_atomically(&out_dir.join("config.toml"), |writer| {
        std::io::Write::write_all(writer, resolved.as_bytes())
    })?;
    Ok(splits.stats)
}

/// Records made by [`inject`], with their counts.
#[derive(Debug, Clone)]
pub struct InjectOutput {
    pub records: Vec<Record>,
    pub stats: MixStats,
}

/// Injects errors into problems read from a JSONL file.
///
/// Each line needs `task` and `problem`; `id` and `meta.seed`/`meta.index` are
/// kept when present (as in the output of `selfcorrect generate`), and other
/// fields are ignored. Errors go into the golden trace that the task computes
/// from `problem`, not into any `trace` field of the line. Set
/// `eift.injected_fraction = 1` to inject into every record.
pub fn inject(input: &Path, config: &InjectConfig) -> Result<InjectOutput> {
    let mut tasks: HashMap<String, (Box<dyn Task>, ResolvedMix)> = HashMap::new();
    let mut records = Vec::new();
    let mut stats: Option<MixStats> = None;

    for (line, value) in read_jsonl_values(input)? {
        let invalid = |reason: String| DataError::InvalidRecord { path: input.to_path_buf(), line, reason };
        let task_name = value
            .get("task")
            .and_then(|task| task.as_str())
            .ok_or_else(|| invalid("missing string field `task`".into()))?
            .to_string();
        let problem_json = value.get("problem").ok_or_else(|| invalid("missing field `problem`".into()))?;

        if !tasks.contains_key(&task_name) {
            let task = task_by_name(&task_name).map_err(|err| invalid(err.to_string()))?;
            let mix = config.eift.validate(task.as_ref())?;
            tasks.insert(task_name.clone(), (task, mix));
        }
        let Some((task, mix)) = tasks.get(&task_name) else { continue };
        let problem = task.load(problem_json).map_err(|err| invalid(err.to_string()))?;

        let index = value.pointer("/meta/index").and_then(|index| index.as_u64()).unwrap_or(line as u64 - 1);
        let seed = value.pointer("/meta/seed").and_then(|seed| seed.as_u64()).unwrap_or(config.seed);
        let id = match value.get("id").and_then(|id| id.as_str()) {
            Some(id) => id.to_string(),
            None => format!("{task_name}/{seed}/{index}"),
        };
        // The injection seed mixes the config seed with the line number, so
        // two runs with different seeds draw different errors for the same input.
        let mut rng = record_rng(&task_name, config.seed, line as u64);
        let meta = Meta { seed, index, errors: 0, split: None };
        let (record, plan, injected) = make_record(problem.as_ref(), &task_name, id, meta, Some(mix), &mut rng);
        stats.get_or_insert_with(|| MixStats::new(mix)).add(&plan, injected);
        records.push(record);
    }
    Ok(InjectOutput { records, stats: stats.unwrap_or_default() })
}
