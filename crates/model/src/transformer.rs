//! Decoder-only transformer for the Llama, Qwen2 and Gemma families, in architecture order:
//! linear and embedding layers, norm, rotary embedding, attention, MLP, block, model.
//!
//! Field names follow the Hugging Face module tree, so the dotted path of every parameter is its
//! checkpoint key (`model.layers.0.self_attn.q_proj.weight`).

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, silu};
use burn::tensor::module::{attention, embedding, linear};
use burn::tensor::ops::AttentionModuleOptions;

use crate::config::{Activation, Family, ResolvedConfig};
use crate::error::{ModelError, Result};
use crate::inputs::{attention_mask_bias, check_inputs};
use crate::kv_cache::{KvCache, LayerCache};
use crate::weights::{INIT_STD, Init, RandomInit, WeightSource, load_param};

/// Linear layer in Hugging Face layout: `weight` is (out, in) and `y = x W^T + b`.
#[derive(Module, Debug)]
pub struct Linear {
    pub weight: Param<Tensor<2>>,
    pub bias: Option<Param<Tensor<1>>>,
}

impl Linear {
    fn load(
        source: &mut impl WeightSource,
        prefix: &str,
        [d_in, d_out]: [usize; 2],
        bias: bool,
        device: &Device,
    ) -> Result<Self> {
        let weight =
            load_param(source, &format!("{prefix}.weight"), [d_out, d_in], Init::Normal { std: INIT_STD }, device)?;
        let bias = if bias {
            Some(load_param(source, &format!("{prefix}.bias"), [d_out], Init::Zeros, device)?)
        } else {
            None
        };
        Ok(Self { weight, bias })
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        linear(x, self.weight.val().transpose(), self.bias.as_ref().map(Param::val))
    }
}

/// Token embedding table, (vocab, hidden).
#[derive(Module, Debug)]
pub struct Embedding {
    pub weight: Param<Tensor<2>>,
}

/// Root-mean-square norm without mean centring.
#[derive(Module, Debug)]
pub struct RmsNorm {
    pub weight: Param<Tensor<1>>,
    eps: f64,
    /// True for Gemma, which scales by `1 + weight` (weights start at 0). Llama and Qwen2 scale by
    /// `weight`.
    unit_offset: bool,
}

impl RmsNorm {
    fn load(source: &mut impl WeightSource, key: &str, config: &ResolvedConfig, device: &Device) -> Result<Self> {
        let unit_offset = config.family == Family::Gemma;
        let init = if unit_offset { Init::Zeros } else { Init::Ones };
        let weight = load_param(source, key, [config.hidden_size], init, device)?;
        Ok(Self { weight, eps: config.rms_norm_eps, unit_offset })
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        // (batch, seq, 1)
        let mean_square = x.clone().square().mean_dim(2);
        let normed = x * mean_square.add_scalar(self.eps).sqrt().recip();

        let mut scale = self.weight.val();
        if self.unit_offset {
            scale = scale.add_scalar(1.0);
        }
        normed * scale.unsqueeze::<3>()
    }
}

/// Cosines and sines of the rotary embedding for the positions of one forward pass, each
/// (batch, 1, seq, head_dim) so that they broadcast over heads.
struct RotaryTables {
    cos: Tensor<4>,
    sin: Tensor<4>,
}

impl RotaryTables {
    /// Computes the tables for `positions` (batch, seq): dimension `i` and `i + head_dim / 2`
    /// rotate together by angle `position * theta^(-2i / head_dim)`.
    fn new(positions: Tensor<2, Int>, head_dim: usize, theta: f64) -> Self {
        let [batch, seq] = positions.dims();
        let half = head_dim / 2;
        let inv_freq: Vec<f64> = (0..half).map(|i| theta.powf(-((2 * i) as f64) / head_dim as f64)).collect();
        let inv_freq = Tensor::<1>::from_data(TensorData::new(inv_freq, [half]), &positions.device());

        // (batch, seq, half)
        let angles = positions.float().reshape([batch, seq, 1]) * inv_freq.reshape([1, 1, half]);
        // (batch, 1, seq, head_dim), the half-split layout of Hugging Face checkpoints
        let angles = Tensor::cat(vec![angles.clone(), angles], 2).unsqueeze_dim::<4>(1);
        Self { cos: angles.clone().cos(), sin: angles.sin() }
    }

    /// Rotates `x` (batch, heads, seq, head_dim).
    fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let half = x.dims()[3] / 2;
        let first = x.clone().narrow(3, 0, half);
        let second = x.clone().narrow(3, half, half);
        let rotated = Tensor::cat(vec![second.neg(), first], 3);
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}

/// Causal self-attention with grouped-query heads.
#[derive(Module, Debug)]
pub struct Attention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    num_attention_heads: usize,
    num_key_value_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(source: &mut impl WeightSource, prefix: &str, config: &ResolvedConfig, device: &Device) -> Result<Self> {
        let d = config.hidden_size;
        let (q_dim, kv_dim) = (config.q_dim(), config.kv_dim());
        Ok(Self {
            q_proj: Linear::load(source, &format!("{prefix}.q_proj"), [d, q_dim], config.qkv_bias, device)?,
            k_proj: Linear::load(source, &format!("{prefix}.k_proj"), [d, kv_dim], config.qkv_bias, device)?,
            v_proj: Linear::load(source, &format!("{prefix}.v_proj"), [d, kv_dim], config.qkv_bias, device)?,
            o_proj: Linear::load(source, &format!("{prefix}.o_proj"), [q_dim, d], config.o_bias, device)?,
            num_attention_heads: config.num_attention_heads,
            num_key_value_heads: config.num_key_value_heads,
            head_dim: config.head_dim,
        })
    }

    /// Attends over `x` (batch, seq, hidden) with the additive `mask` from
    /// [`attention_mask_bias`](crate::inputs::attention_mask_bias).
    fn forward(
        &self,
        x: Tensor<3>,
        rotary: &RotaryTables,
        mask: &Tensor<4>,
        cache: Option<&mut LayerCache>,
    ) -> Tensor<3> {
        let [batch, seq, _] = x.dims();
        let (heads, kv_heads, head_dim) = (self.num_attention_heads, self.num_key_value_heads, self.head_dim);
        let group = heads / kv_heads;

        // Project and split heads: (batch, heads, seq, head_dim)
        let split = |t: Tensor<3>, n: usize| t.reshape([batch, seq, n, head_dim]).swap_dims(1, 2);
        let q = rotary.apply(split(self.q_proj.forward(x.clone()), heads));
        let mut k = rotary.apply(split(self.k_proj.forward(x.clone()), kv_heads));
        let mut v = split(self.v_proj.forward(x), kv_heads);

        // Append to the cache: (batch, kv_heads, past + seq, head_dim)
        if let Some(cache) = cache {
            if let (Some(past_k), Some(past_v)) = (cache.key.take(), cache.value.take()) {
                k = Tensor::cat(vec![past_k, k], 2);
                v = Tensor::cat(vec![past_v, v], 2);
            }
            cache.key = Some(k.clone());
            cache.value = Some(v.clone());
        }

        // Query head h uses key/value head h / group, as in Hugging Face `repeat_kv`. Folding the
        // group into the query rows shares each key/value head without copying it:
        // (batch, kv_heads, group * seq, head_dim)
        let q = q.reshape([batch, kv_heads, group * seq, head_dim]);

        // softmax(q k^T / sqrt(head_dim) + mask) v in one op. flex runs it as a fused kernel in
        // inference, and under autodiff burn decomposes it into basic ops.
        let options =
            AttentionModuleOptions { scale: Some(1.0 / (head_dim as f64).sqrt()), softcap: None, is_causal: false };
        let context = attention(q, k, v, None, Some(mask.clone()), options);

        // Merge heads: (batch, seq, heads * head_dim)
        let context =
            context.reshape([batch, heads, seq, head_dim]).swap_dims(1, 2).reshape([batch, seq, heads * head_dim]);
        self.o_proj.forward(context)
    }
}

/// Gated MLP: `down(act(gate(x)) * up(x))`, SwiGLU with SiLU and GeGLU with GELU.
#[derive(Module, Debug)]
pub struct Mlp {
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
    gelu: bool,
}

impl Mlp {
    fn load(source: &mut impl WeightSource, prefix: &str, config: &ResolvedConfig, device: &Device) -> Result<Self> {
        let (d, ff) = (config.hidden_size, config.intermediate_size);
        Ok(Self {
            gate_proj: Linear::load(source, &format!("{prefix}.gate_proj"), [d, ff], false, device)?,
            up_proj: Linear::load(source, &format!("{prefix}.up_proj"), [d, ff], false, device)?,
            down_proj: Linear::load(source, &format!("{prefix}.down_proj"), [ff, d], false, device)?,
            gelu: config.activation == Activation::GeluTanh,
        })
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = self.gate_proj.forward(x.clone());
        let gate = if self.gelu { gelu_tanh(gate) } else { silu(gate) };
        self.down_proj.forward(gate * self.up_proj.forward(x))
    }
}

/// GELU with the tanh approximation, `0.5 x (1 + tanh z)` with `z = sqrt(2 / pi) (x + 0.044715 x^3)`,
/// computed as the equal `x sigmoid(2 z)`. On the CPU backend, the scalar `tanh` and `powf` of the
/// direct form took a quarter of a Gemma training step. One sigmoid and two products cost less.
fn gelu_tanh(x: Tensor<3>) -> Tensor<3> {
    const TWO_SQRT_2_OVER_PI: f64 = 1.595_769_121_605_730_7;
    let cube = x.clone() * x.clone() * x.clone();
    let z2 = (x.clone() + cube.mul_scalar(0.044_715)).mul_scalar(TWO_SQRT_2_OVER_PI);
    x * sigmoid(z2)
}

/// One pre-norm decoder block.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    pub self_attn: Attention,
    pub mlp: Mlp,
    pub input_layernorm: RmsNorm,
    pub post_attention_layernorm: RmsNorm,
}

impl DecoderLayer {
    fn load(source: &mut impl WeightSource, prefix: &str, config: &ResolvedConfig, device: &Device) -> Result<Self> {
        Ok(Self {
            self_attn: Attention::load(source, &format!("{prefix}.self_attn"), config, device)?,
            mlp: Mlp::load(source, &format!("{prefix}.mlp"), config, device)?,
            input_layernorm: RmsNorm::load(source, &format!("{prefix}.input_layernorm.weight"), config, device)?,
            post_attention_layernorm: RmsNorm::load(
                source,
                &format!("{prefix}.post_attention_layernorm.weight"),
                config,
                device,
            )?,
        })
    }

    fn forward(
        &self,
        x: Tensor<3>,
        rotary: &RotaryTables,
        mask: &Tensor<4>,
        cache: Option<&mut LayerCache>,
    ) -> Tensor<3> {
        let x = x.clone() + self.self_attn.forward(self.input_layernorm.forward(x), rotary, mask, cache);
        x.clone() + self.mlp.forward(self.post_attention_layernorm.forward(x))
    }
}

/// Embeddings, decoder layers and final norm (Hugging Face `model`).
#[derive(Module, Debug)]
pub struct Decoder {
    pub embed_tokens: Embedding,
    pub layers: Vec<DecoderLayer>,
    pub norm: RmsNorm,
}

/// A causal language model: [`Decoder`] plus the output projection (`lm_head`), which is absent
/// when the embeddings are tied.
#[derive(Module, Debug)]
pub struct Transformer {
    pub model: Decoder,
    pub lm_head: Option<Linear>,
    #[module(skip)]
    config: ResolvedConfig,
}

impl Transformer {
    /// Creates a model with fresh weights that depend only on `seed`: weight matrices normal with
    /// standard deviation [`INIT_STD`], biases 0, norm scales 1 (Gemma: 0, meaning scale 1).
    pub fn init(config: &ResolvedConfig, seed: u64, device: &Device) -> Self {
        match Self::from_weights(config, &mut RandomInit::new(seed), device) {
            Ok(model) => model,
            // `RandomInit` returns a tensor of the requested shape for every key.
            Err(error) => unreachable!("random initialisation failed: {error}"),
        }
    }

    /// Builds a model whose tensors come from `source`, asked for by Hugging Face key.
    pub fn from_weights(config: &ResolvedConfig, source: &mut impl WeightSource, device: &Device) -> Result<Self> {
        let embed_tokens = Embedding {
            weight: load_param(
                source,
                "model.embed_tokens.weight",
                [config.vocab_size, config.hidden_size],
                Init::Normal { std: INIT_STD },
                device,
            )?,
        };
        let layers = (0..config.num_hidden_layers)
            .map(|i| DecoderLayer::load(source, &format!("model.layers.{i}"), config, device))
            .collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::load(source, "model.norm.weight", config, device)?;
        let lm_head = if config.tie_word_embeddings {
            None
        } else {
            Some(Linear::load(source, "lm_head", [config.hidden_size, config.vocab_size], false, device)?)
        };

        Ok(Self { model: Decoder { embed_tokens, layers, norm }, lm_head, config: config.clone() })
    }

    /// Returns the resolved configuration the model was built from.
    pub fn config(&self) -> &ResolvedConfig {
        &self.config
    }

    /// Computes next-token logits (batch, seq, vocab) for `input_ids` (batch, seq).
    ///
    /// `attention_mask` (batch, seq) is 1 for real tokens and 0 for padding, on either side.
    /// Padding keys are hidden from every query, and positions count real tokens only, so a
    /// padded row gives the same logits at its real tokens as the row alone. Logits at padding
    /// positions are finite but meaningless.
    pub fn forward(&self, input_ids: Tensor<2, Int>, attention_mask: Option<Tensor<2, Int>>) -> Result<Tensor<3>> {
        self.run(input_ids, attention_mask, None, 0)
    }

    /// Computes logits for `input_ids` (batch, new) that follow the first `seqlen_offset`
    /// positions of `kv_cache`, and appends the new keys and values to the cache.
    ///
    /// Positions of the cache beyond `seqlen_offset` are dropped first, so a shared prefix can be
    /// decoded once and continued several times. `attention_mask` covers the new tokens only (1
    /// for real, 0 for padding), and `None` means all real. Decoding token by token gives the same
    /// logits as one [`forward`](Self::forward) over the whole sequence, up to rounding.
    pub fn forward_with_cache(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
        kv_cache: &mut KvCache,
        seqlen_offset: usize,
    ) -> Result<Tensor<3>> {
        if kv_cache.layers.len() != self.config.num_hidden_layers {
            return Err(ModelError::InvalidInput {
                name: "kv_cache",
                reason: format!(
                    "built for {} layers, the model has {}",
                    kv_cache.layers.len(),
                    self.config.num_hidden_layers
                ),
            });
        }
        if seqlen_offset > kv_cache.seq_len() {
            return Err(ModelError::InvalidInput {
                name: "seqlen_offset",
                reason: format!("{seqlen_offset} is beyond the {} cached positions", kv_cache.seq_len()),
            });
        }
        self.run(input_ids, attention_mask, Some(kv_cache), seqlen_offset)
    }

    fn run(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
        mut kv_cache: Option<&mut KvCache>,
        offset: usize,
    ) -> Result<Tensor<3>> {
        let device = input_ids.device();
        let [batch, seq] = input_ids.dims();
        check_inputs(&self.config, &input_ids, attention_mask.as_ref(), kv_cache.as_deref(), offset)?;
        if let Some(cache) = kv_cache.as_mut() {
            cache.truncate(offset)?;
        }

        // Padding mask of every key, cached and new: (batch, offset + seq)
        let new_mask = attention_mask.unwrap_or_else(|| Tensor::ones([batch, seq], &device));
        let key_mask = match kv_cache.as_ref().and_then(|cache| cache.key_mask.clone()) {
            Some(past) => Tensor::cat(vec![past, new_mask], 1),
            None => new_mask,
        };
        if let Some(cache) = kv_cache.as_mut() {
            cache.key_mask = Some(key_mask.clone());
        }

        // Position of a token = number of real tokens before it: (batch, seq)
        let positions = key_mask.clone().cumsum(1).narrow(1, offset, seq).sub_scalar(1).clamp_min(0);
        let rotary = RotaryTables::new(positions, self.config.head_dim, self.config.rope_theta);
        let group = self.config.num_attention_heads / self.config.num_key_value_heads;
        let mask = attention_mask_bias(key_mask, offset, seq, group);

        // Embed: (batch, seq, hidden)
        let mut x = embedding(self.model.embed_tokens.weight.val(), input_ids);
        if self.config.family == Family::Gemma {
            x = x.mul_scalar((self.config.hidden_size as f64).sqrt());
        }

        for (i, layer) in self.model.layers.iter().enumerate() {
            let layer_cache = kv_cache.as_mut().map(|cache| &mut cache.layers[i]);
            x = layer.forward(x, &rotary, &mask, layer_cache);
        }

        // Project to the vocabulary: (batch, seq, vocab)
        let x = self.model.norm.forward(x);
        let output_weight = match &self.lm_head {
            Some(lm_head) => lm_head.weight.val(),
            None => self.model.embed_tokens.weight.val(),
        };
        Ok(linear(x, output_weight.transpose(), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sigmoid form matches `0.5 x (1 + tanh z)` evaluated in float64, over the range where
    /// the curve bends and far out in both tails.
    #[test]
    fn gelu_tanh_matches_the_tanh_form() {
        let xs: Vec<f32> = (-400..=400).map(|i| i as f32 * 0.025).chain([-30.0, -12.0, 12.0, 30.0]).collect();
        let n = xs.len();
        let device = Device::flex();
        let got: Vec<f32> =
            gelu_tanh(Tensor::<1>::from_data(TensorData::new(xs.clone(), [n]), &device).reshape([1, 1, n]))
                .into_data()
                .try_to_vec()
                .unwrap();
        for (x, got) in xs.iter().zip(got) {
            let x = f64::from(*x);
            let want = 0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh());
            assert!(
                (f64::from(got) - want).abs() <= 1e-6 + 1e-6 * want.abs(),
                "gelu_tanh({x}) = {got}, expected {want}"
            );
        }
    }
}
