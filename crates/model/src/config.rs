//! Model configuration in two stages: [`ModelConfig`] mirrors a Hugging Face `config.json`, and
//! [`ModelConfig::validate`] resolves it into the [`ResolvedConfig`] that the model is built from.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// Largest accepted width, head count, vocabulary or sequence length: large enough for any model
/// this crate trains, small enough that parameter counts cannot overflow `u64`.
pub const MAX_DIMENSION: usize = 1 << 20;

/// Largest accepted number of decoder layers.
pub const MAX_LAYERS: usize = 1024;

/// Architecture family, named by the Hugging Face `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// RMSNorm, SwiGLU, no biases, optionally tied embeddings.
    Llama,
    /// Llama with biases on the query, key and value projections.
    Qwen2,
    /// RMSNorm scaled by `1 + weight`, GeGLU with tanh-approximated GELU, embeddings scaled by
    /// `sqrt(hidden_size)`, tied embeddings.
    Gemma,
}

impl Family {
    /// All families, in the order tests and presets iterate them.
    pub const ALL: [Family; 3] = [Family::Llama, Family::Qwen2, Family::Gemma];

    /// Returns the Hugging Face `model_type` string.
    pub fn model_type(self) -> &'static str {
        match self {
            Family::Llama => "llama",
            Family::Qwen2 => "qwen2",
            Family::Gemma => "gemma",
        }
    }

    /// Returns the Hugging Face class name written to `architectures`.
    pub fn architecture(self) -> &'static str {
        match self {
            Family::Llama => "LlamaForCausalLM",
            Family::Qwen2 => "Qwen2ForCausalLM",
            Family::Gemma => "GemmaForCausalLM",
        }
    }

    fn from_model_type(model_type: &str) -> Result<Self> {
        Family::ALL.into_iter().find(|family| family.model_type() == model_type).ok_or_else(|| {
            ModelError::InvalidConfig {
                field: "model_type",
                value: format!("{model_type:?}"),
                allowed: "one of \"llama\", \"qwen2\", \"gemma\"".to_string(),
            }
        })
    }

    fn default_tie_word_embeddings(self) -> bool {
        // The defaults of the Hugging Face config classes: LlamaConfig and Qwen2Config untie,
        // GemmaConfig ties.
        matches!(self, Family::Gemma)
    }
}

/// Activation of the gated MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `x * sigmoid(x)` (Hugging Face `silu`), giving SwiGLU.
    Silu,
    /// GELU with the tanh approximation (Hugging Face `gelu_pytorch_tanh`), giving GeGLU.
    GeluTanh,
}

impl Activation {
    fn hf_name(self) -> &'static str {
        match self {
            Activation::Silu => "silu",
            Activation::GeluTanh => "gelu_pytorch_tanh",
        }
    }
}

/// A Hugging Face `config.json`, field for field.
///
/// NOTE: unknown fields are ignored rather than rejected, because real `config.json` files carry
/// many fields this crate does not use (token ids, dtypes, generation settings). Fields that would
/// change the computation (`rope_scaling`, `use_sliding_window`, `mlp_bias`) are read so that
/// `validate` can reject them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Defaults to `num_attention_heads` (no grouped-query attention), as in Hugging Face.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_key_value_heads: Option<usize>,
    /// Defaults to `hidden_size / num_attention_heads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
    pub max_position_embeddings: usize,
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// Defaults per family: false for Llama and Qwen2, true for Gemma.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie_word_embeddings: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_act: Option<String>,
    /// Gemma's name for the activation, which takes precedence over `hidden_act` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_activation: Option<String>,
    /// Bias on the query, key, value and output projections (Llama and Gemma). Qwen2 always has
    /// query, key and value biases and no output bias, whatever this field is set to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_bias: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlp_bias: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_sliding_window: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_scaling: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torch_dtype: Option<String>,
}

fn default_rms_norm_eps() -> f64 {
    1e-6
}

fn default_rope_theta() -> f64 {
    10_000.0
}

/// A validated configuration with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedConfig {
    pub family: Family,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub max_position_embeddings: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub tie_word_embeddings: bool,
    pub activation: Activation,
    /// Bias on the query, key and value projections.
    pub qkv_bias: bool,
    /// Bias on the output projection.
    pub o_bias: bool,
}

fn invalid(field: &'static str, value: impl ToString, allowed: impl ToString) -> ModelError {
    ModelError::InvalidConfig { field, value: value.to_string(), allowed: allowed.to_string() }
}

fn check_dimension(field: &'static str, value: usize) -> Result<usize> {
    if (1..=MAX_DIMENSION).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(field, value, format!("1 to {MAX_DIMENSION}")))
    }
}

impl ModelConfig {
    /// Parses a `config.json` document.
    pub fn from_json(json: &str) -> serde_json::Result<Self> {
        serde_json::from_str(json)
    }

    /// Checks every field and resolves the family defaults.
    ///
    /// Errors name the field, its value and the allowed range.
    pub fn validate(&self) -> Result<ResolvedConfig> {
        let family = Family::from_model_type(&self.model_type)?;

        let vocab_size = check_dimension("vocab_size", self.vocab_size)?;
        let hidden_size = check_dimension("hidden_size", self.hidden_size)?;
        let intermediate_size = check_dimension("intermediate_size", self.intermediate_size)?;
        let max_position_embeddings = check_dimension("max_position_embeddings", self.max_position_embeddings)?;
        if !(1..=MAX_LAYERS).contains(&self.num_hidden_layers) {
            return Err(invalid("num_hidden_layers", self.num_hidden_layers, format!("1 to {MAX_LAYERS}")));
        }

        // Attention heads: every query head group shares one key/value head.
        let num_attention_heads = check_dimension("num_attention_heads", self.num_attention_heads)?;
        let num_key_value_heads = self.num_key_value_heads.unwrap_or(num_attention_heads);
        if num_key_value_heads == 0
            || num_key_value_heads > num_attention_heads
            || num_attention_heads % num_key_value_heads != 0
        {
            return Err(invalid(
                "num_key_value_heads",
                num_key_value_heads,
                format!("a divisor of num_attention_heads ({num_attention_heads})"),
            ));
        }

        // The half-split rotary embedding rotates pairs (i, i + head_dim / 2), so head_dim is even.
        let head_dim = match self.head_dim {
            Some(head_dim) => head_dim,
            None if hidden_size % num_attention_heads == 0 => hidden_size / num_attention_heads,
            None => {
                return Err(invalid(
                    "hidden_size",
                    hidden_size,
                    format!("a multiple of num_attention_heads ({num_attention_heads}) when head_dim is absent"),
                ));
            }
        };
        if head_dim < 2 || head_dim % 2 != 0 || head_dim > MAX_DIMENSION {
            return Err(invalid("head_dim", head_dim, format!("an even number from 2 to {MAX_DIMENSION}")));
        }

        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps > 0.0 && self.rms_norm_eps < 1.0) {
            return Err(invalid("rms_norm_eps", self.rms_norm_eps, "a number in (0, 1)"));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            return Err(invalid("rope_theta", self.rope_theta, "a finite number above 1"));
        }

        // Options that change the computation in ways this crate does not implement.
        if let Some(rope_scaling) = &self.rope_scaling
            && !rope_scaling.is_null()
        {
            return Err(invalid("rope_scaling", rope_scaling, "null (RoPE scaling is not implemented)"));
        }
        if self.use_sliding_window == Some(true) {
            return Err(invalid("use_sliding_window", true, "false (sliding-window attention is not implemented)"));
        }
        if self.mlp_bias == Some(true) {
            return Err(invalid("mlp_bias", true, "false (MLP biases are not implemented)"));
        }

        let activation = self.resolve_activation(family)?;
        let attention_bias = self.attention_bias.unwrap_or(false);
        let (qkv_bias, o_bias) = match family {
            Family::Qwen2 => (true, false),
            Family::Llama | Family::Gemma => (attention_bias, attention_bias),
        };

        Ok(ResolvedConfig {
            family,
            vocab_size,
            hidden_size,
            intermediate_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            max_position_embeddings,
            rms_norm_eps: self.rms_norm_eps,
            rope_theta: self.rope_theta,
            tie_word_embeddings: self.tie_word_embeddings.unwrap_or(family.default_tie_word_embeddings()),
            activation,
            qkv_bias,
            o_bias,
        })
    }

    fn resolve_activation(&self, family: Family) -> Result<Activation> {
        let (field, name) = match (&self.hidden_activation, &self.hidden_act) {
            (Some(name), _) => ("hidden_activation", name.as_str()),
            (None, Some(name)) => ("hidden_act", name.as_str()),
            (None, None) => return Ok(default_activation(family)),
        };
        match (family, name) {
            (_, "silu") => Ok(Activation::Silu),
            (_, "gelu_pytorch_tanh") => Ok(Activation::GeluTanh),
            // Hugging Face runs Gemma with the tanh approximation even where an older config
            // names exact "gelu".
            (Family::Gemma, "gelu") => Ok(Activation::GeluTanh),
            _ => Err(invalid(field, format!("{name:?}"), "\"silu\" or \"gelu_pytorch_tanh\" (or \"gelu\" for gemma)")),
        }
    }
}

fn default_activation(family: Family) -> Activation {
    match family {
        Family::Llama | Family::Qwen2 => Activation::Silu,
        Family::Gemma => Activation::GeluTanh,
    }
}

impl ResolvedConfig {
    /// Converts back to the file format, with every field written explicitly.
    pub fn to_model_config(&self) -> ModelConfig {
        ModelConfig {
            model_type: self.family.model_type().to_string(),
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            num_key_value_heads: Some(self.num_key_value_heads),
            head_dim: Some(self.head_dim),
            max_position_embeddings: self.max_position_embeddings,
            rms_norm_eps: self.rms_norm_eps,
            rope_theta: self.rope_theta,
            tie_word_embeddings: Some(self.tie_word_embeddings),
            hidden_act: Some(self.activation.hf_name().to_string()),
            hidden_activation: None,
            // Qwen2 biases are implied by the family, so the field is written only for the others.
            attention_bias: match self.family {
                Family::Qwen2 => None,
                Family::Llama | Family::Gemma => Some(self.qkv_bias),
            },
            mlp_bias: None,
            use_sliding_window: None,
            rope_scaling: None,
            architectures: Some(vec![self.family.architecture().to_string()]),
            torch_dtype: Some("float32".to_string()),
        }
    }

    /// Width of the concatenated query heads.
    pub fn q_dim(&self) -> usize {
        self.num_attention_heads * self.head_dim
    }

    /// Width of the concatenated key (or value) heads.
    pub fn kv_dim(&self) -> usize {
        self.num_key_value_heads * self.head_dim
    }

    /// Returns the number of trainable parameters, counting tied embeddings once.
    pub fn num_parameters(&self) -> u64 {
        let d = self.hidden_size as u64;
        let q = self.q_dim() as u64;
        let kv = self.kv_dim() as u64;
        let ff = self.intermediate_size as u64;
        let vocab = self.vocab_size as u64;

        let mut attention = d * q + 2 * d * kv + q * d;
        if self.qkv_bias {
            attention += q + 2 * kv;
        }
        if self.o_bias {
            attention += d;
        }
        let mlp = 3 * d * ff;
        let norms = 2 * d;
        let layer = attention + mlp + norms;

        let embeddings = vocab * d;
        let lm_head = if self.tie_word_embeddings { 0 } else { vocab * d };
        embeddings + self.num_hidden_layers as u64 * layer + d + lm_head
    }
}
