//! Checkpoints: resuming gives the same weights as not stopping, a killed
//! write leaves the last checkpoint loadable, a diverging run stops with its
//! last checkpoint intact, and a wrong vocabulary is rejected.

mod common;

use std::fs;
use std::path::Path;

use burn::tensor::Device;
use selfcorrect_train::checkpoint::{checkpoint_dir, list_checkpoints};
use selfcorrect_train::{TrainConfig, TrainError};

/// A one-layer model small enough for a few steps to take a second.
fn small_config(data: &Path, out: &Path, steps: u64, edit: &[(&str, &str)]) -> TrainConfig {
    let mut text = common::config_text(data, out, "llama", steps)
        .replace("hidden_size = 128", "hidden_size = 32")
        .replace("intermediate_size = 512", "intermediate_size = 64")
        .replace("num_hidden_layers = 2", "num_hidden_layers = 1")
        .replace("batch_size = 32", "batch_size = 4")
        .replace("checkpoint_every = 1000", "checkpoint_every = 3")
        .replace("eval_problems = 64", "eval_problems = 2")
        .replace("max_new_tokens = 160", "max_new_tokens = 8");
    for (from, to) in edit {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    toml::from_str(&text).unwrap()
}

fn weights(dir: &Path) -> Vec<u8> {
    fs::read(dir.join("model.safetensors")).unwrap()
}

#[test]
fn resume_equals_uninterrupted() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::dataset(dir.path(), "mult-1x1", "ft", 60, 4);
    let device = Device::flex();

    let straight = small_config(&data, &dir.path().join("straight"), 6, &[]).validate().unwrap();
    let outcome = selfcorrect_train::train(&straight, &device, &mut |_| {}).unwrap();
    assert_eq!(outcome.steps, 6);

    // Train the second run to the end, then remove its last checkpoint, as if
    // it had been killed after step 3, and start it again.
    let resumed_dir = dir.path().join("resumed");
    let resumed = small_config(&data, &resumed_dir, 6, &[]).validate().unwrap();
    selfcorrect_train::train(&resumed, &device, &mut |_| {}).unwrap();
    fs::remove_dir_all(checkpoint_dir(&resumed_dir, 6)).unwrap();
    assert_eq!(list_checkpoints(&resumed_dir).unwrap(), vec![3]);
    let second = selfcorrect_train::train(&resumed, &device, &mut |_| {}).unwrap();
    assert_eq!(second.resumed_from, Some(3));

    assert_eq!(weights(&checkpoint_dir(&resumed_dir, 6)), weights(&outcome.checkpoint));
    let optimizer = |root: &Path| fs::read(checkpoint_dir(root, 6).join("optimizer.safetensors")).unwrap();
    assert_eq!(optimizer(&resumed_dir), optimizer(&dir.path().join("straight")));
    // The metrics log holds each step once.
    let log = fs::read_to_string(resumed_dir.join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> =
        log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap()).collect();
    let mut unique = steps.clone();
    unique.dedup();
    assert_eq!(steps, unique);
}

#[test]
fn killed_checkpoint_write_leaves_last_loadable() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::dataset(dir.path(), "mult-1x1", "ft", 40, 4);
    let out = dir.path().join("run");
    let config = small_config(&data, &out, 3, &[]).validate().unwrap();
    selfcorrect_train::train(&config, &Device::flex(), &mut |_| {}).unwrap();

    // What a write killed half-way leaves: a temporary folder with a
    // truncated weights file, under a name no reader takes for a checkpoint.
    let partial = out.join("checkpoints").join(".step-00000006.tmp");
    fs::create_dir_all(&partial).unwrap();
    let bytes = weights(&checkpoint_dir(&out, 3));
    fs::write(partial.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();

    assert_eq!(list_checkpoints(&out).unwrap(), vec![3]);
    let model = selfcorrect_model::checkpoint::load(&checkpoint_dir(&out, 3), &Device::flex());
    assert!(model.is_ok(), "{:?}", model.err());

    // A truncated weights file under a final name gives a clear error.
    let broken = dir.path().join("broken");
    fs::create_dir_all(&broken).unwrap();
    fs::copy(checkpoint_dir(&out, 3).join("config.json"), broken.join("config.json")).unwrap();
    fs::write(broken.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let err = selfcorrect_model::checkpoint::load(&broken, &Device::flex()).err().unwrap().to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn diverging_run_stops_and_keeps_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::dataset(dir.path(), "mult-1x1", "ft", 40, 4);
    let out = dir.path().join("run");
    let edits = [
        ("learning_rate = 5e-3", "learning_rate = 1e30"),
        ("warmup_steps = 20", "warmup_steps = 0"),
        ("checkpoint_every = 3", "checkpoint_every = 1"),
    ];
    let config = small_config(&data, &out, 50, &edits).validate().unwrap();
    let err = selfcorrect_train::train(&config, &Device::flex(), &mut |_| {}).unwrap_err();
    assert!(matches!(err, TrainError::NonFiniteLoss { .. }), "{err}");
    assert!(err.to_string().contains("Lower the learning rate"), "{err}");

    let kept = list_checkpoints(&out).unwrap();
    let last = *kept.last().expect("a checkpoint before the divergence");
    assert!(selfcorrect_model::checkpoint::load(&checkpoint_dir(&out, last), &Device::flex()).is_ok());
}

#[test]
fn fine_tuning_rejects_a_wrong_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::dataset(dir.path(), "mult-1x1", "ft", 40, 4);
    let base_dir = dir.path().join("base");
    let base = small_config(&data, &base_dir, 3, &[]).validate().unwrap();
    let outcome = selfcorrect_train::train(&base, &Device::flex(), &mut |_| {}).unwrap();

    // Swap in the tokenizer of a Sudoku dataset, whose vocabulary differs.
    let sudoku = common::dataset(dir.path(), "sudoku-4x4", "ft", 20, 4);
    let records = selfcorrect_data::read_records(&sudoku.join("train.jsonl")).unwrap();
    let special = selfcorrect_data::SpecialTokens::default();
    let other = selfcorrect_data::Tokenizer::char_level_for_records(&records, "x", &special).unwrap();
    other.save(&outcome.checkpoint.join("tokenizer.json")).unwrap();

    let init = format!("size = \"tiny\"\ninit_from = \"{}\"", outcome.checkpoint.display());
    let tuned = small_config(&data, &dir.path().join("tuned"), 3, &[("size = \"tiny\"", &init)]).validate().unwrap();
    let err = selfcorrect_train::train(&tuned, &Device::flex(), &mut |_| {}).unwrap_err();
    assert!(matches!(err, TrainError::VocabularyMismatch { .. }), "{err}");
}

#[test]
fn invalid_config_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("family = \"llama\"", "family = \"gpt\"", "model.family"),
        ("batch_size = 4", "batch_size = 0", "optim.batch_size"),
        ("learning_rate = 5e-3", "learning_rate = -1.0", "optim.learning_rate"),
    ];
    for (from, to, field) in cases {
        let config = small_config(dir.path(), dir.path(), 3, &[(from, to)]);
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains(field), "{err}");
    }
    let unknown = common::config_text(dir.path(), dir.path(), "llama", 3).replace("[optim]", "[optim]\nmomentum = 0.9");
    let err = toml::from_str::<TrainConfig>(&unknown).unwrap_err().to_string();
    assert!(err.contains("momentum"), "{err}");
}
