//! Dataset and injection configs in two stages: a serde struct that mirrors the
//! TOML file (`deny_unknown_fields`), and one `validate()` into a resolved type
//! that the builders use. Overrides such as `eift.injected_fraction=0.3` are
//! applied to the TOML table before deserialising, so they pass the same checks
//! as the file.
//!
//! ```toml
//! task = "mult-4x4"
//! mode = "eift"                  # "ft": clean golden traces only
//! seed = 7
//!
//! [splits]                       # records per split
//! train = 10000
//! validation = 500
//! test = 500
//!
//! [eift]
//! recognition = "Ah! I made a mistake."
//! injected_fraction = 0.2        # share of records with injected errors
//! min_errors = 1                 # errors per injected record, drawn uniformly
//! max_errors = 4
//! error_in_loss = false          # ablation: the wrong step is a training target
//! omit_recognition = false       # ablation: no recognition phrase after the error
//! omit_correction = false        # ablation: no corrected step after the error
//! kind_draw = "per_position"     # or "kind_first": draw the kind, then a step that admits it
//!
//! [eift.kind_weights]            # default: every synthetic kind, weight 1
//! carry = 2.0
//! product_digit = 1.0
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use selfcorrect_tasks::{DEFAULT_RECOGNITION, TASK_FAMILIES, Task, task_by_name};
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// The default mix: 20% of records carry injected errors, 80% are clean.
pub const DEFAULT_INJECTED_FRACTION: f64 = 0.2;
/// The default range of errors per injected record, drawn uniformly.
pub const DEFAULT_MIN_ERRORS: i64 = 1;
pub const DEFAULT_MAX_ERRORS: i64 = 4;

pub const DEFAULT_TRAIN_RECORDS: i64 = 10_000;

/// The largest split a config may ask for. Splits are held in memory while
/// they are built, at roughly 2 KB per record for mult-4x4, so this keeps a
/// typing slip from asking for terabytes.
pub const MAX_SPLIT_RECORDS: u64 = 10_000_000;
pub const DEFAULT_VALIDATION_RECORDS: i64 = 500;
pub const DEFAULT_TEST_RECORDS: i64 = 500;

/// Whether a dataset is clean golden traces or the error-injection mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Fine-tuning on clean golden traces.
    Ft,
    /// Error Injection Fine-Tuning: the `[eift]` mix of clean and injected records.
    Eift,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Ft => "ft",
            Mode::Eift => "eift",
        }
    }
}

/// The `[eift]` table: how errors are injected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MixConfig {
    pub recognition: String,
    pub injected_fraction: f64,
    pub min_errors: i64,
    pub max_errors: i64,
    /// Relative weights over the task's synthetic error kinds. Kinds left out
    /// get weight 0, and without the table every synthetic kind gets weight 1.
    /// The weights apply at each drawn position among the kinds that can occur
    /// there, so the realised kind shares also depend on how many steps admit
    /// each kind. `stats.json` reports realised and expected counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind_weights: Option<BTreeMap<String, f64>>,
    pub error_in_loss: bool,
    pub omit_recognition: bool,
    pub omit_correction: bool,
    /// The draw order of kinds and positions: "per_position" or "kind_first" (see [`KindDraw`]).
    pub kind_draw: String,
}

impl Default for MixConfig {
    fn default() -> Self {
        Self {
            recognition: DEFAULT_RECOGNITION.to_string(),
            injected_fraction: DEFAULT_INJECTED_FRACTION,
            min_errors: DEFAULT_MIN_ERRORS,
            max_errors: DEFAULT_MAX_ERRORS,
            kind_weights: None,
            error_in_loss: false,
            omit_recognition: false,
            omit_correction: false,
            kind_draw: KindDraw::PerPosition.name().to_string(),
        }
    }
}

/// The order in which an injected error's position and kind are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindDraw {
    /// The position first, uniformly over the trace, then the kind from the
    /// weights restricted to the kinds possible at that step. Errors spread
    /// evenly over the trace, and kinds that fit few steps are rare.
    PerPosition,
    /// The kind first, from the weights, then a position uniformly among the
    /// steps that admit it. The realised kind shares follow the weights, except
    /// that a kind with no free step left in a trace is redrawn, and positions
    /// follow the kinds (a final-answer error is always at the end).
    KindFirst,
}

impl KindDraw {
    pub fn name(self) -> &'static str {
        match self {
            KindDraw::PerPosition => "per_position",
            KindDraw::KindFirst => "kind_first",
        }
    }
}

/// The `[splits]` table: records per split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitSizes {
    pub train: i64,
    pub validation: i64,
    pub test: i64,
}

impl Default for SplitSizes {
    fn default() -> Self {
        Self { train: DEFAULT_TRAIN_RECORDS, validation: DEFAULT_VALIDATION_RECORDS, test: DEFAULT_TEST_RECORDS }
    }
}

/// A dataset config as written in its TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    pub task: String,
    #[serde(default = "default_mode")]
    pub mode: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub splits: SplitSizes,
    #[serde(default)]
    pub eift: MixConfig,
}

fn default_mode() -> String {
    "eift".to_string()
}

/// An injection config for records read from a file: the seed and the `[eift]` mix.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectConfig {
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub eift: MixConfig,
}

/// A validated error-injection mix for one task.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedMix {
    pub recognition: String,
    pub injected_fraction: f64,
    pub min_errors: usize,
    pub max_errors: usize,
    /// Every synthetic kind of the task, in taxonomy order, with its weight (zero allowed).
    pub kind_weights: Vec<(&'static str, f64)>,
    pub error_in_loss: bool,
    pub omit_recognition: bool,
    pub omit_correction: bool,
    pub kind_draw: KindDraw,
}

/// The three dataset splits, in the order they are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Split {
    Test,
    Validation,
    Train,
}

impl Split {
    /// Held-out splits first, so that their problems are fixed whatever the size of train.
    pub const ALL: [Split; 3] = [Split::Test, Split::Validation, Split::Train];

    pub fn name(self) -> &'static str {
        match self {
            Split::Test => "test",
            Split::Validation => "validation",
            Split::Train => "train",
        }
    }
}

/// A validated dataset config.
#[derive(Clone)]
pub struct ResolvedDatasetConfig {
    pub task: std::sync::Arc<dyn Task>,
    pub mode: Mode,
    pub seed: u64,
    pub train: u64,
    pub validation: u64,
    pub test: u64,
    /// The injection mix. In `ft` mode it is validated but not used.
    pub mix: ResolvedMix,
}

impl std::fmt::Debug for ResolvedDatasetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedDatasetConfig")
            .field("task", &self.task.name())
            .field("mode", &self.mode)
            .field("seed", &self.seed)
            .field("train", &self.train)
            .field("validation", &self.validation)
            .field("test", &self.test)
            .field("mix", &self.mix)
            .finish()
    }
}

impl ResolvedDatasetConfig {
    pub fn split_size(&self, split: Split) -> u64 {
        match split {
            Split::Test => self.test,
            Split::Validation => self.validation,
            Split::Train => self.train,
        }
    }

    /// Writes out every default, for saving the config beside a dataset.
    pub fn to_file_config(&self) -> DatasetConfig {
        DatasetConfig {
            task: self.task.name().to_string(),
            mode: self.mode.name().to_string(),
            seed: self.seed,
            splits: SplitSizes { train: self.train as i64, validation: self.validation as i64, test: self.test as i64 },
            eift: self.mix.to_file_config(),
        }
    }
}

impl ResolvedMix {
    pub fn to_file_config(&self) -> MixConfig {
        MixConfig {
            recognition: self.recognition.clone(),
            injected_fraction: self.injected_fraction,
            min_errors: self.min_errors as i64,
            max_errors: self.max_errors as i64,
            kind_weights: Some(self.kind_weights.iter().map(|(kind, weight)| (kind.to_string(), *weight)).collect()),
            error_in_loss: self.error_in_loss,
            omit_recognition: self.omit_recognition,
            omit_correction: self.omit_correction,
            kind_draw: self.kind_draw.name().to_string(),
        }
    }

    /// Returns the weight of `kind`, zero for kinds outside the mix.
    pub fn weight(&self, kind: &str) -> f64 {
        self.kind_weights.iter().find(|(name, _)| *name == kind).map_or(0.0, |(_, weight)| *weight)
    }
}

impl DatasetConfig {
    /// Parses a TOML config and applies `key.path=value` overrides to it.
    pub fn from_toml(text: &str, overrides: &[String]) -> Result<Self> {
        parse_with_overrides(text, overrides)
    }

    /// Reads a TOML config file and applies `key.path=value` overrides to it.
    pub fn from_path(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|err| DataError::io(path, err))?;
        Self::from_toml(&text, overrides).map_err(|err| in_file(path, err))
    }

    pub fn validate(&self) -> Result<ResolvedDatasetConfig> {
        let task = task_by_name(&self.task)
            .map_err(|_| DataError::invalid_config("task", format!("{:?}", self.task), TASK_FAMILIES))?;
        let mode = match self.mode.as_str() {
            "ft" => Mode::Ft,
            "eift" => Mode::Eift,
            other => return Err(DataError::invalid_config("mode", format!("{other:?}"), "\"ft\" or \"eift\"")),
        };
        let size = |field: &str, value: i64| -> Result<u64> {
            match u64::try_from(value) {
                Ok(count) if count <= MAX_SPLIT_RECORDS => Ok(count),
                _ => Err(DataError::invalid_config(
                    field,
                    value,
                    format!("a record count from 0 to {MAX_SPLIT_RECORDS}; splits are built in memory"),
                )),
            }
        };
        let train = size("splits.train", self.splits.train)?;
        let validation = size("splits.validation", self.splits.validation)?;
        let test = size("splits.test", self.splits.test)?;
        if train + validation + test == 0 {
            return Err(DataError::invalid_config("splits", "all zero", "at least one split with records"));
        }
        let mix = self.eift.validate(task.as_ref())?;
        Ok(ResolvedDatasetConfig {
            task: std::sync::Arc::from(task),
            mode,
            seed: self.seed,
            train,
            validation,
            test,
            mix,
        })
    }
}

impl InjectConfig {
    /// Parses a TOML config and applies `key.path=value` overrides to it.
    pub fn from_toml(text: &str, overrides: &[String]) -> Result<Self> {
        parse_with_overrides(text, overrides)
    }

    /// Reads a TOML config file and applies `key.path=value` overrides to it.
    pub fn from_path(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|err| DataError::io(path, err))?;
        Self::from_toml(&text, overrides).map_err(|err| in_file(path, err))
    }
}

impl MixConfig {
    /// Checks the mix against a task's error taxonomy.
    pub fn validate(&self, task: &dyn Task) -> Result<ResolvedMix> {
        let fraction = self.injected_fraction;
        if !(0.0..=1.0).contains(&fraction) {
            return Err(DataError::invalid_config("eift.injected_fraction", fraction, "a fraction in [0, 1]"));
        }
        if self.min_errors < 1 {
            return Err(DataError::invalid_config("eift.min_errors", self.min_errors, "an error count >= 1"));
        }
        if self.max_errors < self.min_errors {
            return Err(DataError::invalid_config(
                "eift.max_errors",
                self.max_errors,
                format!("a count >= eift.min_errors ({}), so the range of error counts is not empty", self.min_errors),
            ));
        }
        let kind_draw = match self.kind_draw.as_str() {
            "per_position" => KindDraw::PerPosition,
            "kind_first" => KindDraw::KindFirst,
            other => {
                return Err(DataError::invalid_config(
                    "eift.kind_draw",
                    format!("{other:?}"),
                    "\"per_position\" or \"kind_first\"",
                ));
            }
        };
        let recognition = self.recognition.trim();
        if !self.omit_recognition && (recognition.is_empty() || recognition.contains('\n')) {
            return Err(DataError::invalid_config(
                "eift.recognition",
                format!("{:?}", self.recognition),
                "a non-empty phrase on one line",
            ));
        }

        let synthetic: Vec<&'static str> =
            task.error_kinds().iter().filter(|kind| kind.synthetic).map(|kind| kind.name).collect();
        let allowed = synthetic.join(", ");
        let kind_weights = match &self.kind_weights {
            None => synthetic.iter().map(|kind| (*kind, 1.0)).collect::<Vec<_>>(),
            Some(weights) => {
                for (kind, weight) in weights {
                    if !synthetic.contains(&kind.as_str()) {
                        return Err(DataError::invalid_config(
                            "eift.kind_weights",
                            format!("{kind:?}"),
                            format!("a synthetic error kind of task {}: {allowed}", task.name()),
                        ));
                    }
                    if !weight.is_finite() || *weight < 0.0 {
                        return Err(DataError::invalid_config(
                            &format!("eift.kind_weights.{kind}"),
                            weight,
                            "a finite weight >= 0",
                        ));
                    }
                }
                synthetic.iter().map(|kind| (*kind, weights.get(*kind).copied().unwrap_or(0.0))).collect()
            }
        };
        if kind_weights.iter().all(|(_, weight)| *weight == 0.0) {
            return Err(DataError::invalid_config(
                "eift.kind_weights",
                "all zero",
                format!("at least one positive weight over: {allowed}"),
            ));
        }

        Ok(ResolvedMix {
            recognition: recognition.to_string(),
            injected_fraction: fraction,
            min_errors: self.min_errors as usize,
            max_errors: self.max_errors as usize,
            kind_weights,
            error_in_loss: self.error_in_loss,
            omit_recognition: self.omit_recognition,
            omit_correction: self.omit_correction,
            kind_draw,
        })
    }
}

/// Adds the file name to a syntax error.
fn in_file(path: &Path, error: DataError) -> DataError {
    match error {
        DataError::ConfigSyntax(message) => DataError::ConfigSyntax(format!("{}: {message}", path.display())),
        other => other,
    }
}

/// Parses TOML, applies overrides of the form `key.path=value`, then deserialises.
/// A value is read as a TOML value (`0.3`, `true`, `"text"`), or else as a bare string.
fn parse_with_overrides<T: serde::de::DeserializeOwned>(text: &str, overrides: &[String]) -> Result<T> {
    let mut table: toml::Table = toml::from_str(text).map_err(|err| DataError::ConfigSyntax(err.to_string()))?;
    for item in overrides {
        let Some((path, value)) = item.split_once('=') else {
            return Err(DataError::ConfigSyntax(format!("override {item:?} is not of the form key.path=value")));
        };
        let value = parse_override_value(value.trim());
        let keys: Vec<&str> = path.trim().split('.').map(str::trim).collect();
        if keys.iter().any(|key| key.is_empty()) {
            return Err(DataError::ConfigSyntax(format!("override {item:?} has an empty key")));
        }
        let (last, parents) = keys.split_last().unwrap_or((&"", &[]));
        let mut current = &mut table;
        for key in parents {
            let entry = current.entry(key.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            current = match entry {
                toml::Value::Table(inner) => inner,
                _ => return Err(DataError::ConfigSyntax(format!("override {item:?}: `{key}` is not a table"))),
            };
        }
        current.insert(last.to_string(), value);
    }
    toml::Value::Table(table).try_into().map_err(|err: toml::de::Error| DataError::ConfigSyntax(err.to_string()))
}

fn parse_override_value(text: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("value = {text}")) {
        Ok(mut table) => table.remove("value").unwrap_or_else(|| toml::Value::String(text.to_string())),
        Err(_) => toml::Value::String(text.to_string()),
    }
}
