//! Config parsing, validation and presets.

use selfcorrect_model::config::{Activation, Family, ModelConfig};
use selfcorrect_model::{ModelError, Preset};

/// A trimmed Qwen2.5-0.5B `config.json`, including fields this crate does not read.
const QWEN2_JSON: &str = r#"{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 24,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}"#;

fn qwen2() -> ModelConfig {
    ModelConfig::from_json(QWEN2_JSON).expect("valid json")
}

fn expect_invalid(config: &ModelConfig, expected_field: &str) {
    match config.validate() {
        Err(ModelError::InvalidConfig { field, .. }) => assert_eq!(field, expected_field),
        other => panic!("expected an invalid `{expected_field}`, got {other:?}"),
    }
}

#[test]
fn hugging_face_config_resolves() {
    let config = qwen2().validate().expect("valid config");
    assert_eq!(config.family, Family::Qwen2);
    assert_eq!(config.head_dim, 64);
    assert_eq!(config.num_key_value_heads, 2);
    assert!(config.tie_word_embeddings);
    assert!(config.qkv_bias);
    assert!(!config.o_bias);
    assert_eq!(config.activation, Activation::Silu);
    // Qwen2.5-0.5B has about 494M parameters.
    let count = config.num_parameters();
    assert!((490_000_000..500_000_000).contains(&count), "{count}");
}

#[test]
fn family_defaults_resolve() {
    let mut llama = qwen2();
    llama.model_type = "llama".to_string();
    llama.tie_word_embeddings = None;
    llama.hidden_act = None;
    let resolved = llama.validate().expect("valid");
    assert!(!resolved.tie_word_embeddings);
    assert!(!resolved.qkv_bias);

    let mut gemma = llama.clone();
    gemma.model_type = "gemma".to_string();
    gemma.hidden_act = Some("gelu".to_string());
    let resolved = gemma.validate().expect("valid");
    assert!(resolved.tie_word_embeddings);
    assert_eq!(resolved.activation, Activation::GeluTanh);
}

#[test]
fn invalid_fields_are_named() {
    let mut config = qwen2();
    config.model_type = "gpt2".to_string();
    expect_invalid(&config, "model_type");

    let mut config = qwen2();
    config.num_key_value_heads = Some(4);
    expect_invalid(&config, "num_key_value_heads");

    let mut config = qwen2();
    config.hidden_size = 900;
    expect_invalid(&config, "hidden_size");

    let mut config = qwen2();
    config.head_dim = Some(63);
    expect_invalid(&config, "head_dim");

    let mut config = qwen2();
    config.rms_norm_eps = 0.0;
    expect_invalid(&config, "rms_norm_eps");

    let mut config = qwen2();
    config.vocab_size = 0;
    expect_invalid(&config, "vocab_size");

    let mut config = qwen2();
    config.use_sliding_window = Some(true);
    expect_invalid(&config, "use_sliding_window");

    let mut config = qwen2();
    config.rope_scaling = Some(serde_json::json!({"type": "linear", "factor": 2.0}));
    expect_invalid(&config, "rope_scaling");

    let mut config = qwen2();
    config.hidden_act = Some("relu".to_string());
    expect_invalid(&config, "hidden_act");
}

#[test]
fn error_message_names_value_and_range() {
    let mut config = qwen2();
    config.num_key_value_heads = Some(4);
    let message = config.validate().expect_err("invalid").to_string();
    assert!(message.contains("num_key_value_heads"), "{message}");
    assert!(message.contains('4'), "{message}");
    assert!(message.contains("divisor of num_attention_heads (14)"), "{message}");
}

#[test]
fn resolved_config_round_trips_through_json() {
    let resolved = qwen2().validate().expect("valid");
    let json = serde_json::to_string(&resolved.to_model_config()).expect("serialize");
    let reparsed = ModelConfig::from_json(&json).expect("parse").validate().expect("valid");
    assert_eq!(reparsed, resolved);
}

#[test]
fn presets_span_half_to_thirty_million() {
    // Non-embedding parameters, as the preset table states them.
    let expected = [
        (Preset::Tiny, 400_000, 600_000),
        (Preset::Small, 1_800_000, 2_200_000),
        (Preset::Base, 7_000_000, 9_000_000),
        (Preset::Large, 26_000_000, 31_000_000),
    ];
    for family in Family::ALL {
        for (preset, low, high) in expected {
            let config = preset.resolve(family, 256).expect("valid preset");
            let embeddings = if config.tie_word_embeddings { 1 } else { 2 } * 256 * config.hidden_size as u64;
            let count = config.num_parameters() - embeddings;
            assert!((low..high).contains(&count), "{family:?} {preset}: {count}");
        }
    }
    assert_eq!("base".parse::<Preset>().expect("known preset"), Preset::Base);
    assert!("huge".parse::<Preset>().is_err());
}
