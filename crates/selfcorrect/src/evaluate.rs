//! Evaluation of one model on one task: free rollouts, synthetic-error
//! prefills and on-policy-error prefills, with the self-correction metrics of
//! each. Shared by `selfcorrect eval` and the experiment runner.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use burn::tensor::Device;
use selfcorrect_data::{SpecialTokens, Tokenizer};
use selfcorrect_eval::{Metrics, MinedError, Prefill, RolloutEvents, coverage, mine_first_error, synthetic_prefill};
use selfcorrect_model::{SamplingConfig, Transformer};
use selfcorrect_tasks::{Problem, Rng, Task, item_seed};
use selfcorrect_train::{Rollout, RolloutRequest, run_rollouts};
use serde::{Deserialize, Serialize};

use crate::report::results::CoverageSummary;

/// A checkpoint with the tokenizer it was trained with.
pub struct LoadedModel {
    pub model: Transformer,
    pub tokenizer: Tokenizer,
}

pub fn load_model(dir: &Path, device: &Device) -> anyhow::Result<LoadedModel> {
    let model = selfcorrect_model::checkpoint::load(dir, device)
        .with_context(|| format!("failed to load the model in {}", dir.display()))?;
    let path = dir.join("tokenizer.json");
    let tokenizer = Tokenizer::from_file(&path, &SpecialTokens::default())
        .with_context(|| format!("the model folder needs the tokenizer it was trained with ({})", path.display()))?;
    if tokenizer.vocab_size() != model.config().vocab_size {
        anyhow::bail!(
            "{} has {} tokens but the model's vocab_size is {}; use the tokenizer saved with the model",
            path.display(),
            tokenizer.vocab_size(),
            model.config().vocab_size
        );
    }
    Ok(LoadedModel { model, tokenizer })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalSettings {
    pub max_new_tokens: usize,
    pub batch_size: usize,
    pub recognition: String,
    /// Seed of the synthetic-error draws and of the bootstrap intervals.
    pub seed: u64,
}

/// One rollout as saved in the JSONL outputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutRecord {
    /// Index of the problem in the evaluated set.
    pub problem: usize,
    pub prefix: String,
    pub output: String,
    pub cut_off: bool,
    pub score: f64,
    pub events: RolloutEvents,
    pub annotation: selfcorrect_tasks::Annotation,
}

/// Everything one evaluation measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalSummary {
    pub task: String,
    pub problems: usize,
    pub rollouts: Metrics,
    pub synthetic_prefill: Metrics,
    pub on_policy_prefill: Metrics,
    pub coverage: CoverageSummary,
    /// Exact-answer score of each free rollout, in problem order, for paired comparisons.
    pub scores: Vec<f64>,
    /// Generated tokens per second over all rollouts of this evaluation.
    pub tokens_per_second: f64,
}

/// The outputs of an evaluation, kept for saving.
pub struct EvalOutput {
    pub summary: EvalSummary,
    pub rollouts: Vec<RolloutRecord>,
    pub synthetic: Vec<RolloutRecord>,
    pub on_policy: Vec<RolloutRecord>,
    pub mined: Vec<MinedError>,
}

fn sampling(settings: &EvalSettings, tokenizer: &Tokenizer) -> SamplingConfig {
    SamplingConfig::greedy(settings.max_new_tokens, Some(tokenizer.eos_id()))
}

/// Greedy continuations of `prefixes[i]` for problem `indices[i]`.
fn continue_all(
    loaded: &LoadedModel,
    problems: &[Box<dyn Problem>],
    items: &[(usize, String)],
    settings: &EvalSettings,
    device: &Device,
    tokens: &mut usize,
) -> anyhow::Result<Vec<RolloutRecord>> {
    let requests: Vec<RolloutRequest<'_>> = items
        .iter()
        .map(|(index, prefix)| RolloutRequest { problem: problems[*index].as_ref(), prefix: prefix.clone() })
        .collect();
    let rollouts: Vec<Rollout> = run_rollouts(
        &loaded.model,
        &loaded.tokenizer,
        &requests,
        &sampling(settings, &loaded.tokenizer),
        &settings.recognition,
        settings.batch_size,
        device,
    )?;
    Ok(items
        .iter()
        .zip(rollouts)
        .map(|((index, prefix), rollout)| {
            *tokens += rollout.generated_tokens;
            RolloutRecord {
                problem: *index,
                prefix: prefix.clone(),
                output: rollout.output,
                cut_off: rollout.cut_off,
                score: rollout.annotation.score,
                events: RolloutEvents::from_annotation(&rollout.annotation),
                annotation: rollout.annotation,
            }
        })
        .collect())
}

/// Draws one synthetic-error prefill per problem: a uniform golden position, then a
/// uniform kind among the synthetic kinds possible there.
pub fn synthetic_prefills(task: &dyn Task, problems: &[Box<dyn Problem>], seed: u64) -> Vec<(usize, Prefill)> {
    let kinds: Vec<&str> = task.error_kinds().iter().filter(|k| k.synthetic).map(|k| k.name).collect();
    let mut out = Vec::new();
    for (index, problem) in problems.iter().enumerate() {
        let mut rng = Rng::new(item_seed("synthetic-prefill", seed, index as u64));
        let steps = problem.golden_steps().len();
        // A few draws find a position with some applicable kind; every task
        // has several, so this gives up only on degenerate problems.
        for _ in 0..16 {
            let position = rng.below(steps as u64) as usize;
            let mut shuffled = kinds.clone();
            rng.shuffle(&mut shuffled);
            if let Some(prefill) =
                shuffled.iter().find_map(|kind| synthetic_prefill(task, problem.as_ref(), position, kind, &mut rng))
            {
                out.push((index, prefill));
                break;
            }
        }
    }
    out
}

/// Mines the first new error of each rollout.
pub fn mine(task: &dyn Task, problems: &[Box<dyn Problem>], rollouts: &[RolloutRecord]) -> Vec<(usize, MinedError)> {
    rollouts
        .iter()
        .filter_map(|r| mine_first_error(task, problems[r.problem].as_ref(), &r.annotation).map(|m| (r.problem, m)))
        .collect()
}

/// Evaluates `loaded` on `problems`. On-policy prefills come from `mined`
/// (errors of a reference model on the same problems), or are mined from this
/// model's own rollouts when `mined` is `None`.
pub fn evaluate(
    loaded: &LoadedModel,
    task: &dyn Task,
    problems: &[Box<dyn Problem>],
    mined: Option<&[(usize, MinedError)]>,
    settings: &EvalSettings,
    device: &Device,
) -> anyhow::Result<EvalOutput> {
    let started = Instant::now();
    let mut tokens = 0usize;
    let kinds: Vec<&str> = task.error_kinds().iter().map(|k| k.name).collect();

    let free: Vec<(usize, String)> = (0..problems.len()).map(|i| (i, String::new())).collect();
    let rollouts = continue_all(loaded, problems, &free, settings, device, &mut tokens)?;

    let synthetic_items: Vec<(usize, String)> =
        synthetic_prefills(task, problems, settings.seed).into_iter().map(|(i, p)| (i, p.text())).collect();
    let synthetic = continue_all(loaded, problems, &synthetic_items, settings, device, &mut tokens)?;

    let own;
    let mined: &[(usize, MinedError)] = match mined {
        Some(mined) => mined,
        None => {
            own = mine(task, problems, &rollouts);
            &own
        }
    };
    let on_policy_items: Vec<(usize, String)> = mined.iter().map(|(i, m)| (*i, m.prefill.text())).collect();
    let on_policy = continue_all(loaded, problems, &on_policy_items, settings, device, &mut tokens)?;

    let mut cover = CoverageSummary { mined: mined.len() as u64, ..CoverageSummary::default() };
    for (index, error) in mined {
        let c = coverage(task, problems[*index].as_ref(), error, settings.seed);
        cover.kind_in_taxonomy += u64::from(c.kind_in_taxonomy);
        cover.aligned += u64::from(c.exact_step.is_some());
        cover.exact_step += u64::from(c.exact_step == Some(true));
    }

    let metrics = |records: &[RolloutRecord], salt: u64| {
        let events: Vec<RolloutEvents> = records.iter().map(|r| r.events.clone()).collect();
        Metrics::from_rollouts(&events, &kinds, settings.seed ^ salt)
    };
    let summary = EvalSummary {
        task: task.name().to_string(),
        problems: problems.len(),
        rollouts: metrics(&rollouts, 1),
        synthetic_prefill: metrics(&synthetic, 2),
        on_policy_prefill: metrics(&on_policy, 3),
        coverage: cover,
        scores: rollouts.iter().map(|r| r.score).collect(),
        tokens_per_second: tokens as f64 / started.elapsed().as_secs_f64().max(1e-9),
    };
    Ok(EvalOutput { summary, rollouts, synthetic, on_policy, mined: mined.iter().map(|(_, m)| m.clone()).collect() })
}
