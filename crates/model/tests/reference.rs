//! The model's forward pass against a direct, loop-by-loop transcription of the Hugging Face
//! reference implementations (`modeling_llama.py`, `modeling_qwen2.py`, `modeling_gemma.py`),
//! in float64.
//!
//! KV-cache and padding tests compare the model with itself. This test pins the conventions a
//! checkpoint depends on: the half-split rotary layout, the key/value head sharing of
//! grouped-query attention, Gemma's `1 + weight` norm and embedding scale, and the (out, in)
//! layout of projection weights.

mod common;

use std::collections::HashMap;

use common::{TestWeights, f64_device, int_tensor, tiny_config, to_vec3};
use selfcorrect_model::config::{Activation, Family, ResolvedConfig};
use selfcorrect_model::{Transformer, named_weights};

type Weights = HashMap<String, Vec<f64>>;

/// `x W^T + b` for a weight stored (out, in).
fn project(x: &[f64], weights: &Weights, prefix: &str, out: usize) -> Vec<f64> {
    let w = &weights[&format!("{prefix}.weight")];
    let d_in = x.len();
    let bias = weights.get(&format!("{prefix}.bias"));
    (0..out)
        .map(|o| {
            let dot: f64 = (0..d_in).map(|i| w[o * d_in + i] * x[i]).sum();
            dot + bias.map_or(0.0, |b| b[o])
        })
        .collect()
}

fn rms_norm(x: &[f64], weight: &[f64], config: &ResolvedConfig) -> Vec<f64> {
    let mean_square = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let inv = 1.0 / (mean_square + config.rms_norm_eps).sqrt();
    let offset = if config.family == Family::Gemma { 1.0 } else { 0.0 };
    x.iter().zip(weight).map(|(v, w)| v * inv * (offset + w)).collect()
}

/// Applies `x * cos + rotate_half(x) * sin` to one head vector at `position`.
fn rotate(x: &[f64], position: usize, theta: f64) -> Vec<f64> {
    let dim = x.len();
    let half = dim / 2;
    (0..dim)
        .map(|j| {
            let inv_freq = 1.0 / theta.powf((2 * (j % half)) as f64 / dim as f64);
            let angle = position as f64 * inv_freq;
            let rotated = if j < half { -x[j + half] } else { x[j - half] };
            x[j] * angle.cos() + rotated * angle.sin()
        })
        .collect()
}

fn activation(x: f64, kind: Activation) -> f64 {
    match kind {
        Activation::Silu => x / (1.0 + (-x).exp()),
        Activation::GeluTanh => {
            0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
        }
    }
}

/// Logits (seq, vocab) of one unpadded sequence.
fn reference_logits(ids: &[usize], weights: &Weights, config: &ResolvedConfig) -> Vec<Vec<f64>> {
    let d = config.hidden_size;
    let hd = config.head_dim;
    let (heads, kv_heads) = (config.num_attention_heads, config.num_key_value_heads);
    let embed = &weights["model.embed_tokens.weight"];
    let scale = if config.family == Family::Gemma { (d as f64).sqrt() } else { 1.0 };
    let mut hidden: Vec<Vec<f64>> =
        ids.iter().map(|&id| embed[id * d..(id + 1) * d].iter().map(|v| v * scale).collect()).collect();

    for layer in 0..config.num_hidden_layers {
        let p = format!("model.layers.{layer}");
        let normed: Vec<Vec<f64>> =
            hidden.iter().map(|x| rms_norm(x, &weights[&format!("{p}.input_layernorm.weight")], config)).collect();
        let q: Vec<Vec<f64>> =
            normed.iter().map(|x| project(x, weights, &format!("{p}.self_attn.q_proj"), heads * hd)).collect();
        let k: Vec<Vec<f64>> =
            normed.iter().map(|x| project(x, weights, &format!("{p}.self_attn.k_proj"), kv_heads * hd)).collect();
        let v: Vec<Vec<f64>> =
            normed.iter().map(|x| project(x, weights, &format!("{p}.self_attn.v_proj"), kv_heads * hd)).collect();

        let mut context = vec![vec![0.0; heads * hd]; ids.len()];
        for h in 0..heads {
            let kv = h / (heads / kv_heads);
            for t in 0..ids.len() {
                let qh = rotate(&q[t][h * hd..(h + 1) * hd], t, config.rope_theta);
                let scores: Vec<f64> = (0..=t)
                    .map(|s| {
                        let kh = rotate(&k[s][kv * hd..(kv + 1) * hd], s, config.rope_theta);
                        qh.iter().zip(&kh).map(|(a, b)| a * b).sum::<f64>() / (hd as f64).sqrt()
                    })
                    .collect();
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = exps.iter().sum();
                for (s, e) in exps.iter().enumerate() {
                    for j in 0..hd {
                        context[t][h * hd + j] += e / total * v[s][kv * hd + j];
                    }
                }
            }
        }

        for t in 0..ids.len() {
            let attn = project(&context[t], weights, &format!("{p}.self_attn.o_proj"), d);
            for j in 0..d {
                hidden[t][j] += attn[j];
            }
            let normed = rms_norm(&hidden[t], &weights[&format!("{p}.post_attention_layernorm.weight")], config);
            let gate = project(&normed, weights, &format!("{p}.mlp.gate_proj"), config.intermediate_size);
            let up = project(&normed, weights, &format!("{p}.mlp.up_proj"), config.intermediate_size);
            let inner: Vec<f64> = gate.iter().zip(&up).map(|(g, u)| activation(*g, config.activation) * u).collect();
            let mlp = project(&inner, weights, &format!("{p}.mlp.down_proj"), d);
            for j in 0..d {
                hidden[t][j] += mlp[j];
            }
        }
    }

    let head = if config.tie_word_embeddings { "model.embed_tokens" } else { "lm_head" };
    hidden
        .iter()
        .map(|x| {
            let normed = rms_norm(x, &weights["model.norm.weight"], config);
            project(&normed, weights, head, config.vocab_size)
        })
        .collect()
}

#[test]
fn forward_matches_reference_implementation() {
    let device = f64_device();
    let ids = [3usize, 17, 1, 29, 4, 4, 11];
    for family in Family::ALL {
        let config = tiny_config(family);
        let model = Transformer::from_weights(&config, &mut TestWeights::new(family, 41), &device).expect("model");
        let weights: Weights = named_weights(&model)
            .into_iter()
            .map(|(key, data)| (key, data.convert::<f64>().try_to_vec::<f64>().expect("float data")))
            .collect();

        let expected = reference_logits(&ids, &weights, &config);
        let row: Vec<i64> = ids.iter().map(|&id| id as i64).collect();
        let actual = &to_vec3(model.forward(int_tensor(&[row], &device), None).expect("forward"))[0];

        for (t, (expected, actual)) in expected.iter().zip(actual).enumerate() {
            for (id, (e, a)) in expected.iter().zip(actual).enumerate() {
                assert!((e - a).abs() < 1e-9, "{family:?} position {t} token {id}: reference {e}, model {a}");
            }
        }
    }
}
