//! AdamW (Loshchilov and Hutter, "Decoupled Weight Decay Regularization", 2019)
//! with moments kept per parameter name, so the optimiser state is saved and
//! restored by the same Hugging Face keys as the weights.
//!
//! Weight decay applies to matrices (rank 2 and up: projections, embeddings,
//! the output head) and not to norm scales or biases.

use std::collections::HashMap;
use std::path::Path;

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use selfcorrect_model::checkpoint::{read_tensors, write_tensors};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

/// First and second moments of one parameter, flattened.
#[derive(Debug, Clone)]
struct Moments {
    exp_avg: Tensor<1>,
    exp_avg_sq: Tensor<1>,
}

#[derive(Debug)]
pub struct AdamW {
    pub config: AdamWConfig,
    /// Updates taken so far; the bias correction of update `t` uses `t` counted from 1.
    pub updates: u64,
    moments: HashMap<String, Moments>,
}

impl AdamW {
    pub fn new(config: AdamWConfig) -> Self {
        Self { config, updates: 0, moments: HashMap::new() }
    }

    /// Applies one update with learning rate `lr` to every parameter of `module`
    /// that has a gradient in `grads`.
    pub fn step<M: Module>(&mut self, module: M, grads: &GradientsParams, lr: f64) -> M {
        self.updates += 1;
        let mut mapper = UpdateMapper { optimizer: self, grads, lr, path: Vec::new() };
        module.map(&mut mapper)
    }

    /// Saves the moments as safetensors under `{key}.exp_avg` and `{key}.exp_avg_sq`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors = Vec::with_capacity(self.moments.len() * 2);
        let mut keys: Vec<&String> = self.moments.keys().collect();
        keys.sort();
        for key in keys {
            let moments = &self.moments[key];
            tensors.push((format!("{key}.exp_avg"), moments.exp_avg.clone().into_data()));
            tensors.push((format!("{key}.exp_avg_sq"), moments.exp_avg_sq.clone().into_data()));
        }
        write_tensors(path, &tensors).map_err(TrainError::from)
    }

    /// Loads moments written by [`AdamW::save`].
    pub fn load(config: AdamWConfig, updates: u64, path: &Path, device: &Device) -> Result<Self> {
        let mut tensors = read_tensors(path)?;
        let mut moments = HashMap::new();
        let keys: Vec<String> = tensors.keys().filter_map(|k| k.strip_suffix(".exp_avg").map(str::to_string)).collect();
        for key in keys {
            let missing = |suffix: &str| TrainError::InvalidCheckpoint {
                path: path.to_path_buf(),
                reason: format!("optimiser state has no tensor {key}{suffix}"),
            };
            let exp_avg = tensors.remove(&format!("{key}.exp_avg")).ok_or_else(|| missing(".exp_avg"))?;
            let exp_avg_sq = tensors.remove(&format!("{key}.exp_avg_sq")).ok_or_else(|| missing(".exp_avg_sq"))?;
            moments.insert(
                key,
                Moments {
                    exp_avg: Tensor::from_data(exp_avg, device),
                    exp_avg_sq: Tensor::from_data(exp_avg_sq, device),
                },
            );
        }
        Ok(Self { config, updates, moments })
    }
}

struct UpdateMapper<'a> {
    optimizer: &'a mut AdamW,
    grads: &'a GradientsParams,
    lr: f64,
    path: Vec<String>,
}

impl ModuleMapper for UpdateMapper<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(grad) = self.grads.get::<D>(param.id) else {
            return param;
        };
        let key = self.path.join(".");
        let AdamWConfig { beta1, beta2, eps, weight_decay } = self.optimizer.config;
        let t = self.optimizer.updates as i32;
        let lr = self.lr;
        let decay = if D >= 2 { weight_decay } else { 0.0 };
        let moments = &mut self.optimizer.moments;

        param.map(|tensor| {
            let require_grad = tensor.is_require_grad();
            let value = tensor.inner();
            let shape = value.dims();
            let numel: usize = shape.iter().product();
            let flat = value.reshape([numel]);
            let grad = grad.reshape([numel]);

            let state = moments
                .entry(key)
                .or_insert_with(|| Moments { exp_avg: flat.zeros_like(), exp_avg_sq: flat.zeros_like() });
            state.exp_avg = state.exp_avg.clone().mul_scalar(beta1) + grad.clone().mul_scalar(1.0 - beta1);
            state.exp_avg_sq = state.exp_avg_sq.clone().mul_scalar(beta2) + grad.square().mul_scalar(1.0 - beta2);

            // Bias-corrected step: lr * m_hat / (sqrt(v_hat) + eps), with decoupled decay.
            let m_hat = state.exp_avg.clone().div_scalar(1.0 - beta1.powi(t));
            let v_hat = state.exp_avg_sq.clone().div_scalar(1.0 - beta2.powi(t));
            let update = m_hat / (v_hat.sqrt().add_scalar(eps));
            let decayed = flat.mul_scalar(1.0 - lr * decay);
            let next = (decayed - update.mul_scalar(lr)).reshape(shape);

            let next = Tensor::from_inner(next);
            if require_grad { next.require_grad() } else { next }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;

    #[derive(Module, Debug)]
    struct Pair {
        matrix: Param<Tensor<2>>,
        bias: Param<Tensor<1>>,
    }

    /// Two AdamW updates of w = [[1, -2]] and b = [0.5] under the loss
    /// sum(w) + 3 * sum(b), whose gradients are 1 and 3 everywhere. Expected
    /// values follow PyTorch's AdamW update (decay p *= 1 - lr * wd, then
    /// p -= lr * m_hat / (sqrt(v_hat) + eps)): with a constant gradient,
    /// m_hat / sqrt(v_hat) = 1 at every step, so each step moves a parameter by
    /// lr * (1 / (1 + eps / |g|)) after decay.
    #[test]
    fn two_updates_match_the_formula() {
        let device = Device::flex().autodiff();
        let mut model = Pair {
            matrix: Param::from_tensor(Tensor::from_data([[1.0f32, -2.0]], &device)),
            bias: Param::from_tensor(Tensor::from_data([0.5f32], &device)),
        };
        let config = AdamWConfig { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };
        let mut optimizer = AdamW::new(config);
        let lr = 0.01;
        for _ in 0..2 {
            let loss = model.matrix.val().sum() + model.bias.val().sum().mul_scalar(3.0);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(model, &grads, lr);
        }
        let step = |p: f64, g: f64| p * (1.0 - lr * 0.1) - lr / (1.0 + 1e-8 / g);
        let expected_matrix = [step(step(1.0, 1.0), 1.0), step(step(-2.0, 1.0), 1.0)];
        let expected_bias = 0.5 - 2.0 * lr / (1.0 + 1e-8 / 3.0);

        let matrix: Vec<f32> = model.matrix.val().into_data().try_to_vec().unwrap();
        let bias: Vec<f32> = model.bias.val().into_data().try_to_vec().unwrap();
        for (got, want) in matrix.iter().zip(expected_matrix) {
            assert!((f64::from(*got) - want).abs() < 1e-6, "matrix {got} vs {want}");
        }
        // Biases are not decayed.
        assert!((f64::from(bias[0]) - expected_bias).abs() < 1e-6, "bias {} vs {expected_bias}", bias[0]);
    }
}
