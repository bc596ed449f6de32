//! Prefills: forced prefixes that end in a wrong step, for measuring what a
//! model does right after an error. Synthetic prefills take a golden prefix and
//! a wrong step from the synthetic error models; on-policy prefills take the
//! first wrong step (and the text before it) from a reference model's rollout.

use selfcorrect_tasks::{Annotation, LineRole, Problem, Rng, Task, Verdict};
use serde::{Deserialize, Serialize};

/// The origin of a prefill's wrong step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrefillSource {
    Synthetic,
    OnPolicy,
}

/// A prefix for the model to continue: the prompt, then `lines`, the last of
/// which is the wrong step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prefill {
    pub task: String,
    pub problem: serde_json::Value,
    pub source: PrefillSource,
    pub lines: Vec<String>,
    /// The error kind the verifier gives the last line.
    pub kind: String,
    /// The golden step the wrong step stands in place of, when the lines before
    /// it are exactly the golden prefix.
    pub golden_position: Option<usize>,
}

impl Prefill {
    /// Returns the text after the prompt, ending with a newline so the model starts a new line.
    pub fn text(&self) -> String {
        let mut text = self.lines.join("\n");
        text.push('\n');
        text
    }
}

/// Golden steps before `position`, then a synthetic wrong step of `kind`.
pub fn synthetic_prefill(
    task: &dyn Task,
    problem: &dyn Problem,
    position: usize,
    kind: &str,
    rng: &mut Rng,
) -> Option<Prefill> {
    let wrong = problem.corrupt_step(position, kind, rng)?;
    let mut lines: Vec<String> = problem.golden_steps().into_iter().take(position).collect();
    lines.push(wrong);
    Some(Prefill {
        task: task.name().to_string(),
        problem: problem.to_json(),
        source: PrefillSource::Synthetic,
        lines,
        kind: kind.to_string(),
        golden_position: Some(position),
    })
}

/// A model's first new error, with the text it wrote before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinedError {
    pub prefill: Prefill,
    /// The line number of the wrong step in the rollout.
    pub line: usize,
}

/// Finds the first wrong step of a rollout. Returns `None` when the rollout has
/// no new error.
pub fn mine_first_error(task: &dyn Task, problem: &dyn Problem, annotation: &Annotation) -> Option<MinedError> {
    let first = annotation.first_error.as_ref()?;
    let steps = &annotation.steps[..=first.step];
    let lines: Vec<String> = steps.iter().map(|s| s.text.clone()).collect();

    // The wrong step stands in place of a golden step only when everything
    // before it is exactly the golden prefix.
    let golden = problem.golden_steps();
    let clean_prefix = steps[..first.step]
        .iter()
        .all(|s| s.verdict == Verdict::Correct && matches!(s.role, LineRole::Step) && !s.retracted);
    let aligned = clean_prefix && lines[..first.step] == golden[..first.step.min(golden.len())];

    Some(MinedError {
        line: steps[first.step].line,
        prefill: Prefill {
            task: task.name().to_string(),
            problem: problem.to_json(),
            source: PrefillSource::OnPolicy,
            lines,
            kind: first.kind.clone(),
            golden_position: aligned.then_some(first.step),
        },
    })
}

/// Draws per kind when checking whether the synthetic error model can write a
/// given wrong step. The largest option sets are 9x9 Sudoku wrong digits (an
/// empty cell, then one of its candidates), where each option has probability
/// of at least about 1/400, so 4096 draws miss a possible step with probability
/// below 1e-4.
pub const COVERAGE_DRAWS: usize = 4096;

/// The coverage of one on-policy error by the synthetic error models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// The error's kind is one the synthetic models produce.
    pub kind_in_taxonomy: bool,
    /// The synthetic model of that kind wrote this exact step at this position in
    /// one of [`COVERAGE_DRAWS`] draws; `None` when the error is not aligned with
    /// a golden position.
    pub exact_step: Option<bool>,
}

pub fn coverage(task: &dyn Task, problem: &dyn Problem, mined: &MinedError, seed: u64) -> Coverage {
    let kind = mined.prefill.kind.as_str();
    let kind_in_taxonomy = task.error_kinds().iter().any(|k| k.synthetic && k.name == kind);
    let wrong = mined.prefill.lines.last().map(String::as_str).unwrap_or_default();
    let exact_step = mined.prefill.golden_position.map(|position| {
        // NOTE: this samples the synthetic model instead of enumerating it, so a
        // miss is possible with the small probability stated at COVERAGE_DRAWS.
        kind_in_taxonomy && {
            let mut rng = Rng::new(seed);
            (0..COVERAGE_DRAWS).any(|_| problem.corrupt_step(position, kind, &mut rng).as_deref() == Some(wrong))
        }
    });
    Coverage { kind_in_taxonomy, exact_step }
}
