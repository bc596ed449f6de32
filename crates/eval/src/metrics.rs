//! Self-correction events per rollout, and the metrics over many rollouts.
//!
//! Definitions, per rollout annotated by the task verifier:
//! - an *error* is a line with a `wrong` verdict (a new error, not a propagated one);
//! - an error is *recognised* when the next line is the recognition phrase;
//! - a *false alarm* is a recognition right after a correct or propagated step;
//! - each recognition after an error is followed by exactly one of: the right
//!   step for that context (*corrected*), the same wrong step again, character
//!   for character (*parroted*), a different wrong step, or no step (the output
//!   ends, or the next line is unreadable or another recognition).

use selfcorrect_tasks::{Annotation, LineRole, Verdict};
use serde::{Deserialize, Serialize};

use crate::stats::{Estimate, Z_95, bootstrap_ratio, wilson};

/// The self-correction events of one rollout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RolloutEvents {
    pub correct: bool,
    /// Whether the output has no answer line (cut off at the token limit, or never answered).
    pub no_answer: bool,
    /// Step and answer lines, retracted ones included.
    pub steps: u64,
    pub errors: u64,
    pub propagated: u64,
    pub unparseable: u64,
    pub recognitions: u64,
    pub recognised_errors: u64,
    pub false_alarms: u64,
    pub corrected: u64,
    pub parroted: u64,
    pub different_wrong: u64,
    pub no_step_after: u64,
    /// Errors per kind, in order of first appearance.
    pub error_kinds: Vec<(String, u64)>,
}

impl RolloutEvents {
    pub fn from_annotation(annotation: &Annotation) -> Self {
        let steps = &annotation.steps;
        let mut events = RolloutEvents {
            correct: annotation.score == 1.0,
            no_answer: annotation.answer.is_none(),
            ..Self::default()
        };

        for (index, step) in steps.iter().enumerate() {
            match &step.verdict {
                Verdict::Wrong { kind, .. } => {
                    events.errors += 1;
                    match events.error_kinds.iter_mut().find(|(name, _)| name == kind) {
                        Some((_, count)) => *count += 1,
                        None => events.error_kinds.push((kind.clone(), 1)),
                    }
                    if matches!(steps.get(index + 1).map(|s| s.role), Some(LineRole::Recognition)) {
                        events.recognised_errors += 1;
                    }
                }
                Verdict::Propagated => events.propagated += 1,
                Verdict::Unparseable => events.unparseable += 1,
                Verdict::Correct => {}
                Verdict::Recognition { follows } => {
                    events.recognitions += 1;
                    let before = follows.and_then(|i| steps.get(i));
                    match before.map(|s| &s.verdict) {
                        Some(Verdict::Correct | Verdict::Propagated) => events.false_alarms += 1,
                        Some(Verdict::Wrong { .. }) => {
                            let wrong_text = &before.expect("matched Some").text;
                            events.classify_follow_up(wrong_text, steps.get(index + 1));
                        }
                        _ => {}
                    }
                }
            }
            if matches!(step.role, LineRole::Step | LineRole::Answer) {
                events.steps += 1;
            }
        }
        events
    }

    fn classify_follow_up(&mut self, wrong_text: &str, next: Option<&selfcorrect_tasks::StepReport>) {
        let Some(next) = next.filter(|s| matches!(s.role, LineRole::Step | LineRole::Answer)) else {
            self.no_step_after += 1;
            return;
        };
        if next.text == wrong_text {
            self.parroted += 1;
        } else if matches!(next.verdict, Verdict::Correct | Verdict::Propagated) {
            self.corrected += 1;
        } else {
            self.different_wrong += 1;
        }
    }

    /// Whether the answer is right and at least one error was corrected on the way.
    pub fn rescued(&self) -> bool {
        self.correct && self.corrected > 0
    }
}

/// The self-correction measures over a set of rollouts, each with a 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub rollouts: u64,
    /// Exact final answers (Wilson).
    pub accuracy: Estimate,
    /// Errors per step line (bootstrap over rollouts).
    pub error_rate_per_step: Estimate,
    /// Errors directly followed by the recognition phrase.
    pub recognition_rate: Estimate,
    /// Recognitions that follow a correct or propagated step.
    pub false_alarm_rate: Estimate,
    /// Of recognitions after an error: the next step is right.
    pub correction_rate: Estimate,
    /// Of recognitions after an error: the same wrong step again.
    pub parroting_rate: Estimate,
    /// Of recognitions after an error: a different wrong step.
    pub different_wrong_rate: Estimate,
    /// Accuracy of rollouts with at least one recognition (Wilson).
    pub accuracy_with_recognition: Estimate,
    /// Accuracy of rollouts without any recognition (Wilson).
    pub accuracy_without_recognition: Estimate,
    /// Rollouts whose right answer followed a corrected error (Wilson, over all rollouts).
    pub rescued: Estimate,
    /// Rollouts with no answer line (Wilson).
    pub no_answer: Estimate,
    /// Errors per kind over all rollouts, in taxonomy order, then any others.
    pub error_kinds: Vec<(String, u64)>,
}

impl Metrics {
    /// Aggregates rollouts; `kinds` orders the histogram, and `seed` fixes the
    /// bootstrap resamples so the same rollouts always give the same intervals.
    pub fn from_rollouts(rollouts: &[RolloutEvents], kinds: &[&str], seed: u64) -> Self {
        let count = |f: &dyn Fn(&RolloutEvents) -> bool| rollouts.iter().filter(|r| f(r)).count() as u64;
        let ratio = |f: &dyn Fn(&RolloutEvents) -> (u64, u64), salt: u64| {
            let units: Vec<(u64, u64)> = rollouts.iter().map(f).collect();
            bootstrap_ratio(&units, seed ^ salt)
        };
        let after_error = |r: &RolloutEvents| r.corrected + r.parroted + r.different_wrong + r.no_step_after;

        let with_recognition = count(&|r| r.recognitions > 0);
        let mut error_kinds: Vec<(String, u64)> = kinds.iter().map(|k| (k.to_string(), 0)).collect();
        for rollout in rollouts {
            for (kind, n) in &rollout.error_kinds {
                match error_kinds.iter_mut().find(|(name, _)| name == kind) {
                    Some((_, total)) => *total += n,
                    None => error_kinds.push((kind.clone(), *n)),
                }
            }
        }

        Metrics {
            rollouts: rollouts.len() as u64,
            accuracy: wilson(count(&|r| r.correct), rollouts.len() as u64, Z_95),
            error_rate_per_step: ratio(&|r| (r.errors, r.steps), 1),
            recognition_rate: ratio(&|r| (r.recognised_errors, r.errors), 2),
            false_alarm_rate: ratio(&|r| (r.false_alarms, r.recognitions), 3),
            correction_rate: ratio(&|r| (r.corrected, after_error(r)), 4),
            parroting_rate: ratio(&|r| (r.parroted, after_error(r)), 5),
            different_wrong_rate: ratio(&|r| (r.different_wrong, after_error(r)), 6),
            accuracy_with_recognition: wilson(count(&|r| r.recognitions > 0 && r.correct), with_recognition, Z_95),
            accuracy_without_recognition: wilson(
                count(&|r| r.recognitions == 0 && r.correct),
                rollouts.len() as u64 - with_recognition,
                Z_95,
            ),
            rescued: wilson(count(&|r| r.rescued()), rollouts.len() as u64, Z_95),
            no_answer: wilson(count(&|r| r.no_answer), rollouts.len() as u64, Z_95),
            error_kinds,
        }
    }
}
