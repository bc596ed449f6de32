//! Batched generation with a KV cache: greedy, temperature and nucleus (top-p) sampling.

use burn::prelude::*;

use crate::error::{ModelError, Result};
use crate::kv_cache::KvCache;
use crate::rng::SplitMix64;
use crate::transformer::Transformer;

/// Token id fed at padding positions. Its embedding is computed but hidden by the attention mask,
/// so any valid id works.
const PAD_ID: u32 = 0;

/// How to pick tokens and when to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingConfig {
    /// Maximum number of tokens generated per sequence, EOS included.
    pub max_new_tokens: usize,
    /// Softmax temperature. At 0 the most likely token is picked (greedy decoding).
    pub temperature: f64,
    /// Nucleus threshold: sampling keeps the smallest set of most likely tokens whose probability
    /// reaches `top_p`, so 1 keeps all.
    pub top_p: f64,
    /// Generation of a sequence stops after it emits this id.
    pub eos_token_id: Option<u32>,
    /// Seed of the sampling. The same seed, prompts and model give the same tokens.
    pub seed: u64,
}

impl SamplingConfig {
    /// Greedy decoding of at most `max_new_tokens` tokens.
    pub fn greedy(max_new_tokens: usize, eos_token_id: Option<u32>) -> Self {
        Self { max_new_tokens, temperature: 0.0, top_p: 1.0, eos_token_id, seed: 0 }
    }

    fn validate(&self, vocab_size: usize) -> Result<()> {
        let invalid = |field, value: String, allowed: &str| {
            Err(ModelError::InvalidConfig { field, value, allowed: allowed.to_string() })
        };
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return invalid("temperature", self.temperature.to_string(), "a finite number >= 0");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return invalid("top_p", self.top_p.to_string(), "a number in (0, 1]");
        }
        if let Some(eos) = self.eos_token_id
            && eos as usize >= vocab_size
        {
            return invalid("eos_token_id", eos.to_string(), &format!("an id below vocab_size ({vocab_size})"));
        }
        Ok(())
    }
}

/// Reason a sequence stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// It emitted the EOS id (the last token of `tokens`).
    Eos,
    /// It reached `max_new_tokens`.
    MaxNewTokens,
}

/// The continuation of one prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// New tokens, without the prompt, including the EOS token if one was emitted.
    pub tokens: Vec<u32>,
    /// Natural-log probability of each token in `tokens` under the model's softmax, before
    /// temperature and top-p.
    pub log_probs: Vec<f64>,
    pub finish_reason: FinishReason,
}

impl Generation {
    fn empty() -> Self {
        Self { tokens: Vec::new(), log_probs: Vec::new(), finish_reason: FinishReason::MaxNewTokens }
    }
}

/// Continues every prompt, decoding the whole batch together with one KV cache.
///
/// Prompts may differ in length: shorter ones are left-padded and the padding is masked, so each
/// continuation equals that of its prompt decoded alone (up to rounding). Every prompt needs at
/// least one token, and the longest prompt plus `max_new_tokens - 1` (the last token is never fed
/// back) must fit in `max_position_embeddings`.
pub fn generate(
    model: &Transformer,
    prompts: &[Vec<u32>],
    config: &SamplingConfig,
    device: &Device,
) -> Result<Vec<Generation>> {
    let model_config = model.config();
    config.validate(model_config.vocab_size)?;
    if prompts.is_empty() || config.max_new_tokens == 0 {
        return Ok(prompts.iter().map(|_| Generation::empty()).collect());
    }
    let batch = prompts.len();
    let prompt_len = prompts.iter().map(Vec::len).max().unwrap_or(0);
    if let Some(row) = prompts.iter().position(Vec::is_empty) {
        return Err(ModelError::InvalidInput {
            name: "prompts",
            reason: format!("prompt {row} is empty, but every prompt needs at least one token"),
        });
    }
    if prompt_len.saturating_add(config.max_new_tokens - 1) > model_config.max_position_embeddings {
        return Err(ModelError::InvalidInput {
            name: "max_new_tokens",
            reason: format!(
                "longest prompt ({prompt_len}) plus {} new tokens exceeds max_position_embeddings ({})",
                config.max_new_tokens, model_config.max_position_embeddings
            ),
        });
    }

    // Prefill the left-padded prompts.
    let (ids, mask) = left_pad(prompts, prompt_len, device);
    let mut kv_cache = KvCache::new(model_config.num_hidden_layers);
    let logits = model.forward_with_cache(ids, Some(mask), &mut kv_cache, 0)?;

    let mut rngs: Vec<SplitMix64> = (0..batch).map(|row| SplitMix64::new(row_seed(config.seed, row))).collect();
    let mut outputs: Vec<Generation> = (0..batch).map(|_| Generation::empty()).collect();
    let mut finished = vec![false; batch];
    let mut last_logits = last_position(logits)?;

    for step in 0..config.max_new_tokens {
        // Pick one token per unfinished row.
        let mut next = vec![PAD_ID as i64; batch];
        for row in 0..batch {
            if finished[row] {
                continue;
            }
            let token = pick_token(&last_logits[row], config, &mut rngs[row]);
            let output = &mut outputs[row];
            output.tokens.push(token);
            output.log_probs.push(log_prob(&last_logits[row], token));
            next[row] = token as i64;

            if Some(token) == config.eos_token_id {
                output.finish_reason = FinishReason::Eos;
                finished[row] = true;
            } else if output.tokens.len() == config.max_new_tokens {
                finished[row] = true;
            }
        }
        if finished.iter().all(|&done| done) {
            break;
        }

        // Decode one position for the whole batch, with finished rows feeding padding.
        let next_mask: Vec<i64> = finished.iter().map(|&done| i64::from(!done)).collect();
        let next = Tensor::<2, Int>::from_data(TensorData::new(next, [batch, 1]), device);
        let next_mask = Tensor::<2, Int>::from_data(TensorData::new(next_mask, [batch, 1]), device);
        let offset = prompt_len + step;
        let logits = model.forward_with_cache(next, Some(next_mask), &mut kv_cache, offset)?;
        last_logits = last_position(logits)?;
    }

    Ok(outputs)
}

/// Left-pads `prompts` to `prompt_len` and returns the token ids and attention mask, both
/// (batch, prompt_len).
fn left_pad(prompts: &[Vec<u32>], prompt_len: usize, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>) {
    let batch = prompts.len();
    let mut ids = Vec::with_capacity(batch * prompt_len);
    let mut mask = Vec::with_capacity(batch * prompt_len);
    for prompt in prompts {
        let padding = prompt_len - prompt.len();
        ids.extend(std::iter::repeat_n(PAD_ID as i64, padding));
        ids.extend(prompt.iter().map(|&id| id as i64));
        mask.extend(std::iter::repeat_n(0i64, padding));
        mask.extend(std::iter::repeat_n(1i64, prompt.len()));
    }
    let ids = Tensor::from_data(TensorData::new(ids, [batch, prompt_len]), device);
    let mask = Tensor::from_data(TensorData::new(mask, [batch, prompt_len]), device);
    (ids, mask)
}

/// Reads the logits of the last position of every row to the host: `batch` rows of `vocab`.
fn last_position(logits: Tensor<3>) -> Result<Vec<Vec<f32>>> {
    let [_, seq, vocab] = logits.dims();
    let values = logits
        .narrow(1, seq - 1, 1)
        .try_into_vec_as::<f32>()
        .map_err(|error| ModelError::Backend { reason: format!("reading logits failed: {error:?}") })?;
    Ok(values.chunks(vocab).map(<[f32]>::to_vec).collect())
}

/// Derives the seed of one row by hashing the run's seed with the row index.
fn row_seed(seed: u64, row: usize) -> u64 {
    let base = SplitMix64::new(seed).next_u64();
    SplitMix64::new(base ^ row as u64).next_u64()
}

/// Picks the next token from one row of logits.
pub(crate) fn pick_token(logits: &[f32], config: &SamplingConfig, rng: &mut SplitMix64) -> u32 {
    if config.temperature == 0.0 {
        return argmax(logits);
    }

    // Softmax at the temperature, in f64: (vocab)
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let mut probs: Vec<(u32, f64)> = logits
        .iter()
        .enumerate()
        .map(|(id, &logit)| (id as u32, ((logit as f64 - max) / config.temperature).exp()))
        .collect();
    let total: f64 = probs.iter().map(|&(_, p)| p).sum();

    // Nucleus: the most likely tokens until their mass reaches top_p (at least one token).
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut nucleus_len = 0;
    let mut mass = 0.0;
    for &(_, p) in &probs {
        nucleus_len += 1;
        mass += p;
        if mass >= config.top_p * total {
            break;
        }
    }
    probs.truncate(nucleus_len);

    // Inverse-CDF draw over the nucleus.
    let target = rng.next_f64() * mass;
    let mut cumulative = 0.0;
    for &(id, p) in &probs {
        cumulative += p;
        if target < cumulative {
            return id;
        }
    }
    probs.last().map_or(0, |&(id, _)| id)
}

/// Returns the natural-log probability of `token` under the softmax of `logits`.
fn log_prob(logits: &[f32], token: u32) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&logit| (logit as f64 - max).exp()).sum();
    logits[token as usize] as f64 - max - sum.ln()
}

/// Returns the index of the largest logit, the lowest index on ties.
fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (id, &logit) in logits.iter().enumerate() {
        if logit > logits[best] {
            best = id;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampling(temperature: f64, top_p: f64) -> SamplingConfig {
        SamplingConfig { max_new_tokens: 1, temperature, top_p, eos_token_id: None, seed: 3 }
    }

    #[test]
    fn greedy_takes_first_maximum() {
        let mut rng = SplitMix64::new(0);
        assert_eq!(pick_token(&[0.1, 2.0, 2.0, -1.0], &sampling(0.0, 1.0), &mut rng), 1);
    }

    #[test]
    fn tiny_top_p_is_greedy() {
        let mut rng = SplitMix64::new(0);
        let config = sampling(1.0, 1e-9);
        for _ in 0..100 {
            assert_eq!(pick_token(&[0.0, 3.0, 1.0], &config, &mut rng), 1);
        }
    }

    #[test]
    fn top_p_excludes_tail_tokens() {
        // Probabilities 0.5, 0.3, 0.2 (as logits of their logarithms): top_p 0.7 keeps ids 0 and 1.
        let logits = [0.5f32.ln(), 0.3f32.ln(), 0.2f32.ln()];
        let mut rng = SplitMix64::new(9);
        let config = sampling(1.0, 0.7);
        let mut counts = [0usize; 3];
        for _ in 0..4000 {
            counts[pick_token(&logits, &config, &mut rng) as usize] += 1;
        }
        assert_eq!(counts[2], 0);
        // Renormalised, id 0 has probability 0.625.
        let share = counts[0] as f64 / 4000.0;
        assert!((share - 0.625).abs() < 0.03, "share of id 0: {share}");
    }

    #[test]
    fn temperature_sampling_follows_softmax() {
        let logits = [0.0f32, 1.0];
        let mut rng = SplitMix64::new(5);
        let config = sampling(2.0, 1.0);
        let ones = (0..20_000).filter(|_| pick_token(&logits, &config, &mut rng) == 1).count();
        // softmax([0, 0.5]) gives id 1 probability 1 / (1 + e^-0.5) = 0.6225.
        let share = ones as f64 / 20_000.0;
        assert!((share - 0.6225).abs() < 0.015, "share of id 1: {share}");
    }
}
