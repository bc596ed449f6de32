//! Key/value cache for incremental decoding.

use burn::prelude::*;

use crate::error::{ModelError, Result};

/// Keys and values of one attention layer, after the rotary embedding.
#[derive(Debug, Clone, Default)]
pub(crate) struct LayerCache {
    /// (batch, kv_heads, seq, head_dim)
    pub(crate) key: Option<Tensor<4>>,
    /// (batch, kv_heads, seq, head_dim)
    pub(crate) value: Option<Tensor<4>>,
}

/// Keys, values and padding mask of every position decoded so far, for a whole batch.
///
/// Created empty with [`KvCache::new`] and filled by
/// [`Transformer::forward_with_cache`](crate::Transformer::forward_with_cache).
#[derive(Debug, Clone)]
pub struct KvCache {
    pub(crate) layers: Vec<LayerCache>,
    /// (batch, seq) with 1 for a real token and 0 for padding.
    pub(crate) key_mask: Option<Tensor<2, Int>>,
}

impl KvCache {
    /// Creates an empty cache for a model with `num_layers` layers.
    pub fn new(num_layers: usize) -> Self {
        Self { layers: vec![LayerCache::default(); num_layers], key_mask: None }
    }

    /// Returns the number of cached positions (padding included).
    pub fn seq_len(&self) -> usize {
        self.key_mask.as_ref().map_or(0, |mask| mask.dims()[1])
    }

    /// Returns the batch size of the cached sequences, or `None` while the cache is empty.
    pub fn batch_size(&self) -> Option<usize> {
        self.key_mask.as_ref().map(|mask| mask.dims()[0])
    }

    /// Drops every cached position from `len` on, so decoding can restart from a shared prefix.
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        let seq_len = self.seq_len();
        if len > seq_len {
            return Err(ModelError::InvalidInput {
                name: "seqlen_offset",
                reason: format!("{len} is beyond the {seq_len} cached positions"),
            });
        }
        if len == seq_len {
            return Ok(());
        }
        if len == 0 {
            *self = Self::new(self.layers.len());
            return Ok(());
        }

        for layer in &mut self.layers {
            layer.key = layer.key.take().map(|key| key.narrow(2, 0, len));
            layer.value = layer.value.take().map(|value| value.narrow(2, 0, len));
        }
        self.key_mask = self.key_mask.take().map(|mask| mask.narrow(1, 0, len));
        Ok(())
    }
}
