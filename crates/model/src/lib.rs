//! The model crate owns the decoder-only transformer (Llama, Qwen2 and Gemma families) on burn.
//! Around it sit Hugging Face configs and size presets, safetensors checkpoints with Hugging Face
//! keys, the masked loss, global-norm gradient clipping for training, and batched sampling with a
//! KV cache. Tasks, datasets and tokenizers live elsewhere: the model reads and writes token ids.
//!
//! Tensors have no backend type parameter in burn 0.22: a [`burn::tensor::Device`] picks the
//! backend at run time. `Device::flex()` is the CPU backend and `Device::flex().autodiff()` adds
//! gradients. The default float dtype (f32) can be changed only once per device and process, and
//! only before any tensor exists (`device.configure(FloatDType::F64)`). That is why the float64
//! tests run in their own test binaries.
//!
//! A training step: [`Transformer::forward`] gives logits, [`masked_cross_entropy`] their loss,
//! `backward` and `GradientsParams::from_grads` the gradients, [`clip_grad_norm`] clips them and
//! an optimiser steps (the trainer's AdamW is in `selfcorrect-train`). [`checkpoint::save`] and
//! [`checkpoint::load`] write and read Hugging Face directories, and [`generate`] samples with a
//! [`KvCache`].

pub mod checkpoint;
pub mod config;
pub mod error;
pub mod grad_clip;
mod inputs;
pub mod kv_cache;
pub mod loss;
pub mod presets;
pub mod rng;
pub mod sample;
pub mod transformer;
pub mod weights;

pub use config::{Activation, Family, ModelConfig, ResolvedConfig};
pub use error::{ModelError, Result};
pub use grad_clip::{clip_grad_norm, global_grad_norm};
pub use kv_cache::KvCache;
pub use loss::{TokenLoss, masked_cross_entropy, token_log_probs};
pub use presets::Preset;
pub use sample::{FinishReason, Generation, SamplingConfig, generate};
pub use transformer::Transformer;
pub use weights::{RandomInit, WeightMap, WeightSource, named_weights};
