//! Backpropagation through every layer type checked against central finite differences, in
//! float64, for every family.
//!
//! This test binary switches the flex device to float64 before creating any tensor, so it must
//! stay a separate binary: the default float dtype is fixed per device and process.

mod common;

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::{DType, Gradients};
use common::{TestWeights, f64_device, int_tensor, tiny_config};
use selfcorrect_model::rng::SplitMix64;
use selfcorrect_model::{Family, Transformer, WeightMap, masked_cross_entropy, named_weights};

/// Step of the central difference: its truncation error (about `STEP^2`) and rounding error
/// (about `1e-16 / STEP`) both stay far below the tolerances.
const STEP: f64 = 1e-6;
const ABS_TOLERANCE: f64 = 1e-8;
const REL_TOLERANCE: f64 = 1e-5;
/// Elements checked per tensor.
const SAMPLES_PER_TENSOR: usize = 4;

/// Inputs with a left-padded row, and a loss mask that leaves some real tokens out.
struct Batch {
    ids: Vec<Vec<i64>>,
    attention_mask: Vec<Vec<i64>>,
    targets: Vec<Vec<i64>>,
    loss_mask: Vec<Vec<i64>>,
}

fn batch() -> Batch {
    Batch {
        ids: vec![vec![3, 7, 1, 9, 4], vec![0, 0, 5, 2, 8]],
        attention_mask: vec![vec![1, 1, 1, 1, 1], vec![0, 0, 1, 1, 1]],
        targets: vec![vec![7, 1, 9, 4, 30], vec![0, 0, 2, 8, 11]],
        loss_mask: vec![vec![1, 0, 1, 1, 1], vec![0, 0, 1, 1, 1]],
    }
}

/// Mean masked cross-entropy of `model` on the test batch.
fn loss(model: &Transformer, batch: &Batch, device: &Device) -> Tensor<1> {
    let logits = model
        .forward(int_tensor(&batch.ids, device), Some(int_tensor(&batch.attention_mask, device)))
        .expect("forward");
    masked_cross_entropy(logits, int_tensor(&batch.targets, device), int_tensor(&batch.loss_mask, device))
        .expect("loss")
        .mean()
}

fn loss_value(weights: &WeightMap, family: Family, batch: &Batch, device: &Device) -> f64 {
    let model = Transformer::from_weights(&tiny_config(family), &mut weights.clone(), device).expect("build model");
    loss(&model, batch, device).into_scalar::<f64>()
}

/// Collects each parameter's gradient by key.
struct GradCollector<'a> {
    grads: &'a Gradients,
    path: Vec<String>,
    by_key: HashMap<String, Vec<f64>>,
}

impl ModuleVisitor for GradCollector<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = param.val().grad(self.grads) {
            let values = grad.into_data().convert::<f64>().try_to_vec::<f64>().expect("float data");
            self.by_key.insert(self.path.join("."), values);
        }
    }
}

fn check_family(family: Family) {
    let device = f64_device();
    let autodiff = device.clone().autodiff();
    let batch = batch();

    // Weights as float64 data, perturbed copies of which rebuild the model.
    let config = tiny_config(family);
    let reference = Transformer::from_weights(&config, &mut TestWeights::new(family, 21), &device).expect("model");
    let weights = WeightMap { tensors: named_weights(&reference).into_iter().collect() };
    assert!(weights.tensors.values().all(|data| data.dtype() == DType::F64), "weights must be float64");

    // Configuring the flex device also sets the dtype of its autodiff wrapper.
    assert_eq!(Tensor::<1>::zeros([1], &autodiff).dtype(), DType::F64);

    // Analytic gradients.
    let model = Transformer::from_weights(&config, &mut weights.clone(), &autodiff).expect("model");
    let grads = loss(&model, &batch, &autodiff).backward();
    let mut collector = GradCollector { grads: &grads, path: Vec::new(), by_key: HashMap::new() };
    model.visit(&mut collector);
    assert_eq!(collector.by_key.len(), weights.tensors.len(), "{family:?}: every parameter needs a gradient");

    let mut rng = SplitMix64::new(5);
    let mut keys: Vec<&String> = weights.tensors.keys().collect();
    keys.sort();
    for key in keys {
        let analytic = &collector.by_key[key];
        let data = &weights.tensors[key];
        let len = data.num_elements();
        let width = data.shape().to_vec().last().copied().unwrap_or(1);

        // Embedding rows of tokens absent from the batch have no gradient, so sample used rows.
        let indices: Vec<usize> = (0..SAMPLES_PER_TENSOR)
            .map(|i| {
                if key == "model.embed_tokens.weight" {
                    let token = batch.ids[i % 2][2 + i % 3] as usize;
                    token * width + (rng.next_u64() as usize) % width
                } else {
                    (rng.next_u64() as usize) % len
                }
            })
            .collect();

        let mut largest = 0.0f64;
        for index in indices {
            let mut values = data.clone().convert::<f64>().try_to_vec::<f64>().expect("float data");
            let original = values[index];
            let mut perturbed = |delta: f64| {
                values[index] = original + delta;
                let mut map = weights.clone();
                map.tensors.insert(key.clone(), TensorData::new(values.clone(), data.shape().to_vec()));
                loss_value(&map, family, &batch, &device)
            };
            let numeric = (perturbed(STEP) - perturbed(-STEP)) / (2.0 * STEP);

            let diff = (analytic[index] - numeric).abs();
            let allowed = ABS_TOLERANCE + REL_TOLERANCE * numeric.abs().max(analytic[index].abs());
            assert!(
                diff <= allowed,
                "{family:?} {key}[{index}]: analytic {} vs numeric {numeric} (diff {diff})",
                analytic[index]
            );
            largest = largest.max(numeric.abs());
        }
        assert!(largest > 1e-6, "{family:?} {key}: sampled gradients are all near zero, the check proves nothing");
    }
}

#[test]
fn llama_gradients_match_finite_differences() {
    check_family(Family::Llama);
}

#[test]
fn qwen2_gradients_match_finite_differences() {
    check_family(Family::Qwen2);
}

#[test]
fn gemma_gradients_match_finite_differences() {
    check_family(Family::Gemma);
}
