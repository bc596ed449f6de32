//! The task-independent part of verification: splitting output into lines,
//! handling recognition phrases, and collecting per-line verdicts.

use serde::{Deserialize, Serialize};

/// The kind of a line of model output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineRole {
    Step,
    Answer,
    Recognition,
    /// A line the task parser cannot read as a step, an answer or a recognition.
    Unreadable,
}

/// The verifier's judgement of one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Follows from the problem and the lines before it, and is globally right.
    Correct,
    /// Follows correctly from the lines before it, but an earlier error makes it
    /// differ from what a fully correct trace has here: a consequence, not a new error.
    Propagated,
    /// A new error of the given kind.
    Wrong {
        kind: String,
        detail: String,
    },
    Unparseable,
    /// A recognition phrase. `follows` is the index (into
    /// [`Annotation::steps`]) of the line right before it, if any; when that
    /// line is a step, the recognition retracts it.
    Recognition {
        follows: Option<usize>,
    },
}

impl Verdict {
    pub fn wrong(kind: &str, detail: impl Into<String>) -> Self {
        Verdict::Wrong { kind: kind.to_string(), detail: detail.into() }
    }

    pub fn error_kind(&self) -> Option<&str> {
        match self {
            Verdict::Wrong { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// One non-blank line of output with its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// Zero-based line number in the output, blank lines included.
    pub line: usize,
    pub text: String,
    pub role: LineRole,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Whether a recognition phrase right after this line retracted it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retracted: bool,
}

/// The first new error in a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstError {
    /// Index into [`Annotation::steps`].
    pub step: usize,
    pub kind: String,
}

/// A verified trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub steps: Vec<StepReport>,
    pub first_error: Option<FirstError>,
    /// The last answer line that no recognition retracted.
    pub answer: Option<String>,
    /// 1.0 when `answer` is exactly the right answer, else 0.0.
    pub score: f64,
}

/// The outcome of verifying one line against the state before it.
pub(crate) struct Checked<S> {
    pub role: LineRole,
    pub verdict: Verdict,
    /// The state after the line; `None` leaves the state unchanged.
    pub state: Option<S>,
    /// The answer the line states, for answer lines.
    pub answer: Option<String>,
}

/// A task's step verifier as a state machine over lines.
pub(crate) trait StepVerifier {
    type State: Clone;

    fn initial_state(&self) -> Self::State;

    /// Verifies one trimmed, non-blank line that is not the recognition phrase.
    fn check_line(&self, state: &Self::State, line: &str) -> Checked<Self::State>;

    fn correct_answer(&self) -> String;
}

/// Runs a verifier over every line of `output`.
pub(crate) fn annotate<V: StepVerifier>(verifier: &V, output: &str, recognition: &str) -> Annotation {
    let recognition = recognition.trim();
    let mut state = verifier.initial_state();
    let mut steps: Vec<StepReport> = Vec::new();
    // The state before the most recent line, while that line is a step that a
    // recognition may still retract.
    let mut before_last: Option<V::State> = None;
    let mut answers: Vec<(usize, String)> = Vec::new();

    for (line_number, raw) in output.lines().enumerate() {
        let text = raw.trim();
        if text.is_empty() {
            continue;
        }

        if !recognition.is_empty() && text == recognition {
            let follows = steps.len().checked_sub(1);
            if let Some(previous) = before_last.take() {
                state = previous;
                if let Some(index) = follows {
                    steps[index].retracted = true;
                    answers.retain(|(step, _)| *step != index);
                }
            }
            steps.push(StepReport {
                line: line_number,
                text: text.to_string(),
                role: LineRole::Recognition,
                verdict: Verdict::Recognition { follows },
                retracted: false,
            });
            continue;
        }

        let checked = verifier.check_line(&state, text);
        before_last = match checked.state {
            Some(next) => Some(std::mem::replace(&mut state, next)),
            None => None,
        };
        if let Some(answer) = checked.answer {
            answers.push((steps.len(), answer));
        }
        steps.push(StepReport {
            line: line_number,
            text: text.to_string(),
            role: checked.role,
            verdict: checked.verdict,
            retracted: false,
        });
    }

    let first_error = steps.iter().enumerate().find_map(|(index, step)| {
        step.verdict.error_kind().map(|kind| FirstError { step: index, kind: kind.to_string() })
    });
    let answer = answers.pop().map(|(_, answer)| answer);
    let score = match &answer {
        Some(answer) if *answer == verifier.correct_answer() => 1.0,
        _ => 0.0,
    };
    Annotation { steps, first_error, answer, score }
}
