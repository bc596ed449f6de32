//! Training and sampling throughput of the Llama-family transformer on the flex CPU backend, with
//! the trainer's own AdamW, for comparison with the PyTorch model in `bench/model_peer.py`.
//!
//! Usage: `cargo bench -p selfcorrect-train --bench model -- MODE HIDDEN LAYERS`, where MODE is
//! `train` (batch 16 x 256 tokens) or `sample` (batch 32, 8 prompt tokens, 128 new tokens,
//! greedy). Prints one `MODE HIDDEN LAYERS tokens_per_second` line, the shape `bench/model.sh`
//! reads. `bench/model.sh` runs every configuration and prints the ratios.

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use selfcorrect_model::rng::SplitMix64;
use selfcorrect_model::{Family, Preset, ResolvedConfig, SamplingConfig, Transformer, generate, masked_cross_entropy};
use selfcorrect_train::adamw::AdamW;
use selfcorrect_train::config::OptimSection;

const VOCAB_SIZE: usize = 256;
const TRAIN_BATCH: usize = 16;
const TRAIN_SEQ: usize = 256;
/// Timed optimiser steps, after one untimed step that sets up kernels and optimiser state.
const TRAIN_STEPS: usize = 4;
const SAMPLE_BATCH: usize = 32;
const PROMPT_TOKENS: usize = 8;
const SAMPLE_TOKENS: usize = 128;
const LEARNING_RATE: f64 = 1e-4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` appends `--bench`; every flag is ignored.
    let args: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with("--")).collect();
    let [mode, hidden, layers] = args.as_slice() else {
        return Err("usage: model MODE HIDDEN LAYERS, with MODE train or sample".into());
    };
    let (hidden, layers): (usize, usize) = (hidden.parse()?, layers.parse()?);
    let config = model_config(hidden, layers)?;
    let tokens_per_second = match mode.as_str() {
        "train" => train(&config)?,
        "sample" => sample(&config)?,
        other => return Err(format!("unknown mode {other:?}: expected train or sample").into()),
    };
    println!("{mode} {hidden} {layers} {tokens_per_second:.1}");
    Ok(())
}

/// Returns the Llama-family config of the `base` (hidden 256) or `large` (hidden 512) preset
/// with `layers` layers.
fn model_config(hidden: usize, layers: usize) -> Result<ResolvedConfig, Box<dyn std::error::Error>> {
    let preset = match hidden {
        256 => Preset::Base,
        512 => Preset::Large,
        other => return Err(format!("hidden size {other} has no preset: use 256 or 512").into()),
    };
    let mut config = preset.model_config(Family::Llama, VOCAB_SIZE);
    config.num_hidden_layers = layers;
    Ok(config.validate()?)
}

fn train(config: &ResolvedConfig) -> Result<f64, Box<dyn std::error::Error>> {
    let device = Device::flex().autodiff();
    let mut model = Transformer::init(config, 1, &device);
    // The trainer's default betas, eps and decay, which `bench/model_peer.py` repeats.
    let mut optimizer = AdamW::new(OptimSection::default().adamw());
    let mut rng = SplitMix64::new(2);
    let ids: Vec<i64> =
        (0..TRAIN_BATCH * (TRAIN_SEQ + 1)).map(|_| (rng.next_u64() % VOCAB_SIZE as u64) as i64).collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [TRAIN_BATCH, TRAIN_SEQ + 1]), &device);
    let inputs = ids.clone().narrow(1, 0, TRAIN_SEQ);
    let targets = ids.narrow(1, 1, TRAIN_SEQ);
    let loss_mask = Tensor::<2, Int>::ones([TRAIN_BATCH, TRAIN_SEQ], &device);

    let mut start = Instant::now();
    for step in 0..=TRAIN_STEPS {
        if step == 1 {
            start = Instant::now();
        }
        let logits = model.forward(inputs.clone(), None)?;
        let loss = masked_cross_entropy(logits, targets.clone(), loss_mask.clone())?.mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(model, &grads, LEARNING_RATE);
        device.sync()?;
    }
    Ok((TRAIN_STEPS * TRAIN_BATCH * TRAIN_SEQ) as f64 / start.elapsed().as_secs_f64())
}

fn sample(config: &ResolvedConfig) -> Result<f64, Box<dyn std::error::Error>> {
    let device = Device::flex();
    let model = Transformer::init(config, 1, &device);
    let prompts: Vec<Vec<u32>> = (0..SAMPLE_BATCH)
        .map(|row| (0..PROMPT_TOKENS).map(|i| ((row * 7 + i) % VOCAB_SIZE) as u32).collect())
        .collect();
    let sampling = SamplingConfig::greedy(SAMPLE_TOKENS, None);
    // One short untimed run sets up kernels.
    generate(&model, &prompts, &SamplingConfig::greedy(2, None), &device)?;
    let start = Instant::now();
    let generations = generate(&model, &prompts, &sampling, &device)?;
    let new_tokens: usize = generations.iter().map(|generation| generation.tokens.len()).sum();
    Ok(new_tokens as f64 / start.elapsed().as_secs_f64())
}
