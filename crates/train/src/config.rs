//! Training configuration: a TOML file read into [`TrainConfig`], then
//! validated into [`ResolvedTrainConfig`], which is saved beside every checkpoint.

use std::path::{Path, PathBuf};

use selfcorrect_model::{Family, Preset, ResolvedConfig};
use serde::{Deserialize, Serialize};

use crate::adamw::AdamWConfig;
use crate::error::{Result, TrainError};
use crate::schedule::Schedule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub model: ModelSection,
    pub data: DataSection,
    #[serde(default)]
    pub optim: OptimSection,
    #[serde(default)]
    pub run: RunSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// llama, qwen2 or gemma.
    #[serde(default = "default_family")]
    pub family: String,
    /// A size preset: tiny, small, base or large.
    #[serde(default = "default_size")]
    pub size: String,
    /// A checkpoint whose weights (and tokenizer) start the run, for fine-tuning.
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    /// Overrides of the preset's shape, by Hugging Face field name.
    #[serde(default)]
    pub hidden_size: Option<usize>,
    #[serde(default)]
    pub intermediate_size: Option<usize>,
    #[serde(default)]
    pub num_hidden_layers: Option<usize>,
    #[serde(default)]
    pub num_attention_heads: Option<usize>,
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Whether the output head shares the embedding matrix; the family's default when absent
    /// (Gemma ties, Llama and Qwen2 do not).
    #[serde(default)]
    pub tie_word_embeddings: Option<bool>,
}

impl ModelSection {
    /// Builds and validates the Hugging Face config of this model for a vocabulary.
    pub fn resolve(&self, family: Family, preset: Preset, vocab_size: usize) -> Result<ResolvedConfig> {
        let mut config = preset.model_config(family, vocab_size);
        if let Some(value) = self.hidden_size {
            config.hidden_size = value;
        }
        if let Some(value) = self.intermediate_size {
            config.intermediate_size = value;
        }
        if let Some(value) = self.num_hidden_layers {
            config.num_hidden_layers = value;
        }
        if let Some(value) = self.num_attention_heads {
            config.num_attention_heads = value;
        }
        if let Some(value) = self.num_key_value_heads {
            config.num_key_value_heads = Some(value);
        }
        if let Some(value) = self.tie_word_embeddings {
            config.tie_word_embeddings = Some(value);
        }
        Ok(config.validate()?)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Training records, as written by `selfcorrect dataset`.
    pub train: PathBuf,
    #[serde(default)]
    pub validation: Option<PathBuf>,
    /// A tokenizer.json; absent means a character-level tokenizer built from
    /// the training records (or the one saved with `init_from`).
    #[serde(default)]
    pub tokenizer: Option<PathBuf>,
    #[serde(default = "default_max_seq_len")]
    pub max_seq_len: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimSection {
    pub steps: u64,
    pub batch_size: usize,
    /// Micro-batches per optimiser step; each has `batch_size` examples.
    pub accumulation: usize,
    pub learning_rate: f64,
    pub min_learning_rate: f64,
    pub warmup_steps: u64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Maximum global gradient norm.
    pub grad_clip: f64,
}

impl Default for OptimSection {
    fn default() -> Self {
        Self {
            steps: 1000,
            batch_size: 16,
            accumulation: 1,
            learning_rate: 1e-3,
            min_learning_rate: 1e-4,
            warmup_steps: 50,
            weight_decay: 0.1,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            grad_clip: 1.0,
        }
    }
}

impl OptimSection {
    /// Returns the AdamW hyperparameters of this section.
    pub fn adamw(&self) -> AdamWConfig {
        AdamWConfig { beta1: self.beta1, beta2: self.beta2, eps: self.eps, weight_decay: self.weight_decay }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSection {
    pub out_dir: PathBuf,
    pub seed: u64,
    /// Steps between progress lines and metrics records.
    pub log_every: u64,
    /// Steps between validations; 0 validates only at the end.
    pub eval_every: u64,
    /// Held-out problems decoded greedily for exact-match accuracy at each validation.
    pub eval_problems: usize,
    /// Maximum tokens generated per problem at validation.
    pub max_new_tokens: usize,
    /// Steps between checkpoints; the last step always writes one.
    pub checkpoint_every: u64,
    /// Checkpoints kept; older ones are deleted.
    pub keep_last: usize,
    /// The recognition phrase, for verifying generated traces.
    pub recognition: String,
}

impl Default for RunSection {
    fn default() -> Self {
        Self {
            out_dir: PathBuf::from("runs/train"),
            seed: 0,
            log_every: 10,
            eval_every: 0,
            eval_problems: 64,
            max_new_tokens: 512,
            checkpoint_every: 200,
            keep_last: 2,
            recognition: selfcorrect_tasks::DEFAULT_RECOGNITION.to_string(),
        }
    }
}

fn default_family() -> String {
    "llama".into()
}

fn default_size() -> String {
    "tiny".into()
}

fn default_max_seq_len() -> usize {
    1024
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedTrainConfig {
    pub file: TrainConfig,
    #[serde(skip)]
    pub family: Option<Family>,
    #[serde(skip)]
    pub preset: Option<Preset>,
    pub schedule: Schedule,
    pub adamw: AdamWConfig,
}

impl TrainConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| TrainError::ConfigFile { path: path.to_path_buf(), reason: err.to_string() })?;
        toml::from_str(&text)
            .map_err(|err| TrainError::ConfigFile { path: path.to_path_buf(), reason: err.to_string() })
    }

    /// Checks every field and resolves names into types.
    pub fn validate(&self) -> Result<ResolvedTrainConfig> {
        let invalid = |field: &str, value: String, allowed: &str| TrainError::InvalidConfig {
            field: field.to_string(),
            value,
            allowed: allowed.to_string(),
        };
        let family = Family::ALL
            .into_iter()
            .find(|family| family.model_type() == self.model.family)
            .ok_or_else(|| invalid("model.family", self.model.family.clone(), "llama, qwen2 or gemma"))?;
        let preset: Preset = self
            .model
            .size
            .parse()
            .map_err(|_| invalid("model.size", self.model.size.clone(), "tiny, small, base or large"))?;

        let o = &self.optim;
        if o.steps == 0 {
            return Err(invalid("optim.steps", o.steps.to_string(), "at least 1"));
        }
        if o.batch_size == 0 {
            return Err(invalid("optim.batch_size", o.batch_size.to_string(), "at least 1"));
        }
        if o.accumulation == 0 {
            return Err(invalid("optim.accumulation", o.accumulation.to_string(), "at least 1"));
        }
        let positive = |field: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(invalid(field, value.to_string(), "a positive number"))
            }
        };
        positive("optim.learning_rate", o.learning_rate)?;
        positive("optim.eps", o.eps)?;
        positive("optim.grad_clip", o.grad_clip)?;
        if !(o.min_learning_rate >= 0.0 && o.min_learning_rate <= o.learning_rate) {
            return Err(invalid(
                "optim.min_learning_rate",
                o.min_learning_rate.to_string(),
                "a number from 0 to learning_rate",
            ));
        }
        for (field, value) in [("optim.beta1", o.beta1), ("optim.beta2", o.beta2)] {
            if !(0.0..1.0).contains(&value) {
                return Err(invalid(field, value.to_string(), "a number in [0, 1)"));
            }
        }
        if !(o.weight_decay >= 0.0 && o.weight_decay < 1.0) {
            return Err(invalid("optim.weight_decay", o.weight_decay.to_string(), "a number in [0, 1)"));
        }
        if self.data.max_seq_len < 2 {
            return Err(invalid("data.max_seq_len", self.data.max_seq_len.to_string(), "at least 2"));
        }
        if self.run.keep_last == 0 {
            return Err(invalid("run.keep_last", "0".into(), "at least 1"));
        }
        if self.run.log_every == 0 {
            return Err(invalid("run.log_every", "0".into(), "at least 1"));
        }

        Ok(ResolvedTrainConfig {
            file: self.clone(),
            family: Some(family),
            preset: Some(preset),
            schedule: Schedule {
                peak: o.learning_rate,
                floor: o.min_learning_rate,
                warmup_steps: o.warmup_steps.min(o.steps),
                total_steps: o.steps,
            },
            adamw: o.adamw(),
        })
    }
}
