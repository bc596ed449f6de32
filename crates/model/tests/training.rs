//! A few optimiser steps on a toy sequence: the pieces a trainer combines, end to end.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use common::{int_tensor, tiny_config};
use selfcorrect_model::optim::{adamw, no_decay_group};
use selfcorrect_model::{Family, Transformer, clip_grad_norm, masked_cross_entropy};

const LEARNING_RATE: f64 = 1e-2;
const STEPS: usize = 30;

#[test]
fn adamw_steps_reduce_the_loss() {
    let device = Device::flex().autodiff();
    let mut model = Transformer::init(&tiny_config(Family::Llama), 7, &device);
    let mut optimizer = adamw(&AdamWConfig::new(), 0.01, &model);

    // Learn to continue a fixed cycle; the prompt token (position 0's target) stays out of the loss.
    let sequence: Vec<i64> = (0..12).map(|i| (i * 5 % 11) + 1).collect();
    let inputs = vec![sequence[..11].to_vec()];
    let targets = vec![sequence[1..].to_vec()];
    let mut loss_mask = vec![vec![1; 11]];
    loss_mask[0][0] = 0;

    let mut losses = Vec::new();
    for _ in 0..STEPS {
        let logits = model.forward(int_tensor(&inputs, &device), None).expect("forward");
        let loss =
            masked_cross_entropy(logits, int_tensor(&targets, &device), int_tensor(&loss_mask, &device)).expect("loss");
        let mean = loss.mean();
        losses.push(mean.clone().into_scalar::<f64>());

        let grads = GradientsParams::from_grads(mean.backward(), &model);
        let (grads, norm) = clip_grad_norm(&model, grads, 1.0).expect("finite gradients");
        assert!(norm.is_finite(), "gradient norm {norm}");
        assert!(norm > 0.0, "gradient norm {norm}");
        model = optimizer.step(LEARNING_RATE, model, grads);
    }

    let (first, last) = (losses[0], losses[STEPS - 1]);
    // Near-uniform logits at initialisation give about ln(32) = 3.47.
    assert!((first - 32f64.ln()).abs() < 0.1, "initial loss {first}");
    assert!(last < 0.5 * first, "loss went from {first} to {last}: {losses:?}");
}

#[test]
fn no_decay_group_holds_norms_and_biases() {
    let device = Device::flex();
    let model = Transformer::init(&tiny_config(Family::Qwen2), 8, &device);
    let group = no_decay_group(&model);

    struct Check<'a> {
        group: &'a burn::module::ParamGroup,
        checked: usize,
    }
    impl ModuleVisitor for Check<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            assert_eq!(self.group.matches(&param.id, None), D == 1, "rank {D} parameter");
            self.checked += 1;
        }
    }
    let mut check = Check { group: &group, checked: 0 };
    model.visit(&mut check);
    // Qwen2, two layers: 3 biases and 2 norms per layer, and the final norm, among 27 tensors.
    assert_eq!(check.checked, 27);
}

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
