//! Reasoning tasks for self-correction research: problem generators, golden
//! chains of thought, parsers, step verifiers, error taxonomies and exact scores.
//!
//! A [`Task`] makes problems. A [`Problem`] renders its prompt and golden trace,
//! verifies any text a model writes step by step ([`Problem::annotate`]) and
//! produces synthetic wrong steps of each error kind ([`Problem::corrupt_step`]).
//! Verifiers recompute from the problem itself and never compare against the text
//! of the golden trace.
//!
//! This crate has no machine-learning dependency: tokenizers, datasets and models
//! live in the crates above it.

mod annotate;
pub mod mult;
pub mod seed;
pub mod sudoku;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use annotate::{Annotation, LineRole, StepReport, Verdict};
pub use seed::{Rng, item_seed};

/// The recognition phrase the published study used after an injected error.
pub const DEFAULT_RECOGNITION: &str = "Ah! I made a mistake.";

/// Errors from task lookup, problem loading and generation.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("unknown task '{name}'; known tasks: {known}")]
    UnknownTask { name: String, known: String },
    #[error("invalid task '{name}': {reason}")]
    InvalidTaskName { name: String, reason: String },
    #[error("invalid problem for task {task}: {reason}")]
    InvalidProblem { task: String, reason: String },
    #[error("invalid puzzle: {0}")]
    InvalidPuzzle(String),
    #[error("task {task} could not generate item {index} of seed {seed}: {reason}")]
    Generation { task: String, seed: u64, index: u64, reason: String },
}

/// One kind of reasoning error in a task's taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKind {
    pub name: &'static str,
    pub description: &'static str,
    /// Whether [`Problem::corrupt_step`] can produce this kind. Kinds the verifier
    /// can detect but no synthetic model produces are still reported in rollouts.
    pub synthetic: bool,
}

/// A family of problems, such as `mult-4x4` or `sudoku-9x9`.
pub trait Task: Send + Sync {
    /// The registry name, which also feeds the per-item seed.
    fn name(&self) -> &str;

    /// Every error kind the verifier can report, in a fixed order.
    fn error_kinds(&self) -> &'static [ErrorKind];

    /// Makes problem `index` of dataset `seed`, deterministically.
    fn generate(&self, seed: u64, index: u64) -> Result<Box<dyn Problem>, TaskError>;

    /// Reads a problem from the JSON that [`Problem::to_json`] writes.
    fn load(&self, problem: &serde_json::Value) -> Result<Box<dyn Problem>, TaskError>;
}

/// One problem of a task, with everything needed to render and grade it.
pub trait Problem: Send + Sync {
    fn to_json(&self) -> serde_json::Value;

    /// The prompt, ending with a newline.
    fn prompt(&self) -> String;

    /// The golden trace: one step per line, ending with the answer line.
    fn golden_steps(&self) -> Vec<String>;

    /// The exact final answer as it appears on the answer line.
    fn answer(&self) -> String;

    /// Parses and verifies model output line by line. Lines equal to
    /// `recognition` (after trimming) retract the step before them, so the next
    /// step is verified as a replacement for it.
    fn annotate(&self, output: &str, recognition: &str) -> Annotation;

    /// Writes a wrong step of error kind `kind` to stand in place of golden step
    /// `position`, given the golden steps before it. Returns `None` when the kind
    /// cannot occur at that position (for example a carry error on a step that
    /// has no carry to get wrong).
    fn corrupt_step(&self, position: usize, kind: &str, rng: &mut Rng) -> Option<String>;

    /// 1.0 when the last answer line of `output` is exactly the right answer, else 0.0.
    fn score(&self, output: &str, recognition: &str) -> f64 {
        self.annotate(output, recognition).score
    }
}

/// Names every registered task family, for help text and error messages.
pub const TASK_FAMILIES: &str = "mult-AxB (A, B digits from 1 to 9, e.g. mult-4x4), \
sudoku-4x4, sudoku-9x9 (optionally with a number of givens: sudoku-4x4-g6)";

/// Looks a task up by name.
pub fn task_by_name(name: &str) -> Result<Box<dyn Task>, TaskError> {
    if let Some(rest) = name.strip_prefix("mult-") {
        return Ok(Box::new(mult::Multiplication::from_spec(name, rest)?));
    }
    if let Some(rest) = name.strip_prefix("sudoku-") {
        return Ok(Box::new(sudoku::Sudoku::from_spec(name, rest)?));
    }
    Err(TaskError::UnknownTask { name: name.to_string(), known: TASK_FAMILIES.to_string() })
}

/// Verdict counts over a set of annotations, for summary tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub records: usize,
    pub correct_answers: usize,
    pub steps: usize,
    pub correct_steps: usize,
    pub propagated_steps: usize,
    pub wrong_steps: usize,
    pub unparseable_lines: usize,
    pub recognitions: usize,
    /// Wrong steps per error kind, in the task's taxonomy order, then any others.
    pub error_kinds: Vec<(String, usize)>,
    /// First errors per error kind.
    pub first_error_kinds: Vec<(String, usize)>,
}

impl Summary {
    pub fn new(task: &dyn Task) -> Self {
        let kinds: Vec<(String, usize)> = task.error_kinds().iter().map(|kind| (kind.name.to_string(), 0)).collect();
        Self { error_kinds: kinds.clone(), first_error_kinds: kinds, ..Self::default() }
    }

    pub fn add(&mut self, annotation: &Annotation) {
        self.records += 1;
        if annotation.score == 1.0 {
            self.correct_answers += 1;
        }
        for step in &annotation.steps {
            match &step.verdict {
                Verdict::Correct => self.correct_steps += 1,
                Verdict::Propagated => self.propagated_steps += 1,
                Verdict::Wrong { kind, .. } => {
                    self.wrong_steps += 1;
                    bump(&mut self.error_kinds, kind);
                }
                Verdict::Unparseable => self.unparseable_lines += 1,
                Verdict::Recognition { .. } => self.recognitions += 1,
            }
            if step.role == LineRole::Step || step.role == LineRole::Answer {
                self.steps += 1;
            }
        }
        if let Some(first) = &annotation.first_error {
            bump(&mut self.first_error_kinds, &first.kind);
        }
    }

    pub fn accuracy(&self) -> f64 {
        if self.records == 0 { 0.0 } else { self.correct_answers as f64 / self.records as f64 }
    }
}

fn bump(counts: &mut Vec<(String, usize)>, kind: &str) {
    match counts.iter_mut().find(|(name, _)| name == kind) {
        Some((_, count)) => *count += 1,
        None => counts.push((kind.to_string(), 1)),
    }
}

impl fmt::Display for Summary {
    /// Renders the summary as a plain-text table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "records            {:>8}", self.records)?;
        writeln!(f, "accuracy           {:>8.4}  ({}/{})", self.accuracy(), self.correct_answers, self.records)?;
        writeln!(f, "steps              {:>8}", self.steps)?;
        writeln!(f, "  correct          {:>8}", self.correct_steps)?;
        writeln!(f, "  propagated       {:>8}", self.propagated_steps)?;
        writeln!(f, "  wrong            {:>8}", self.wrong_steps)?;
        writeln!(f, "unparseable lines  {:>8}", self.unparseable_lines)?;
        writeln!(f, "recognitions       {:>8}", self.recognitions)?;
        writeln!(f, "error kind               wrong steps  first errors")?;
        for (kind, wrong) in &self.error_kinds {
            let first = self.first_error_kinds.iter().find(|(name, _)| name == kind).map_or(0, |(_, n)| *n);
            writeln!(f, "  {kind:<22} {wrong:>12} {first:>13}")?;
        }
        Ok(())
    }
}
