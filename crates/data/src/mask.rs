//! Loss masks from character spans, and padded batches.
//!
//! # Token rule
//!
//! A token is in the loss only if every byte of text it covers lies in a
//! segment with `loss = true`. A token that straddles the edge between a
//! loss segment and a non-loss segment (an injected error, the prompt) is
//! therefore out of the loss, so no token that carries any character of an
//! injected error is ever a target. Text that no token's offsets cover (some
//! tokenizers leave stripped whitespace out) counts as covered by both
//! neighbouring tokens, so it cannot slip a non-loss character into the loss.
//! A token that covers no text is out of the loss. The BOS token is never a
//! target; the EOS token is in the loss when the last segment is.
//!
//! # Shift convention
//!
//! An [`EncodedExample`] keeps one flag per token, unshifted: `target_loss[t]`
//! says whether token `t` is a training target. A [`Batch`] is shifted for next-token
//! prediction: position `t` reads `input_ids[t]` and predicts `targets[t]`,
//! which is token `t + 1` of the example, and `loss_mask[t]` is the flag of
//! that target token (`target_loss[t + 1]`). Hugging Face exports keep the
//! unshifted form, `labels[t] = input_ids[t]` or -100, because Hugging Face
//! causal language models shift labels inside the model.

use std::ops::Range;

use crate::error::{DataError, Result};
use crate::record::Record;
use crate::tokenizer::{Token, Tokenizer};

/// The label Hugging Face losses ignore.
pub const IGNORE_INDEX: i64 = -100;

/// One record as token ids with a loss flag per token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedExample {
    pub id: String,
    pub input_ids: Vec<u32>,
    /// Whether each token is a training target (unshifted).
    pub target_loss: Vec<bool>,
}

impl EncodedExample {
    /// Hugging Face causal-LM labels: the token id where the token is in the
    /// loss, [`IGNORE_INDEX`] elsewhere, unshifted.
    pub fn labels(&self) -> Vec<i64> {
        self.input_ids
            .iter()
            .zip(&self.target_loss)
            .map(|(&id, &in_loss)| if in_loss { i64::from(id) } else { IGNORE_INDEX })
            .collect()
    }
}

/// Applies the token rule: whether each token covers only loss text.
///
/// `offsets` are the byte ranges of the tokens in the order the tokenizer
/// produced them; `loss_bytes[i]` is whether byte `i` of the text is in a loss segment.
pub fn token_loss_flags(offsets: &[Range<usize>], loss_bytes: &[bool]) -> Vec<bool> {
    let len = loss_bytes.len();
    // non_loss_before[i] = number of non-loss bytes in 0..i, for range queries.
    let mut non_loss_before = Vec::with_capacity(len + 1);
    non_loss_before.push(0usize);
    for &in_loss in loss_bytes {
        let last = non_loss_before.last().copied().unwrap_or(0);
        non_loss_before.push(last + usize::from(!in_loss));
    }

    let mut flags = Vec::with_capacity(offsets.len());
    let mut covered_until = 0;
    for (index, range) in offsets.iter().enumerate() {
        let (start, end) = (range.start.min(len), range.end.min(len));
        if start >= end {
            flags.push(false);
            continue;
        }
        // Widen the token over uncovered text on either side.
        let widened_start = if index == 0 { 0 } else { start.min(covered_until) };
        let next_start = offsets[index + 1..].iter().find(|next| next.start < next.end).map(|next| next.start.min(len));
        let widened_end = match next_start {
            Some(next) => end.max(next),
            None => len,
        };
        covered_until = covered_until.max(end);
        flags.push(non_loss_before[widened_end] == non_loss_before[widened_start]);
    }
    flags
}

/// Per-byte loss flags of a record's text.
pub fn loss_bytes(record: &Record) -> Vec<bool> {
    let mut bytes = Vec::new();
    for segment in &record.segments {
        bytes.extend(std::iter::repeat_n(segment.loss, segment.text.len()));
    }
    bytes
}

/// Tokenizes a record and marks which tokens are in the loss: BOS (when the
/// tokenizer has one), the text, then EOS.
pub fn encode_record(record: &Record, tokenizer: &Tokenizer) -> Result<EncodedExample> {
    let text = record.text();
    let tokens: Vec<Token> = tokenizer.encode(&text, &record.id)?;
    let offsets: Vec<Range<usize>> = tokens.iter().map(|token| token.offsets.clone()).collect();
    let text_flags = token_loss_flags(&offsets, &loss_bytes(record));

    let mut input_ids = Vec::with_capacity(tokens.len() + 2);
    let mut target_loss = Vec::with_capacity(tokens.len() + 2);
    if let Some(bos) = tokenizer.bos_id() {
        input_ids.push(bos);
        target_loss.push(false);
    }
    input_ids.extend(tokens.iter().map(|token| token.id));
    target_loss.extend(text_flags);
    input_ids.push(tokenizer.eos_id());
    target_loss.push(record.segments.last().is_some_and(|segment| segment.loss));
    Ok(EncodedExample { id: record.id.clone(), input_ids, target_loss })
}

/// A padded batch for next-token prediction, row-major `[batch_size, seq_len]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub batch_size: usize,
    pub seq_len: usize,
    pub input_ids: Vec<u32>,
    /// `targets[t]` is the token after `input_ids[t]`; PAD past the end.
    pub targets: Vec<u32>,
    /// 1 on real tokens, 0 on padding.
    pub attention_mask: Vec<u8>,
    /// 1 where `targets[t]` is in the loss, 0 elsewhere (always 0 on padding).
    pub loss_mask: Vec<u8>,
}

impl Batch {
    /// Pads examples to the longest one (minus the one token the shift drops).
    /// An example longer than `max_seq_len + 1` tokens is an error, not truncated.
    pub fn new(examples: &[EncodedExample], pad_id: u32, max_seq_len: Option<usize>) -> Result<Self> {
        if examples.is_empty() {
            return Err(DataError::Batch("a batch needs at least one example".into()));
        }
        for example in examples {
            if example.input_ids.len() < 2 || example.input_ids.len() != example.target_loss.len() {
                return Err(DataError::Batch(format!(
                    "example {} has {} tokens and {} loss flags; it needs at least 2 tokens and one flag each",
                    example.id,
                    example.input_ids.len(),
                    example.target_loss.len()
                )));
            }
        }
        let seq_len = examples.iter().map(|example| example.input_ids.len() - 1).max().unwrap_or(0);
        if let Some(limit) = max_seq_len.filter(|&limit| seq_len > limit) {
            let longest = examples.iter().max_by_key(|example| example.input_ids.len()).map_or("", |e| &e.id);
            return Err(DataError::Batch(format!(
                "example {longest} needs sequence length {seq_len}, over the maximum {limit}; \
                 raise the maximum sequence length or use shorter problems"
            )));
        }

        let size = examples.len() * seq_len;
        let mut batch = Batch {
            batch_size: examples.len(),
            seq_len,
            input_ids: vec![pad_id; size],
            targets: vec![pad_id; size],
            attention_mask: vec![0; size],
            loss_mask: vec![0; size],
        };
        for (row, example) in examples.iter().enumerate() {
            let base = row * seq_len;
            let n = example.input_ids.len() - 1;
            batch.input_ids[base..base + n].copy_from_slice(&example.input_ids[..n]);
            batch.targets[base..base + n].copy_from_slice(&example.input_ids[1..]);
            batch.attention_mask[base..base + n].fill(1);
            for t in 0..n {
                batch.loss_mask[base + t] = u8::from(example.target_loss[t + 1]);
            }
        }
        Ok(batch)
    }
}
