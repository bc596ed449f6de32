//! Checks of the token ids and masks passed to the model, and the attention mask built from
//! them.

use burn::prelude::*;

use crate::config::ResolvedConfig;
use crate::error::{ModelError, Result};
use crate::kv_cache::KvCache;

/// Score added to attention logits of masked keys.
///
/// NOTE: finite on purpose. A padding query whose keys are all masked then gets a finite
/// (meaningless) row instead of NaN, and NaN would survive a zero loss mask (`NaN * 0 = NaN`).
const MASKED_SCORE: f64 = -1e9;

/// Checks shapes, token ids and mask values before a forward pass, and that `offset` cached
/// positions plus the new ones fit in `max_position_embeddings`.
pub(crate) fn check_inputs(
    config: &ResolvedConfig,
    input_ids: &Tensor<2, Int>,
    attention_mask: Option<&Tensor<2, Int>>,
    kv_cache: Option<&KvCache>,
    offset: usize,
) -> Result<()> {
    let [batch, seq] = input_ids.dims();
    let invalid = |name, reason: String| Err(ModelError::InvalidInput { name, reason });

    if batch == 0 || seq == 0 {
        return invalid("input_ids", format!("shape [{batch}, {seq}] is empty"));
    }
    if offset + seq > config.max_position_embeddings {
        return invalid(
            "input_ids",
            format!(
                "{} cached plus {seq} new positions exceed max_position_embeddings ({})",
                offset, config.max_position_embeddings
            ),
        );
    }
    // At offset 0 the cache is emptied first, so its old batch size does not matter.
    if let Some(cached_batch) = kv_cache.and_then(KvCache::batch_size)
        && offset > 0
        && cached_batch != batch
    {
        return invalid("input_ids", format!("batch {batch} differs from the cached batch {cached_batch}"));
    }

    let (min_id, max_id) = int_range(input_ids);
    if min_id < 0 || max_id >= config.vocab_size as i64 {
        return invalid("input_ids", format!("token ids span {min_id}..={max_id}, expected 0..{}", config.vocab_size));
    }

    if let Some(mask) = attention_mask {
        if mask.dims() != [batch, seq] {
            return invalid(
                "attention_mask",
                format!("shape {:?} differs from input_ids [{batch}, {seq}]", mask.dims()),
            );
        }
        let (min, max) = int_range(mask);
        if min < 0 || max > 1 {
            return invalid("attention_mask", format!("values span {min}..={max}, expected 0 or 1"));
        }
    }
    Ok(())
}

/// Returns the minimum and maximum of an integer tensor.
pub(crate) fn int_range(tensor: &Tensor<2, Int>) -> (i64, i64) {
    let min = tensor.clone().min().into_scalar::<i64>();
    let max = tensor.clone().max().into_scalar::<i64>();
    (min, max)
}

/// Builds the additive attention mask (batch, 1, group * seq, offset + seq): 0 where query `i`
/// (at absolute index `offset + i`) may attend key `j`, [`MASKED_SCORE`] where `j` is in its
/// future or is padding. Rows repeat `group` times to match the folded query heads of
/// [`Attention`](crate::transformer::Attention).
pub(crate) fn attention_mask_bias(key_mask: Tensor<2, Int>, offset: usize, seq: usize, group: usize) -> Tensor<4> {
    let device = key_mask.device();
    let [batch, keys] = key_mask.dims();

    // (1, 1, seq, keys)
    let causal: Vec<f32> =
        (0..seq).flat_map(|i| (0..keys).map(move |j| if j > offset + i { MASKED_SCORE as f32 } else { 0.0 })).collect();
    let causal = Tensor::<2>::from_data(TensorData::new(causal, [seq, keys]), &device).unsqueeze::<4>();

    // (batch, 1, 1, keys)
    let padding = key_mask.equal_elem(0).float().mul_scalar(MASKED_SCORE).reshape([batch, 1, 1, keys]);

    (causal + padding).repeat_dim(2, group)
}
