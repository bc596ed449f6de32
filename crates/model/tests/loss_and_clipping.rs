//! Masked cross-entropy and global-norm gradient clipping.

mod common;

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use common::int_tensor;
use selfcorrect_model::{ModelError, clip_grad_norm, global_grad_norm, masked_cross_entropy};

fn logits(values: Vec<f64>, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Deterministic logits in (-2, 2), different at every position.
fn varied_logits(batch: usize, seq: usize, vocab: usize, device: &Device) -> Tensor<3> {
    let values = (0..batch * seq * vocab).map(|i| ((i * 37 % 17) as f64 / 4.25) - 2.0).collect();
    logits(values, [batch, seq, vocab], device)
}

#[test]
fn loss_matches_hand_computation() {
    let device = Device::flex();
    // One row, two positions, vocabulary 3; only position 1 is in the loss.
    let logits = logits(vec![0.0, 1.0, 2.0, 1.0, 1.0, 1.0], [1, 2, 3], &device);
    let loss = masked_cross_entropy(logits, int_tensor(&[vec![2, 0]], &device), int_tensor(&[vec![0, 1]], &device))
        .expect("loss");

    // Position 1 has uniform logits, so its loss is ln 3.
    assert_eq!(loss.count, 1);
    let sum = loss.sum.into_scalar::<f64>();
    assert!((sum - 3f64.ln()).abs() < 1e-6, "sum {sum}");
}

#[test]
fn empty_mask_gives_zero_without_nan() {
    let device = Device::flex();
    let loss = masked_cross_entropy(
        varied_logits(2, 3, 5, &device),
        int_tensor(&[vec![1, 2, 3], vec![4, 0, 1]], &device),
        int_tensor(&[vec![0, 0, 0], vec![0, 0, 0]], &device),
    )
    .expect("loss");

    assert_eq!(loss.count, 0);
    assert_eq!(loss.sum.clone().into_scalar::<f64>(), 0.0);
    let mean = loss.mean().into_scalar::<f64>();
    assert_eq!(mean, 0.0);
    let normalized = loss.normalized(0).into_scalar::<f64>();
    assert_eq!(normalized, 0.0);
}

#[test]
fn micro_batches_normalise_like_one_batch() {
    let device = Device::flex();
    let targets = vec![vec![1, 2, 3, 0], vec![4, 0, 1, 2], vec![3, 3, 2, 1]];
    let loss_mask = vec![vec![1, 1, 0, 1], vec![0, 0, 0, 1], vec![1, 1, 1, 1]];
    let all_logits = varied_logits(3, 4, 5, &device);

    let whole =
        masked_cross_entropy(all_logits.clone(), int_tensor(&targets, &device), int_tensor(&loss_mask, &device))
            .expect("loss");
    let whole_mean = whole.mean().into_scalar::<f64>();

    // Split unevenly: rows 0..1 and rows 1..3 hold 3 and 5 loss tokens.
    let first = masked_cross_entropy(
        all_logits.clone().narrow(0, 0, 1),
        int_tensor(&targets[..1], &device),
        int_tensor(&loss_mask[..1], &device),
    )
    .expect("loss");
    let second = masked_cross_entropy(
        all_logits.narrow(0, 1, 2),
        int_tensor(&targets[1..], &device),
        int_tensor(&loss_mask[1..], &device),
    )
    .expect("loss");
    let total = first.count + second.count;
    assert_eq!(total, whole.count);
    let accumulated = first.normalized(total).into_scalar::<f64>() + second.normalized(total).into_scalar::<f64>();

    assert!((accumulated - whole_mean).abs() < 1e-6, "{accumulated} vs {whole_mean}");
    // Averaging the two micro-batch means would weigh tokens unequally.
    let mean_of_means = (first.mean().into_scalar::<f64>() + second.mean().into_scalar::<f64>()) / 2.0;
    assert!((mean_of_means - whole_mean).abs() > 1e-3);
}

#[test]
fn loss_rejects_invalid_inputs() {
    let device = Device::flex();
    let logits = varied_logits(1, 2, 3, &device);
    let out_of_vocab =
        masked_cross_entropy(logits.clone(), int_tensor(&[vec![0, 3]], &device), int_tensor(&[vec![1, 1]], &device));
    assert!(matches!(out_of_vocab, Err(ModelError::InvalidInput { name: "targets", .. })));

    let bad_mask =
        masked_cross_entropy(logits.clone(), int_tensor(&[vec![0, 1]], &device), int_tensor(&[vec![1, 2]], &device));
    assert!(matches!(bad_mask, Err(ModelError::InvalidInput { name: "loss_mask", .. })));

    let bad_shape = masked_cross_entropy(logits, int_tensor(&[vec![0]], &device), int_tensor(&[vec![1]], &device));
    assert!(matches!(bad_shape, Err(ModelError::InvalidInput { name: "targets", .. })));
}

/// Two parameters whose gradients are set by hand.
#[derive(Module, Debug)]
struct TwoParams {
    a: Param<Tensor<1>>,
    b: Param<Tensor<2>>,
}

fn two_params_with_grads(grad_a: [f64; 2], grad_b: f64) -> (TwoParams, GradientsParams) {
    let device = Device::flex();
    let module = TwoParams {
        a: Param::from_data(TensorData::new(vec![0.5, -1.0], [2]), &device),
        b: Param::from_data(TensorData::new(vec![2.0], [1, 1]), &device),
    };
    let mut grads = GradientsParams::new();
    grads.register(module.a.id, Tensor::<1>::from_data(TensorData::new(grad_a.to_vec(), [2]), &device));
    grads.register(module.b.id, Tensor::<2>::from_data(TensorData::new(vec![grad_b], [1, 1]), &device));
    (module, grads)
}

fn grad_values<const D: usize>(grads: &GradientsParams, param: &Param<Tensor<D>>) -> Vec<f64> {
    grads
        .get::<D>(param.id)
        .expect("gradient present")
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("float data")
}

#[test]
fn clipping_scales_by_global_norm() {
    // Gradients (3, 4) and (12): global norm sqrt(9 + 16 + 144) = 13.
    let (module, grads) = two_params_with_grads([3.0, 4.0], 12.0);
    let (clipped, norm) = clip_grad_norm(&module, grads, 6.5).expect("clip");
    assert!((norm - 13.0).abs() < 1e-5, "norm {norm}");

    // Every gradient is scaled by 6.5 / (13 + 1e-6), about one half.
    let scale = 6.5 / (13.0 + 1e-6);
    let a = grad_values(&clipped, &module.a);
    let b = grad_values(&clipped, &module.b);
    assert!((a[0] - 3.0 * scale).abs() < 1e-5, "{a:?}");
    assert!((a[1] - 4.0 * scale).abs() < 1e-5, "{a:?}");
    assert!((b[0] - 12.0 * scale).abs() < 1e-5, "{b:?}");
    let clipped_norm = global_grad_norm(&module, &clipped);
    assert!((clipped_norm - 6.5).abs() < 1e-4, "norm after clipping {clipped_norm}");
}

#[test]
fn clipping_keeps_small_gradients() {
    let (module, grads) = two_params_with_grads([3.0, 4.0], 12.0);
    let (kept, norm) = clip_grad_norm(&module, grads, 20.0).expect("clip");
    assert!((norm - 13.0).abs() < 1e-5);
    assert_eq!(grad_values(&kept, &module.a), vec![3.0, 4.0]);
    assert_eq!(grad_values(&kept, &module.b), vec![12.0]);
}

#[test]
fn clipping_rejects_bad_values() {
    let (module, grads) = two_params_with_grads([f64::NAN, 4.0], 12.0);
    assert!(matches!(clip_grad_norm(&module, grads, 1.0), Err(ModelError::NonFiniteGradNorm { .. })));

    let (module, grads) = two_params_with_grads([3.0, 4.0], 12.0);
    assert!(matches!(clip_grad_norm(&module, grads, 0.0), Err(ModelError::InvalidConfig { field: "max_norm", .. })));
}
