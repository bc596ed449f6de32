//! Named model sizes from about 0.5M to 30M parameters, for every family.

use std::fmt;
use std::str::FromStr;

use crate::config::{Family, ModelConfig, ResolvedConfig};
use crate::error::{ModelError, Result};

/// A named size. Parameter counts below exclude the embedding and output matrices, which add
/// `vocab_size * hidden_size` each (once when tied):
///
/// | preset  | hidden | layers | heads | kv heads | intermediate | non-embedding parameters |
/// |---------|--------|--------|-------|----------|--------------|--------------------------|
/// | `tiny`  | 64     | 8      | 4     | 2        | 256          | about 0.49M              |
/// | `small` | 128    | 8      | 4     | 2        | 512          | about 1.97M              |
/// | `base`  | 256    | 8      | 8     | 4        | 1024         | about 7.9M               |
/// | `large` | 512    | 8      | 8     | 4        | 1792         | about 28M                |
///
/// Qwen2 adds a few thousand bias parameters. Every preset uses grouped-query attention with two
/// query heads per key/value head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    Tiny,
    Small,
    Base,
    Large,
}

/// Context length of every preset. Rotary embeddings are computed per position, so a longer
/// limit costs no memory.
pub const PRESET_MAX_POSITION_EMBEDDINGS: usize = 2048;

impl Preset {
    /// All presets, smallest first.
    pub const ALL: [Preset; 4] = [Preset::Tiny, Preset::Small, Preset::Base, Preset::Large];

    /// Returns the preset's name as accepted by [`Preset::from_str`].
    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Small => "small",
            Preset::Base => "base",
            Preset::Large => "large",
        }
    }

    /// Builds the Hugging Face config of this size for one family and vocabulary.
    pub fn model_config(self, family: Family, vocab_size: usize) -> ModelConfig {
        let (hidden_size, num_attention_heads, intermediate_size) = match self {
            Preset::Tiny => (64, 4, 256),
            Preset::Small => (128, 4, 512),
            Preset::Base => (256, 8, 1024),
            Preset::Large => (512, 8, 1792),
        };
        ModelConfig {
            model_type: family.model_type().to_string(),
            vocab_size,
            hidden_size,
            intermediate_size,
            num_hidden_layers: 8,
            num_attention_heads,
            num_key_value_heads: Some(num_attention_heads / 2),
            head_dim: None,
            max_position_embeddings: PRESET_MAX_POSITION_EMBEDDINGS,
            rms_norm_eps: 1e-6,
            rope_theta: 10_000.0,
            tie_word_embeddings: None,
            hidden_act: None,
            hidden_activation: None,
            attention_bias: None,
            mlp_bias: None,
            use_sliding_window: None,
            rope_scaling: None,
            architectures: None,
            torch_dtype: None,
        }
    }

    /// Builds and validates the config of this size for one family and vocabulary.
    ///
    /// Fails only when `vocab_size` is out of range.
    pub fn resolve(self, family: Family, vocab_size: usize) -> Result<ResolvedConfig> {
        self.model_config(family, vocab_size).validate()
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = ModelError;

    fn from_str(name: &str) -> Result<Self> {
        Preset::ALL.into_iter().find(|preset| preset.name() == name).ok_or_else(|| ModelError::InvalidConfig {
            field: "preset",
            value: format!("{name:?}"),
            allowed: "one of \"tiny\", \"small\", \"base\", \"large\"".to_string(),
        })
    }
}
