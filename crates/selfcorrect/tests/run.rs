//! `selfcorrect run` on the tiny preset: the whole pipeline, its report, and
//! reuse of finished stages.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn selfcorrect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_selfcorrect")).args(args).output().expect("the binary runs")
}

fn run(config: &str, out: &Path) -> String {
    let output = selfcorrect(&["run", config, "--out", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// Every number a results file holds, in each format the report prints.
fn result_numbers(value: &serde_json::Value, out: &mut HashSet<String>) {
    match value {
        serde_json::Value::Number(n) => {
            let x = n.as_f64().unwrap();
            out.insert(format!("{x:.3}"));
            out.insert(format!("{x:.0}"));
            out.insert(format!("{:.1}", x * 100.0));
            out.insert(format!("{:+.1}", x * 100.0));
            if let Some(i) = n.as_u64() {
                out.insert(i.to_string());
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| result_numbers(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| result_numbers(v, out)),
        _ => {}
    }
}

#[test]
fn tiny_run_writes_a_report_from_its_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let log = run("tiny", &out);
    assert!(log.contains("7 stages, 7 to run, 0 reused"), "{log}");

    let markdown = fs::read_to_string(out.join("report.md")).unwrap();
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    let results: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    for heading in [
        "## Findings",
        "## Accuracy",
        "## mult-2x2 / llama",
        "### Free rollouts",
        "### On-policy-error prefills",
        "### Training",
        "## Resolved config",
    ] {
        assert!(markdown.contains(heading), "missing {heading}");
    }
    assert_eq!(html.matches("<svg").count(), 4);
    for plot in [
        "accuracy.svg",
        "mult-2x2-llama-error-kinds.svg",
        "mult-2x2-llama-prefill-rates.svg",
        "mult-2x2-llama-training.svg",
    ] {
        assert!(out.join("plots").join(plot).exists(), "{plot}");
    }

    // Every number in the report body is one of the saved results, once the
    // names, times and versions it quotes are taken out.
    let mut allowed = HashSet::new();
    result_numbers(&results, &mut allowed);
    let body = markdown.split("## Resolved config").next().unwrap();
    let env = &results["environment"];
    let mut text = body.to_string();
    for literal in [
        env["started"].as_str().unwrap(),
        env["finished"].as_str().unwrap(),
        env["cpu"].as_str().unwrap(),
        env["os"].as_str().unwrap(),
        env["selfcorrect_version"].as_str().unwrap(),
        env["burn_version"].as_str().unwrap(),
        "mult-2x2",
        "95%",
        ".svg",
    ] {
        text = text.replace(literal, " ");
    }
    let mut number = String::new();
    let mut unexplained = Vec::new();
    for ch in text.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_digit() || (ch == '.' && !number.is_empty()) || ((ch == '+' || ch == '-') && number.is_empty()) {
            number.push(ch);
            continue;
        }
        let token = number.trim_end_matches('.').trim_start_matches(['+', '-']).to_string();
        let signed = number.trim_end_matches('.').to_string();
        if !token.is_empty() && !allowed.contains(&token) && !allowed.contains(&signed) {
            unexplained.push(signed);
        }
        number.clear();
    }
    assert!(unexplained.is_empty(), "numbers not in results.json: {unexplained:?}");

    // `report` rebuilds the same Markdown from the saved results.
    fs::remove_file(out.join("report.md")).unwrap();
    let rebuilt = selfcorrect(&["report", out.to_str().unwrap()]);
    assert!(rebuilt.status.success());
    assert_eq!(fs::read_to_string(out.join("report.md")).unwrap(), markdown);
}

#[test]
fn interrupted_and_changed_runs_reuse_finished_stages() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    run("tiny", &out);

    // Nothing changed: everything is reused.
    assert!(run("tiny", &out).contains("7 stages, 0 to run, 7 reused"));

    // A run killed during its last stage left no record for it.
    fs::remove_file(out.join("stages/eval-eift-mult-2x2-llama/stage.json")).unwrap();
    let log = run("tiny", &out);
    assert!(log.contains("7 stages, 1 to run, 6 reused"), "{log}");
    assert!(log.contains("[7/7] eval-eift-mult-2x2-llama: running"), "{log}");

    // A changed fine-tuning stage reruns with everything after it.
    let preset = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../presets/tiny.toml")).unwrap();
    let changed = preset.replace("[finetune]\nsteps = 2", "[finetune]\nsteps = 3");
    assert_ne!(changed, preset);
    let path = dir.path().join("changed.toml");
    fs::write(&path, changed).unwrap();
    let log = run(path.to_str().unwrap(), &out);
    assert!(log.contains("7 stages, 4 to run, 3 reused"), "{log}");
    assert!(log.contains("base-mult-2x2-llama: reused"), "{log}");
}

#[test]
fn invalid_experiment_config_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let preset = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../presets/tiny.toml")).unwrap();
    for (from, to, needle) in [
        ("families = [\"llama\"]", "families = [\"gpt2\"]", "families = \"gpt2\""),
        ("tasks = [\"mult-2x2\"]", "tasks = [\"mult-0x2\"]", "invalid task 'mult-0x2'"),
        ("problems = 4", "problems = 0", "eval.problems"),
        ("[eval]", "[eval]\ntemperature = 1.0", "unknown field `temperature`"),
        ("name = \"tiny\"", "", "name is missing"),
    ] {
        let path = dir.path().join("bad.toml");
        fs::write(&path, preset.replace(from, to)).unwrap();
        let output = selfcorrect(&["run", path.to_str().unwrap(), "--out", dir.path().join("x").to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2));
        let message = String::from_utf8_lossy(&output.stderr);
        assert!(message.contains(needle), "{needle}: {message}");
    }
}
