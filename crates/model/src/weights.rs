//! Named weights: where a model's tensors come from when it is built, and how to list them under
//! their Hugging Face keys.

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use crate::error::{ModelError, Result};
use crate::rng::SplitMix64;

/// Fill rule of a freshly initialised tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Normal with mean 0 and this standard deviation.
    Normal {
        std: f64,
    },
    Zeros,
    Ones,
}

/// Standard deviation of weight matrices at initialisation (Hugging Face `initializer_range`).
pub const INIT_STD: f64 = 0.02;

/// A source of weights, asked for each tensor by key and expected shape while a model is built.
pub trait WeightSource {
    /// Returns the tensor stored under `key`, with exactly `shape`. A source that creates weights
    /// fills the tensor by `init`, and a source that reads weights ignores it.
    fn tensor(&mut self, key: &str, shape: &[usize], init: Init) -> Result<TensorData>;
}

/// Creates fresh weights from a seed, as `f32`.
#[derive(Debug, Clone)]
pub struct RandomInit {
    rng: SplitMix64,
}

impl RandomInit {
    /// Creates a source whose weights depend only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self { rng: SplitMix64::new(seed) }
    }
}

impl WeightSource for RandomInit {
    fn tensor(&mut self, _key: &str, shape: &[usize], init: Init) -> Result<TensorData> {
        let len = shape.iter().product();
        let values: Vec<f32> = match init {
            Init::Normal { std } => (0..len).map(|_| (self.rng.next_normal() * std) as f32).collect(),
            Init::Zeros => vec![0.0; len],
            Init::Ones => vec![1.0; len],
        };
        Ok(TensorData::new(values, shape.to_vec()))
    }
}

/// Weights held in memory by key, as listed by [`named_weights`].
///
/// Every requested key must be present with the expected shape. Keys that are never requested
/// are ignored.
#[derive(Debug, Clone, Default)]
pub struct WeightMap {
    pub tensors: HashMap<String, TensorData>,
}

impl WeightSource for WeightMap {
    fn tensor(&mut self, key: &str, shape: &[usize], _init: Init) -> Result<TensorData> {
        let data = self
            .tensors
            .get(key)
            .ok_or_else(|| ModelError::MissingTensor { key: key.to_string(), path: "<memory>".into() })?;
        if data.shape().as_slice() != shape {
            return Err(ModelError::ShapeMismatch {
                key: key.to_string(),
                path: "<memory>".into(),
                expected: shape.to_vec(),
                found: data.shape().to_vec(),
            });
        }
        Ok(data.clone())
    }
}

/// Builds a parameter of rank `D` from a source, on `device`.
pub(crate) fn load_param<const D: usize>(
    source: &mut impl WeightSource,
    key: &str,
    shape: [usize; D],
    init: Init,
    device: &Device,
) -> Result<Param<Tensor<D>>> {
    let data = source.tensor(key, &shape, init)?;
    // The source checks shapes, but a wrong shape here would panic inside burn, so check again.
    if data.shape().as_slice() != shape {
        return Err(ModelError::ShapeMismatch {
            key: key.to_string(),
            path: "<weight source>".into(),
            expected: shape.to_vec(),
            found: data.shape().to_vec(),
        });
    }
    Ok(Param::from_data(data, device))
}

/// Lists every float parameter of `module` with its key, the field names joined by dots
/// (`model.layers.0.self_attn.q_proj.weight`), in visiting order.
pub fn named_weights<M: Module>(module: &M) -> Vec<(String, TensorData)> {
    let mut collector = NameCollector::default();
    module.visit(&mut collector);
    collector.weights
}

#[derive(Default)]
struct NameCollector {
    path: Vec<String>,
    weights: Vec<(String, TensorData)>,
}

impl ModuleVisitor for NameCollector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.weights.push((self.path.join("."), param.val().into_data()));
    }
}
