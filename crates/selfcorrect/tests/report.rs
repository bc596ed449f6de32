//! `selfcorrect report` on a results file built from real verifier annotations.

use std::fs;
use std::process::Command;

use selfcorrect_eval::{Metrics, RolloutEvents, paired_difference};
use selfcorrect_tasks::{DEFAULT_RECOGNITION, Rng, task_by_name};

/// Rollouts on mult-2x2 problems: clean ones, and ones with a synthetic
/// error at a random step that is flagged and fixed, parroted, or left alone.
fn rollouts(seed: u64, flag_share: f64) -> (Vec<RolloutEvents>, Vec<f64>) {
    let task = task_by_name("mult-2x2").unwrap();
    let mut rng = Rng::new(seed);
    let mut events = Vec::new();
    let mut correct = Vec::new();
    for index in 0..60 {
        let problem = task.generate(4, index).unwrap();
        let golden = problem.golden_steps();
        let position = rng.below(golden.len() as u64 - 1) as usize;
        let mut lines: Vec<String> = golden[..position].to_vec();
        let text = match (index % 3, problem.corrupt_step(position, "product_digit", &mut rng)) {
            (0, _) | (_, None) => golden.join("\n"),
            (1, Some(wrong)) => {
                lines.push(wrong.clone());
                if rng.unit() < flag_share {
                    lines.push(DEFAULT_RECOGNITION.into());
                    lines.push(if rng.unit() < 0.5 { golden[position].clone() } else { wrong });
                }
                lines.extend(golden[position + 1..].iter().cloned());
                lines.join("\n")
            }
            (_, Some(wrong)) => {
                lines.push(wrong);
                lines.join("\n")
            }
        };
        let annotation = problem.annotate(&text, DEFAULT_RECOGNITION);
        correct.push(annotation.score);
        events.push(RolloutEvents::from_annotation(&annotation));
    }
    (events, correct)
}

fn results_json() -> serde_json::Value {
    let kinds: Vec<&str> = task_by_name("mult-2x2").unwrap().error_kinds().iter().map(|k| k.name).collect();
    let (ft_events, ft_correct) = rollouts(1, 0.1);
    let (eift_events, eift_correct) = rollouts(2, 0.8);
    let metrics = |events: &[RolloutEvents]| serde_json::to_value(Metrics::from_rollouts(events, &kinds, 9)).unwrap();
    let curve = |scale: f64| -> Vec<serde_json::Value> {
        (0..20).map(|s| serde_json::json!({"step": s * 10, "loss": scale / (1.0 + s as f64)})).collect()
    };
    let arm = |name: &str, events: &[RolloutEvents], scale: f64| {
        serde_json::json!({
            "arm": name,
            "rollouts": metrics(events),
            "synthetic_prefill": metrics(events),
            "on_policy_prefill": metrics(&events[..30]),
            "training_curve": curve(scale),
        })
    };
    serde_json::json!({
        "name": "fixture",
        "config": "[run]\nname = \"fixture\"\n",
        "environment": {
            "selfcorrect_version": "0.1.0", "burn_version": "0.22.1", "os": "linux", "cpu": "test cpu",
            "cores": 2, "started": "2026-12-04T10:00:00Z", "finished": "2026-12-04T10:05:00Z", "wall_seconds": 300.0
        },
        "cells": [{
            "task": "mult-2x2",
            "family": "llama",
            "parameters": 123456,
            "arms": [arm("ft", &ft_events, 2.0), arm("eift", &eift_events, 2.5)],
            "synthetic_mix": [["product_digit", 40], ["carry", 35], ["shift", 20]],
            "accuracy_difference": paired_difference(&ft_correct, &eift_correct, 3),
            "coverage": {"mined": 30, "kind_in_taxonomy": 28, "aligned": 25, "exact_step": 11}
        }]
    })
}

#[test]
fn report_is_built_from_results() {
    let dir = tempfile::tempdir().unwrap();
    let results = results_json();
    fs::write(dir.path().join("results.json"), serde_json::to_string_pretty(&results).unwrap()).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_selfcorrect")).arg("report").arg(dir.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let markdown = fs::read_to_string(dir.path().join("report.md")).unwrap();
    let html = fs::read_to_string(dir.path().join("report.html")).unwrap();
    for heading in [
        "## Findings",
        "## Accuracy",
        "## mult-2x2 / llama (123456 parameters)",
        "### Free rollouts",
        "### Synthetic-error prefills",
        "### On-policy-error prefills",
        "### Error kinds",
        "### Training",
        "## Resolved config",
    ] {
        assert!(markdown.contains(heading), "missing {heading}");
    }
    for plot in [
        "accuracy.svg",
        "mult-2x2-llama-error-kinds.svg",
        "mult-2x2-llama-prefill-rates.svg",
        "mult-2x2-llama-training.svg",
    ] {
        let svg = fs::read_to_string(dir.path().join("plots").join(plot)).unwrap();
        assert!(svg.starts_with("<svg"), "{plot}");
        assert!(!svg.contains("chart failed"), "{plot}");
        assert!(markdown.contains(&format!("plots/{plot}")), "{plot}");
    }
    // The HTML carries every chart inline and needs no other file.
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(!html.contains("src="));

    // Numbers in the tables are the saved ones.
    let accuracy = &results["cells"][0]["arms"][0]["rollouts"]["accuracy"];
    let expected = format!(
        "{:.3} [{:.3}, {:.3}] ({}/{})",
        accuracy["value"].as_f64().unwrap(),
        accuracy["low"].as_f64().unwrap(),
        accuracy["high"].as_f64().unwrap(),
        accuracy["numerator"],
        accuracy["denominator"]
    );
    assert!(markdown.contains(&format!("| accuracy | {expected} |")), "{expected}");
    assert!(markdown.contains("of 30 mined on-policy errors, 28 have a kind"));
    assert!(markdown.contains("| product_digit |"));
}

#[test]
fn report_rejects_corrupt_results() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("results.json"), "{\"name\": 3").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_selfcorrect")).arg("report").arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("is not a valid results file"), "{message}");
    assert!(!dir.path().join("report.md").exists());
}
