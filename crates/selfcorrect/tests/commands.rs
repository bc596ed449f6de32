//! dataset, inject, export, train, sample, eval and mine through the real binary.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn selfcorrect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_selfcorrect")).args(args).output().expect("the binary runs")
}

fn ok(args: &[&str]) -> Output {
    let output = selfcorrect(args);
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn dataset_inject_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&first, &second] {
        ok(&[
            "dataset",
            "--task",
            "mult-2x2",
            "--set",
            "splits.train=40",
            "--set",
            "splits.test=8",
            "--set",
            "splits.validation=4",
            "--out",
            path(out),
        ]);
    }
    for file in ["train.jsonl", "validation.jsonl", "test.jsonl", "stats.json", "config.toml"] {
        assert_eq!(fs::read(first.join(file)).unwrap(), fs::read(second.join(file)).unwrap(), "{file}");
    }
    assert_eq!(fs::read_to_string(first.join("train.jsonl")).unwrap().lines().count(), 40);

    let golden = dir.path().join("golden.jsonl");
    ok(&["generate", "--task", "sudoku-4x4", "--count", "5", "--out", path(&golden)]);
    let injected = dir.path().join("injected.jsonl");
    ok(&["inject", path(&golden), "--set", "eift.injected_fraction=1", "--out", path(&injected)]);
    let records: Vec<serde_json::Value> =
        fs::read_to_string(&injected).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 5);
    for record in &records {
        let roles: Vec<&str> =
            record["segments"].as_array().unwrap().iter().map(|s| s["role"].as_str().unwrap()).collect();
        assert!(roles.contains(&"error"), "{roles:?}");
        assert!(roles.contains(&"recognition"), "{roles:?}");
    }

    let parquet = dir.path().join("train.parquet");
    ok(&["export", path(&first.join("train.jsonl")), "--format", "parquet", "--out", path(&parquet)]);
    assert!(fs::metadata(&parquet).unwrap().len() > 0);
    assert!(dir.path().join("tokenizer.json").exists());

    let bad =
        selfcorrect(&["dataset", "--task", "mult-2x2", "--set", "eift.injected_fraction=1.5", "--out", path(&first)]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("injected_fraction"));
}

/// Trains the tiny preset's base model through `selfcorrect run` and returns its checkpoint.
fn tiny_checkpoint(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    ok(&["run", "tiny", "--out", path(&run)]);
    let record: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run.join("stages/ft-mult-2x2-llama/stage.json")).unwrap()).unwrap();
    PathBuf::from(record["checkpoint"].as_str().unwrap())
}

#[test]
fn sample_eval_compare_and_mine() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = tiny_checkpoint(dir.path());
    let model = path(&checkpoint);

    let sampled = ok(&["sample", "--model", model, "--task", "mult-2x2", "--count", "3", "--max-new-tokens", "30"]);
    assert_eq!(String::from_utf8_lossy(&sampled.stdout).lines().count(), 3);

    let (first, second) = (dir.path().join("e1"), dir.path().join("e2"));
    for out in [&first, &second] {
        ok(&[
            "eval",
            "--model",
            model,
            "--task",
            "mult-2x2",
            "--count",
            "6",
            "--max-new-tokens",
            "40",
            "--out",
            path(out),
        ]);
    }
    // Evaluation is deterministic for a fixed seed.
    for file in ["rollouts.jsonl", "synthetic.jsonl", "on_policy.jsonl", "mined.jsonl"] {
        assert_eq!(fs::read(first.join(file)).unwrap(), fs::read(second.join(file)).unwrap(), "{file}");
    }
    let summary = |dir: &Path| -> serde_json::Value {
        let mut value: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        value.as_object_mut().unwrap().remove("tokens_per_second");
        value
    };
    assert_eq!(summary(&first), summary(&second));
    assert_eq!(summary(&first)["problems"], 6);
    assert_eq!(fs::read_to_string(first.join("synthetic.jsonl")).unwrap().lines().count(), 6);

    let compared = ok(&["eval", "--compare", path(&first), path(&second)]);
    let text = String::from_utf8_lossy(&compared.stdout);
    assert!(text.contains("+0.0 points [+0.0, +0.0] (not significant, 6 problems)"), "{text}");
    assert!(text.contains("| accuracy |"), "{text}");

    let other = dir.path().join("e3");
    ok(&[
        "eval",
        "--model",
        model,
        "--task",
        "mult-2x2",
        "--count",
        "4",
        "--max-new-tokens",
        "40",
        "--out",
        path(&other),
    ]);
    let mismatch = selfcorrect(&["eval", "--compare", path(&first), path(&other)]);
    assert_eq!(mismatch.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mismatch.stderr).contains("evaluated on other problems"));

    let mined = dir.path().join("mined.jsonl");
    ok(&[
        "mine",
        "--model",
        model,
        "--task",
        "mult-2x2",
        "--count",
        "6",
        "--max-new-tokens",
        "40",
        "--out",
        path(&mined),
    ]);
    assert!(mined.exists());
}

#[test]
fn model_with_wrong_tokenizer_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = tiny_checkpoint(dir.path());
    let golden = dir.path().join("sudoku");
    ok(&[
        "dataset",
        "--task",
        "sudoku-9x9",
        "--set",
        "splits.train=4",
        "--set",
        "splits.test=2",
        "--set",
        "splits.validation=2",
        "--out",
        path(&golden),
    ]);
    ok(&["export", path(&golden.join("train.jsonl")), "--format", "jsonl", "--out", path(&golden.join("x.jsonl"))]);
    fs::copy(golden.join("tokenizer.json"), checkpoint.join("tokenizer.json")).unwrap();
    let output = selfcorrect(&["sample", "--model", path(&checkpoint), "--task", "mult-2x2", "--count", "1"]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("use the tokenizer saved with the model"), "{message}");
}
