//! Checkpoint round trips and the errors for damaged checkpoints.

mod common;

use std::collections::HashMap;

use burn::prelude::*;
use common::{TempDir, int_tensor, test_model, tiny_config, to_vec3};
use safetensors::tensor::{SafeTensors, TensorView};
use selfcorrect_model::checkpoint::{self, CONFIG_FILE, WEIGHTS_FILE};
use selfcorrect_model::{Family, ModelError, Transformer, named_weights};

fn logits(model: &Transformer, device: &Device) -> Vec<Vec<Vec<f64>>> {
    let ids = int_tensor(&[vec![1, 5, 9, 2], vec![0, 3, 3, 7]], device);
    let mask = int_tensor(&[vec![1, 1, 1, 1], vec![0, 1, 1, 1]], device);
    to_vec3(model.forward(ids, Some(mask)).expect("forward"))
}

#[test]
fn round_trip_keeps_logits() {
    let device = Device::flex();
    for family in Family::ALL {
        let dir = TempDir::new(&format!("round-trip-{}", family.model_type()));
        let model = test_model(family, 31, &device);
        checkpoint::save(&model, &dir.0).expect("save");
        let loaded = checkpoint::load(&dir.0, &device).expect("load");

        assert_eq!(loaded.config(), model.config());
        let json = std::fs::read_to_string(dir.0.join(CONFIG_FILE)).expect("read config");
        assert!(json.contains("\"torch_dtype\": \"float32\""), "{json}");
        assert_eq!(logits(&loaded, &device), logits(&model, &device), "{family:?}");
        let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
            .expect("list directory")
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
    }
}

#[test]
fn keys_follow_hugging_face_names() {
    let device = Device::flex();
    let model = test_model(Family::Qwen2, 32, &device);
    let mut keys: Vec<String> = named_weights(&model).into_iter().map(|(key, _)| key).collect();
    keys.sort();

    let mut expected =
        vec!["model.embed_tokens.weight".to_string(), "model.norm.weight".to_string(), "lm_head.weight".to_string()];
    for i in 0..2 {
        for name in [
            "self_attn.q_proj.weight",
            "self_attn.q_proj.bias",
            "self_attn.k_proj.weight",
            "self_attn.k_proj.bias",
            "self_attn.v_proj.weight",
            "self_attn.v_proj.bias",
            "self_attn.o_proj.weight",
            "mlp.gate_proj.weight",
            "mlp.up_proj.weight",
            "mlp.down_proj.weight",
            "input_layernorm.weight",
            "post_attention_layernorm.weight",
        ] {
            expected.push(format!("model.layers.{i}.{name}"));
        }
    }
    expected.sort();
    assert_eq!(keys, expected);

    // Projection weights are (out, in) as in PyTorch: q_proj maps 16 to 4 heads of 4.
    let shapes: HashMap<String, Vec<usize>> =
        named_weights(&model).into_iter().map(|(key, data)| (key, data.shape().to_vec())).collect();
    assert_eq!(shapes["model.layers.0.self_attn.q_proj.weight"], vec![16, 16]);
    assert_eq!(shapes["model.layers.0.self_attn.k_proj.weight"], vec![8, 16]);
    assert_eq!(shapes["model.layers.0.mlp.down_proj.weight"], vec![16, 24]);
}

#[test]
fn parameter_count_matches_tensors() {
    let device = Device::flex();
    for family in Family::ALL {
        let model = test_model(family, 33, &device);
        let counted: usize = named_weights(&model).iter().map(|(_, data)| data.num_elements()).sum();
        assert_eq!(model.config().num_parameters(), counted as u64, "{family:?}");
    }
}

#[test]
fn truncated_file_is_reported() {
    let device = Device::flex();
    let dir = TempDir::new("truncated");
    checkpoint::save(&test_model(Family::Llama, 34, &device), &dir.0).expect("save");
    let path = dir.0.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&path).expect("read weights");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate weights");

    match checkpoint::load(&dir.0, &device) {
        Err(ModelError::CorruptCheckpoint { path: reported, .. }) => assert_eq!(reported, path),
        other => panic!("expected a corrupt-checkpoint error, got {other:?}"),
    }

    std::fs::write(&path, b"not a safetensors file").expect("overwrite weights");
    assert!(matches!(checkpoint::load(&dir.0, &device), Err(ModelError::CorruptCheckpoint { .. })));
}

#[test]
fn shape_mismatch_names_the_key() {
    let device = Device::flex();
    let dir = TempDir::new("shape-mismatch");
    checkpoint::save(&test_model(Family::Llama, 35, &device), &dir.0).expect("save");

    // Claim a wider MLP than the saved weights have.
    let mut config = tiny_config(Family::Llama).to_model_config();
    config.intermediate_size = 32;
    std::fs::write(dir.0.join(CONFIG_FILE), serde_json::to_string(&config).expect("json")).expect("write config");

    match checkpoint::load(&dir.0, &device) {
        Err(ModelError::ShapeMismatch { key, expected, found, .. }) => {
            assert_eq!(key, "model.layers.0.mlp.gate_proj.weight");
            assert_eq!(expected, vec![32, 16]);
            assert_eq!(found, vec![24, 16]);
        }
        other => panic!("expected a shape mismatch, got {other:?}"),
    }
}

#[test]
fn missing_key_is_reported() {
    let device = Device::flex();
    let dir = TempDir::new("missing-key");
    checkpoint::save(&test_model(Family::Llama, 36, &device), &dir.0).expect("save");

    // Rewrite the weights without `lm_head.weight`.
    let path = dir.0.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&path).expect("read weights");
    let tensors = SafeTensors::deserialize(&bytes).expect("valid file");
    let remaining: Vec<(String, TensorView)> =
        tensors.tensors().into_iter().filter(|(name, _)| name != "lm_head.weight").collect();
    let rewritten = safetensors::serialize(remaining, None).expect("serialize");
    std::fs::write(&path, rewritten).expect("write weights");

    match checkpoint::load(&dir.0, &device) {
        Err(ModelError::MissingTensor { key, .. }) => assert_eq!(key, "lm_head.weight"),
        other => panic!("expected a missing-tensor error, got {other:?}"),
    }
}

#[test]
fn missing_directory_is_an_io_error() {
    let device = Device::flex();
    let dir = TempDir::new("missing-directory");
    let result = checkpoint::load(&dir.0.join("absent"), &device);
    assert!(matches!(result, Err(ModelError::Io { .. })), "{result:?}");
}

#[test]
fn bf16_checkpoint_loads() {
    let device = Device::flex();
    let dir = TempDir::new("bf16");
    let model = test_model(Family::Gemma, 37, &device);
    checkpoint::save(&model, &dir.0).expect("save");

    // Rewrite every tensor as bfloat16, the dtype most published checkpoints use.
    let path = dir.0.join(WEIGHTS_FILE);
    let converted: Vec<(String, burn::tensor::TensorData)> = named_weights(&model)
        .into_iter()
        .map(|(key, data)| (key, data.convert_dtype(burn::tensor::DType::BF16)))
        .collect();
    let views: Vec<(String, TensorView)> = converted
        .iter()
        .map(|(key, data)| {
            let view =
                TensorView::new(safetensors::Dtype::BF16, data.shape().to_vec(), data.as_bytes()).expect("valid view");
            (key.clone(), view)
        })
        .collect();
    std::fs::write(&path, safetensors::serialize(views, None).expect("serialize")).expect("write weights");

    let loaded = checkpoint::load(&dir.0, &device).expect("load bf16");
    let expected = logits(&model, &device);
    let actual = logits(&loaded, &device);
    for (expected, actual) in expected.iter().flatten().zip(actual.iter().flatten()) {
        let diff = common::max_abs_diff(expected, actual);
        // bfloat16 keeps 8 significant bits. With these weights the logits moved by about 0.012
        // when this test was written, so 0.2 leaves room and still catches a wrong byte layout.
        assert!(diff < 0.2, "logits differ by {diff}");
        assert!(diff > 0.0, "bfloat16 rounding should change the logits slightly");
    }
}
