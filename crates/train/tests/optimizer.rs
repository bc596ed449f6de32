//! The trainer's AdamW with global-norm clipping on a real model: a few steps on a toy sequence.

use burn::optim::GradientsParams;
use burn::prelude::*;
use selfcorrect_model::{ModelConfig, Transformer, clip_grad_norm, masked_cross_entropy};
use selfcorrect_train::adamw::{AdamW, AdamWConfig};

const LEARNING_RATE: f64 = 1e-2;
const STEPS: usize = 30;

fn int_tensor(row: &[i64], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(row.to_vec(), [1, row.len()]), device)
}

#[test]
fn adamw_steps_reduce_the_loss() {
    let config: ModelConfig = serde_json::from_str(
        r#"{"model_type": "qwen2", "vocab_size": 32, "hidden_size": 16, "intermediate_size": 24,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0}"#,
    )
    .unwrap();
    let device = Device::flex().autodiff();
    let mut model = Transformer::init(&config.validate().unwrap(), 7, &device);
    let mut optimizer = AdamW::new(AdamWConfig { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.01 });

    // Learn to continue a fixed cycle; the prompt token (position 0's target) stays out of the loss.
    let sequence: Vec<i64> = (0..12).map(|i| (i * 5 % 11) + 1).collect();
    let mut loss_mask = vec![1; 11];
    loss_mask[0] = 0;

    let mut losses = Vec::new();
    for _ in 0..STEPS {
        let logits = model.forward(int_tensor(&sequence[..11], &device), None).unwrap();
        let loss = masked_cross_entropy(logits, int_tensor(&sequence[1..], &device), int_tensor(&loss_mask, &device))
            .unwrap()
            .mean();
        losses.push(loss.clone().into_scalar::<f64>());

        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let (grads, norm) = clip_grad_norm(&model, grads, 1.0).unwrap();
        assert!(norm.is_finite(), "gradient norm {norm}");
        assert!(norm > 0.0, "gradient norm {norm}");
        model = optimizer.step(model, &grads, LEARNING_RATE);
    }

    let (first, last) = (losses[0], losses[STEPS - 1]);
    // Near-uniform logits at initialisation give about ln(32) = 3.47.
    assert!((first - 32f64.ln()).abs() < 0.1, "initial loss {first}");
    assert!(last < 0.5 * first, "loss went from {first} to {last}: {losses:?}");
}
