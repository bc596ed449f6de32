//! The experiment config: which tasks and model families, how much data, the
//! base, FT and EIFT training stages, and the evaluations.

use serde::{Deserialize, Serialize};

/// The built-in default study: small enough for about 15 minutes on 2 CPU cores.
pub const DEFAULT_CONFIG: &str = include_str!("../../../../presets/default.toml");
/// The study's scale, for bigger machines.
pub const PAPER_CONFIG: &str = include_str!("../../../../presets/paper.toml");
/// A minimal run for tests: one tiny model, a handful of steps and problems.
pub const TINY_CONFIG: &str = include_str!("../../../../presets/tiny.toml");

/// The largest split an experiment may ask for, as in `selfcorrect dataset`.
const MAX_RECORDS: u64 = selfcorrect_data::MAX_SPLIT_RECORDS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    pub tasks: Vec<String>,
    pub families: Vec<String>,
    /// Overrides of the model shape, applied to every family.
    #[serde(default)]
    pub model: ModelShape,
    pub data: DataSizes,
    /// Training from scratch on clean traces, to a model that is competent but still errs.
    pub base: Stage,
    /// FT and EIFT both continue from the base checkpoint with this stage, so
    /// they get equal compute.
    pub finetune: Stage,
    pub eval: EvalStage,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelShape {
    #[serde(default = "default_size")]
    pub size: String,
    pub hidden_size: Option<usize>,
    pub intermediate_size: Option<usize>,
    pub num_hidden_layers: Option<usize>,
    pub num_attention_heads: Option<usize>,
    pub num_key_value_heads: Option<usize>,
}

fn default_size() -> String {
    "tiny".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSizes {
    pub train: u64,
    pub validation: u64,
    pub test: u64,
    #[serde(default = "default_max_seq_len")]
    pub max_seq_len: usize,
    /// Share of EIFT records with injected errors (the study: 0.2).
    #[serde(default = "default_injected_fraction")]
    pub injected_fraction: f64,
}

fn default_max_seq_len() -> usize {
    1024
}

fn default_injected_fraction() -> f64 {
    0.2
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub steps: u64,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub min_learning_rate: f64,
    pub warmup_steps: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalStage {
    /// Test problems per model.
    pub problems: usize,
    pub max_new_tokens: usize,
    #[serde(default = "default_eval_batch")]
    pub batch_size: usize,
}

fn default_eval_batch() -> usize {
    32
}

impl ExperimentConfig {
    /// Parses and validates a config. Tables and fields that `text` leaves out take the built-in
    /// default's values, except `name`, which is required so that runs get their own folders, and
    /// `[model]`, which replaces the default's model shape as a whole when present.
    pub fn parse(text: &str, source: &str) -> anyhow::Result<Self> {
        let invalid = |err: &dyn std::fmt::Display| anyhow::anyhow!("invalid experiment config {source}: {err}");
        let user: toml::Table = toml::from_str(text).map_err(|err| invalid(&err))?;
        if !user.contains_key("name") {
            return Err(invalid(&"name is missing; add one, such as name = \"my-study\", which names runs/NAME"));
        }
        let mut merged: toml::Table = toml::from_str(DEFAULT_CONFIG).map_err(|err| invalid(&err))?;
        for (key, value) in user {
            match (merged.get_mut(&key), value) {
                (Some(toml::Value::Table(defaults)), toml::Value::Table(table)) if key != "model" => {
                    defaults.extend(table);
                }
                (_, value) => {
                    merged.insert(key, value);
                }
            }
        }
        let config: ExperimentConfig = merged.try_into().map_err(|err| invalid(&err))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field; errors name the field, the value and what is allowed.
    pub fn validate(&self) -> anyhow::Result<()> {
        let fail = |field: &str, value: String, allowed: &str| {
            Err(anyhow::anyhow!("invalid experiment config: {field} = {value}: expected {allowed}"))
        };
        if self.tasks.is_empty() {
            return fail("tasks", "[]".into(), "at least one task");
        }
        for task in &self.tasks {
            if let Err(err) = selfcorrect_tasks::task_by_name(task) {
                anyhow::bail!("invalid experiment config: tasks: {err}");
            }
        }
        if self.families.is_empty() {
            return fail("families", "[]".into(), "at least one of llama, qwen2, gemma");
        }
        for family in &self.families {
            if !["llama", "qwen2", "gemma"].contains(&family.as_str()) {
                return fail("families", format!("{family:?}"), "llama, qwen2 or gemma");
            }
        }
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return fail("name", format!("{:?}", self.name), "letters, digits, '-', '_' or '.'");
        }
        if self.data.train == 0 || self.data.test == 0 {
            return fail(
                "data.train / data.test",
                format!("{} / {}", self.data.train, self.data.test),
                "at least 1 each",
            );
        }
        if !(0.0..=1.0).contains(&self.data.injected_fraction) {
            return fail("data.injected_fraction", self.data.injected_fraction.to_string(), "a number from 0 to 1");
        }
        for (name, stage) in [("base", &self.base), ("finetune", &self.finetune)] {
            if stage.steps == 0 || stage.batch_size == 0 {
                return fail(
                    &format!("{name}.steps / {name}.batch_size"),
                    format!("{} / {}", stage.steps, stage.batch_size),
                    "at least 1 each",
                );
            }
            if !(stage.learning_rate > 0.0
                && stage.min_learning_rate >= 0.0
                && stage.min_learning_rate <= stage.learning_rate)
            {
                return fail(
                    &format!("{name}.learning_rate"),
                    stage.learning_rate.to_string(),
                    "a positive number at least min_learning_rate",
                );
            }
        }
        if self.data.train > MAX_RECORDS || self.data.validation > MAX_RECORDS || self.data.test > MAX_RECORDS {
            return fail(
                "data.train / data.validation / data.test",
                format!("{} / {} / {}", self.data.train, self.data.validation, self.data.test),
                &format!("at most {MAX_RECORDS} each"),
            );
        }
        if self.eval.batch_size == 0 {
            return fail("eval.batch_size", "0".into(), "at least 1");
        }
        if self.eval.problems == 0 || self.eval.max_new_tokens == 0 {
            return fail(
                "eval.problems / eval.max_new_tokens",
                format!("{} / {}", self.eval.problems, self.eval.max_new_tokens),
                "at least 1 each",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_config() -> ExperimentConfig {
        ExperimentConfig::parse(DEFAULT_CONFIG, "the default").unwrap()
    }

    #[test]
    fn left_out_fields_take_default_values() {
        let text = "name = \"short\"\ntasks = [\"mult-3x3\"]\n[base]\nsteps = 50\n";
        let config = ExperimentConfig::parse(text, "test").unwrap();
        let defaults = default_config();
        assert_eq!(config.name, "short");
        assert_eq!(config.tasks, ["mult-3x3"]);
        assert_eq!(config.base.steps, 50);
        assert_eq!(config.base.batch_size, defaults.base.batch_size);
        assert_eq!(config.families, defaults.families);
        assert_eq!(config.model, defaults.model);
        assert_eq!(config.eval, defaults.eval);
    }

    #[test]
    fn model_table_replaces_default_shape() {
        let config = ExperimentConfig::parse("name = \"x\"\n[model]\nsize = \"small\"\n", "test").unwrap();
        assert_eq!(config.model.size, "small");
        assert_eq!(config.model.hidden_size, None);
    }

    #[test]
    fn missing_name_is_rejected() {
        let error = ExperimentConfig::parse("tasks = [\"mult-2x2\"]\n", "test").unwrap_err();
        assert!(error.to_string().contains("name is missing"), "{error}");
    }
}
