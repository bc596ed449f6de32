//! Gradient accumulation: micro-batches normalised by the step's token count add up to one batch.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use common::{int_tensor, tiny_config};
use selfcorrect_model::{Family, Transformer, masked_cross_entropy};

/// Returns every gradient of `model` as one flat vector, in visiting order.
fn flat_grads(model: &Transformer, grads: &GradientsParams) -> Vec<f64> {
    struct Flatten<'a> {
        grads: &'a GradientsParams,
        values: Vec<f64>,
    }
    impl ModuleVisitor for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let grad = self.grads.get::<D>(param.id).expect("gradient present");
            let values = grad.into_data().convert::<f64>().try_to_vec::<f64>().expect("float data");
            self.values.extend(values);
        }
    }
    let mut flatten = Flatten { grads, values: Vec::new() };
    model.visit(&mut flatten);
    flatten.values
}

#[test]
fn accumulated_micro_batches_match_one_batch() {
    let device = Device::flex().autodiff();
    let model = Transformer::init(&tiny_config(Family::Qwen2), 9, &device);
    let inputs = vec![vec![1, 4, 2, 8, 5], vec![7, 3, 3, 9, 6], vec![2, 2, 6, 1, 4]];
    let targets = vec![vec![4, 2, 8, 5, 7], vec![3, 3, 9, 6, 1], vec![2, 6, 1, 4, 4]];
    // Rows hold 4, 1 and 5 loss tokens, so micro-batch means would weigh tokens unequally.
    let loss_mask = vec![vec![0, 1, 1, 1, 1], vec![0, 0, 0, 0, 1], vec![1, 1, 1, 1, 1]];

    let whole = masked_cross_entropy(
        model.forward(int_tensor(&inputs, &device), None).expect("forward"),
        int_tensor(&targets, &device),
        int_tensor(&loss_mask, &device),
    )
    .expect("loss");
    let expected = flat_grads(&model, &GradientsParams::from_grads(whole.mean().backward(), &model));

    // Micro-batches of rows 0..2 and 2..3, each normalised by the step's total token count.
    let total_tokens = 10;
    let mut accumulated = vec![0.0; expected.len()];
    for rows in [0..2, 2..3] {
        let loss = masked_cross_entropy(
            model.forward(int_tensor(&inputs[rows.clone()], &device), None).expect("forward"),
            int_tensor(&targets[rows.clone()], &device),
            int_tensor(&loss_mask[rows], &device),
        )
        .expect("loss");
        let grads = GradientsParams::from_grads(loss.normalized(total_tokens).backward(), &model);
        for (sum, grad) in accumulated.iter_mut().zip(flat_grads(&model, &grads)) {
            *sum += grad;
        }
    }

    let largest = expected.iter().fold(0.0f64, |max, g| max.max(g.abs()));
    assert!(largest > 1e-4, "gradients are too small to compare: {largest}");
    for (index, (expected, actual)) in expected.iter().zip(&accumulated).enumerate() {
        assert!((expected - actual).abs() < 1e-5 + 1e-3 * expected.abs(), "gradient {index}: {expected} vs {actual}");
    }
}
