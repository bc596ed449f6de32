//! Helpers shared by the integration tests: tiny configs and weights large enough that logits
//! are well separated (greedy decoding then does not hinge on rounding).

#![allow(dead_code)]

use burn::prelude::*;
use selfcorrect_model::rng::SplitMix64;
use selfcorrect_model::weights::Init;
use selfcorrect_model::{Family, ModelConfig, ModelError, ResolvedConfig, Transformer, WeightSource};

/// Returns a two-layer config with grouped-query attention (4 query heads, 2 key/value heads).
pub fn tiny_config(family: Family) -> ResolvedConfig {
    let json = format!(
        r#"{{
            "model_type": "{}",
            "vocab_size": 32,
            "hidden_size": 16,
            "intermediate_size": 24,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 64,
            "rms_norm_eps": 1e-6,
            "rope_theta": 10000.0
        }}"#,
        family.model_type()
    );
    match ModelConfig::from_json(&json).map(|config| config.validate()) {
        Ok(Ok(config)) => config,
        other => panic!("tiny config for {family:?} is invalid: {other:?}"),
    }
}

/// Random weights with unit-scale norms and weight matrices of standard deviation 0.3, with
/// every norm scale and bias perturbed away from its initial value.
pub struct TestWeights {
    rng: SplitMix64,
    norm_base: f64,
}

impl TestWeights {
    pub fn new(family: Family, seed: u64) -> Self {
        Self {
            rng: SplitMix64::new(seed),
            // Gemma stores `scale - 1`.
            norm_base: if family == Family::Gemma { 0.0 } else { 1.0 },
        }
    }
}

impl WeightSource for TestWeights {
    fn tensor(&mut self, key: &str, shape: &[usize], _init: Init) -> Result<TensorData, ModelError> {
        let len = shape.iter().product();
        let (base, std) = if key.ends_with("norm.weight") {
            (self.norm_base, 0.1)
        } else if key.ends_with(".bias") {
            (0.0, 0.1)
        } else {
            (0.0, 0.3)
        };
        let values: Vec<f64> = (0..len).map(|_| base + std * self.rng.next_normal()).collect();
        Ok(TensorData::new(values, shape.to_vec()))
    }
}

pub fn test_model(family: Family, seed: u64, device: &Device) -> Transformer {
    let config = tiny_config(family);
    match Transformer::from_weights(&config, &mut TestWeights::new(family, seed), device) {
        Ok(model) => model,
        Err(error) => panic!("building the test model failed: {error}"),
    }
}

pub fn int_tensor(rows: &[Vec<i64>], device: &Device) -> Tensor<2, Int> {
    let cols = rows.first().map_or(0, Vec::len);
    let values: Vec<i64> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), cols]), device)
}

pub fn to_vec3(tensor: Tensor<3>) -> Vec<Vec<Vec<f64>>> {
    let [batch, seq, width] = tensor.dims();
    let values = tensor.into_data().convert::<f64>().try_to_vec::<f64>().expect("float data");
    (0..batch)
        .map(|b| (0..seq).map(|t| values[(b * seq + t) * width..(b * seq + t + 1) * width].to_vec()).collect())
        .collect()
}

pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Returns the flex device with float64 as its default float dtype.
///
/// The default dtype is fixed per device for the whole process, so only test binaries that run
/// entirely in float64 may call this, before creating any tensor.
pub fn f64_device() -> Device {
    static CONFIGURED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CONFIGURED.get_or_init(|| {
        let mut device = Device::flex();
        device.configure(burn::tensor::FloatDType::F64).expect("configure float64 before any tensor exists");
    });
    Device::flex()
}

/// A directory under the system temporary directory, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("selfcorrect-model-{name}-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).expect("remove stale test directory");
        }
        std::fs::create_dir_all(&path).expect("create test directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _cleanup = std::fs::remove_dir_all(&self.0);
    }
}
