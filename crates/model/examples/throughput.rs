//! Measures training and sampling throughput of a preset on the flex CPU backend.
//!
//! Usage: `cargo run --release -p selfcorrect-model --example throughput -- [preset] [batch] [seq]`
//! (defaults: `base 16 256`). Prints one line per measurement.

use std::time::Instant;

use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use selfcorrect_model::optim::adamw;
use selfcorrect_model::rng::SplitMix64;
use selfcorrect_model::{Family, Preset, SamplingConfig, Transformer, generate, masked_cross_entropy};

const VOCAB_SIZE: usize = 256;
const TRAIN_STEPS: usize = 3;
const SAMPLE_BATCH: usize = 32;
const SAMPLE_TOKENS: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let preset: Preset = args.first().map_or("base", String::as_str).parse()?;
    let batch: usize = args.get(1).map_or(Ok(16), |arg| arg.parse())?;
    let seq: usize = args.get(2).map_or(Ok(256), |arg| arg.parse())?;
    let config = preset.resolve(Family::Llama, VOCAB_SIZE)?;
    println!("preset {preset}: {} parameters", config.num_parameters());

    // Training: forward, masked loss, backward and one AdamW step per iteration.
    let device = Device::flex().autodiff();
    let mut model = Transformer::init(&config, 1, &device);
    let mut optimizer = adamw(&AdamWConfig::new(), 0.1, &model);
    let mut rng = SplitMix64::new(2);
    let ids: Vec<i64> = (0..batch * (seq + 1)).map(|_| (rng.next_u64() % VOCAB_SIZE as u64) as i64).collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [batch, seq + 1]), &device);
    let inputs = ids.clone().narrow(1, 0, seq);
    let targets = ids.narrow(1, 1, seq);
    let loss_mask = Tensor::<2, Int>::ones([batch, seq], &device);

    for step in 0..=TRAIN_STEPS {
        let start = Instant::now();
        let logits = model.forward(inputs.clone(), None)?;
        let loss = masked_cross_entropy(logits, targets.clone(), loss_mask.clone())?.mean();
        let loss_value = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1e-4, model, grads);
        device.sync()?;
        let seconds = start.elapsed().as_secs_f64();
        // Step 0 includes one-time set-up, so it is reported but marked.
        let label = if step == 0 { "warm-up" } else { "train" };
        println!("{label} step {step} | loss {loss_value:.3} | {:.0} tok/s", (batch * seq) as f64 / seconds);
    }

    // Sampling: batched generation with the KV cache.
    let device = Device::flex();
    let model = Transformer::init(&config, 1, &device);
    let prompts: Vec<Vec<u32>> = (0..SAMPLE_BATCH).map(|row| vec![(row % VOCAB_SIZE) as u32; 8]).collect();
    let sampling =
        SamplingConfig { max_new_tokens: SAMPLE_TOKENS, temperature: 1.0, top_p: 0.95, eos_token_id: None, seed: 3 };
    let start = Instant::now();
    let generations = generate(&model, &prompts, &sampling, &device)?;
    let new_tokens: usize = generations.iter().map(|generation| generation.tokens.len()).sum();
    println!(
        "sample batch {SAMPLE_BATCH} | {new_tokens} new tokens | {:.0} tok/s",
        new_tokens as f64 / start.elapsed().as_secs_f64()
    );
    Ok(())
}
