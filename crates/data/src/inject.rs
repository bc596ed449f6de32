//! Error injection into one golden trace: where errors go, which kind each
//! one is, and the segments of the resulting record. Policy only; no files.
//!
//! An injected error at golden step `s` becomes three segments: the wrong step
//! `s'` (out of the loss, still visible to attention), the recognition phrase
//! and `s` again as the correction (both in the loss). The trace then goes on
//! from the correct state, because the verifier and the model both treat the
//! recognition as retracting `s'`.

use selfcorrect_tasks::{Problem, Rng};

use crate::config::ResolvedMix;
use crate::record::{Role, Segment};

/// One injected error.
#[derive(Debug, Clone, PartialEq)]
pub struct InjectedError {
    /// Index of the golden step the error stands in for.
    pub position: usize,
    pub kind: &'static str,
    pub wrong_step: String,
    /// The probability each kind had at this position: the mix weights
    /// restricted to the kinds that could be produced there, normalised.
    pub kind_probabilities: Vec<(&'static str, f64)>,
}

/// The errors placed in one trace, and what could not be placed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InjectionPlan {
    /// Errors in trace order.
    pub errors: Vec<InjectedError>,
    /// Errors requested but not placed because no position admitted one more.
    pub shortfall: usize,
    /// Wrong steps that the verifier did not report with their kind at their
    /// position; each was discarded and another kind drawn.
    pub rejected: Vec<(usize, &'static str, String)>,
}

/// Places `count` errors at distinct golden steps.
///
/// Positions are drawn uniformly from the steps not used yet. At a position,
/// every kind with positive weight is asked for a wrong step; the kind is drawn
/// from the weights restricted to the kinds that produced one and passed the
/// verifier. A position where no kind qualifies is dropped and another drawn.
pub fn plan_errors(
    problem: &dyn Problem,
    golden: &[String],
    mix: &ResolvedMix,
    count: usize,
    rng: &mut Rng,
) -> InjectionPlan {
    let mut plan = InjectionPlan::default();
    let mut free_positions: Vec<usize> = (0..golden.len()).collect();

    while plan.errors.len() < count && !free_positions.is_empty() {
        let position = free_positions.remove(rng.below(free_positions.len() as u64) as usize);

        // Candidate wrong steps, one per kind with positive weight, in taxonomy order.
        let mut candidates: Vec<(&'static str, f64, String)> = mix
            .kind_weights
            .iter()
            .filter(|(_, weight)| *weight > 0.0)
            .filter_map(|&(kind, weight)| {
                problem.corrupt_step(position, kind, rng).map(|wrong| (kind, weight, wrong))
            })
            .collect();

        while !candidates.is_empty() {
            let total: f64 = candidates.iter().map(|(_, weight, _)| weight).sum();
            let chosen = draw_weighted(candidates.iter().map(|(_, weight, _)| *weight), total, rng);
            let (kind, _, wrong_step) = candidates[chosen].clone();
            if verify_error(problem, golden, position, &wrong_step, kind, &mix.recognition) {
                let kind_probabilities =
                    candidates.iter().map(|(kind, weight, _)| (*kind, weight / total)).collect();
                plan.errors.push(InjectedError { position, kind, wrong_step, kind_probabilities });
                break;
            }
            plan.rejected.push((position, kind, wrong_step));
            candidates.remove(chosen);
        }
    }

    plan.shortfall = count - plan.errors.len();
    plan.errors.sort_by_key(|error| error.position);
    plan
}

/// Draws an index with probability proportional to its weight.
fn draw_weighted(weights: impl Iterator<Item = f64> + Clone, total: f64, rng: &mut Rng) -> usize {
    let target = rng.unit() * total;
    let mut cumulative = 0.0;
    let mut last_positive = 0;
    for (index, weight) in weights.enumerate() {
        if weight > 0.0 {
            last_positive = index;
        }
        cumulative += weight;
        if target < cumulative {
            return index;
        }
    }
    // Rounding can leave `target` at the very top of the range.
    last_positive
}

/// Checks with the task's verifier that `wrong_step`, written after the golden
/// steps before `position`, is reported as a new error of `kind` on that line.
pub fn verify_error(
    problem: &dyn Problem,
    golden: &[String],
    position: usize,
    wrong_step: &str,
    kind: &str,
    recognition: &str,
) -> bool {
    let mut text = String::new();
    for step in &golden[..position] {
        text.push_str(step);
        text.push('\n');
    }
    text.push_str(wrong_step);
    text.push('\n');

    let annotation = problem.annotate(&text, recognition);
    let last_matches = annotation
        .steps
        .last()
        .is_some_and(|step| step.line == position && step.verdict.error_kind() == Some(kind));
    let first_matches = annotation.first_error.as_ref().is_some_and(|first| first.step == position && first.kind == kind);
    last_matches && first_matches
}

/// Builds the segments of an example: the prompt, then the golden steps with
/// each planned error spliced in where the step it stands in for was, laid out
/// as `mix` says. Without `injection` the example is the clean golden trace.
pub fn build_segments(
    prompt: &str,
    golden: &[String],
    injection: Option<(&[InjectedError], &ResolvedMix)>,
) -> Vec<Segment> {
    let line = |text: &str| format!("{text}\n");
    let segment = |role: Role, text: &str, loss: bool| Segment { role, text: line(text), loss, kind: None };

    let mut segments = vec![Segment { role: Role::Prompt, text: prompt.to_string(), loss: false, kind: None }];
    for (position, step) in golden.iter().enumerate() {
        let is_answer = position + 1 == golden.len();
        let error = injection
            .and_then(|(errors, mix)| errors.iter().find(|error| error.position == position).map(|error| (error, mix)));
        match error {
            Some((error, mix)) => {
                segments.push(Segment {
                    role: Role::Error,
                    text: line(&error.wrong_step),
                    loss: mix.error_in_loss,
                    kind: Some(error.kind.to_string()),
                });
                if !mix.omit_recognition {
                    segments.push(segment(Role::Recognition, &mix.recognition, true));
                }
                if !mix.omit_correction {
                    segments.push(segment(Role::Correction, step, true));
                }
            }
            None if is_answer => segments.push(segment(Role::Answer, step, true)),
            None => segments.push(segment(Role::Step, step, true)),
        }
    }
    segments
}
