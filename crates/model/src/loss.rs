//! Masked next-token cross-entropy.
//!
//! burn's `CrossEntropyLoss` can leave out only tokens equal to a padding id, while training on
//! traces with injected errors must leave out arbitrary spans, so the mask is explicit here.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::error::{ModelError, Result};
use crate::inputs::int_range;

/// Loss of one micro-batch, summed rather than averaged, so that the caller picks the divisor.
///
/// To average over every loss token of one optimiser step, divide each micro-batch's `sum` by the
/// total `count` of all micro-batches in the step ([`TokenLoss::normalized`]) before calling
/// `backward`. The accumulated gradient then equals that of one batch holding all the
/// micro-batches, however the tokens are spread between them.
#[derive(Debug, Clone)]
pub struct TokenLoss {
    /// Sum of `-log p(target)` over loss tokens, shape [1]. Exactly 0 when `count` is 0.
    pub sum: Tensor<1>,
    /// Number of tokens whose `loss_mask` is 1.
    pub count: usize,
}

impl TokenLoss {
    /// Returns the mean loss over this micro-batch's own tokens, or 0 when it has none.
    pub fn mean(&self) -> Tensor<1> {
        self.normalized(self.count)
    }

    /// Returns `sum / total_count`, the share of this micro-batch in the mean over all loss tokens
    /// of an optimiser step. A `total_count` of 0 divides by 1, so the result stays 0.
    pub fn normalized(&self, total_count: usize) -> Tensor<1> {
        self.sum.clone().div_scalar(total_count.max(1) as f64)
    }
}

/// Computes the summed cross-entropy of `logits` (batch, seq, vocab) against `targets`
/// (batch, seq) over the tokens where `loss_mask` (batch, seq) is 1.
///
/// Every target must be a valid id in `0..vocab`, also where the mask is 0. The mask must hold
/// only 0 and 1.
pub fn masked_cross_entropy(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    loss_mask: Tensor<2, Int>,
) -> Result<TokenLoss> {
    let [batch, seq, _] = logits.dims();
    let invalid = |name, reason: String| Err(ModelError::InvalidInput { name, reason });

    // Target ids are checked by `token_log_probs`, their shape first so that it is reported
    // before the mask's.
    if targets.dims() != [batch, seq] {
        return invalid("targets", format!("shape {:?} differs from logits [{batch}, {seq}, ..]", targets.dims()));
    }
    if loss_mask.dims() != [batch, seq] {
        return invalid("loss_mask", format!("shape {:?} differs from logits [{batch}, {seq}, ..]", loss_mask.dims()));
    }
    let (min_mask, max_mask) = int_range(&loss_mask);
    if min_mask < 0 || max_mask > 1 {
        return invalid("loss_mask", format!("values span {min_mask}..={max_mask}, expected 0 or 1"));
    }
    let count = loss_mask.clone().sum().into_scalar::<i64>() as usize;

    let target_log_probs = token_log_probs(logits, targets)?;

    // Masked tokens multiply a finite log-probability by 0, so they add exactly 0.
    let sum = (target_log_probs * loss_mask.float()).sum().neg();
    Ok(TokenLoss { sum, count })
}

/// Returns `log p(target)` (batch, seq) of every token under the softmax of `logits`
/// (batch, seq, vocab), the natural-log probability a trainer or a scorer needs per token.
///
/// Every target must be a valid id in `0..vocab`.
pub fn token_log_probs(logits: Tensor<3>, targets: Tensor<2, Int>) -> Result<Tensor<2>> {
    let [batch, seq, vocab] = logits.dims();
    let invalid = |reason: String| Err(ModelError::InvalidInput { name: "targets", reason });

    if targets.dims() != [batch, seq] {
        return invalid(format!("shape {:?} differs from logits [{batch}, {seq}, ..]", targets.dims()));
    }
    let (min_target, max_target) = int_range(&targets);
    if min_target < 0 || max_target >= vocab as i64 {
        return invalid(format!("ids span {min_target}..={max_target}, expected 0..{vocab}"));
    }

    // (batch, seq, vocab) -> (batch, seq)
    let log_probs = log_softmax(logits, 2);
    Ok(log_probs.gather(2, targets.reshape([batch, seq, 1])).reshape([batch, seq]))
}
