//! The real binary, run in temporary folders.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use selfcorrect_tasks::{Rng, task_by_name};

fn selfcorrect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_selfcorrect")).args(args).stdin(Stdio::null()).output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn generate_is_byte_identical_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("golden.jsonl");
    let path_text = path.to_str().unwrap();
    let first = selfcorrect(&["generate", "--task", "sudoku-4x4", "--count", "50", "--seed", "7", "--out", path_text]);
    assert!(first.status.success(), "{}", stderr(&first));
    let second = selfcorrect(&["generate", "--task", "sudoku-4x4", "--count", "50", "--seed", "7"]);
    assert_eq!(fs::read(&path).unwrap(), second.stdout);
    assert_eq!(stdout(&second).lines().count(), 50);
    // Only the final file is left: the temporary name was renamed.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn generate_record_fields() {
    let output = selfcorrect(&["generate", "--task", "mult-4x4", "--count", "1", "--seed", "3", "--start", "12"]);
    let record: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(record["id"], "mult-4x4/3/12");
    assert_eq!(record["task"], "mult-4x4");
    assert_eq!(record["meta"]["index"], 12);
    let (a, b) = (record["problem"]["a"].as_u64().unwrap(), record["problem"]["b"].as_u64().unwrap());
    assert_eq!(record["answer"], (a * b).to_string());
    let trace = record["trace"].as_array().unwrap();
    assert_eq!(trace.last().unwrap(), &format!("answer={}", a * b));
    assert_eq!(record["prompt"], format!("{a}*{b}\n"));
}

#[test]
fn bad_task_names_exit_2_with_one_line() {
    for (task, needle) in [
        ("mult-0x4", "from 1 to 9"),
        ("mult-10x2", "from 1 to 9"),
        ("chess", "unknown task 'chess'"),
        ("sudoku-5x5", "4x4 or 9x9"),
        ("sudoku-4x4-g99", "from 4 to 15"),
    ] {
        let output = selfcorrect(&["generate", "--task", task, "--count", "1"]);
        assert_eq!(output.status.code(), Some(2), "{task}");
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(message.contains(needle), "{task}: {message}");
    }
}

fn write_records(path: &Path, lines: &[String]) {
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn check_annotates_good_lines_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("outputs.jsonl");
    let annotated = dir.path().join("annotated.jsonl");
    let task = task_by_name("mult-3x3").unwrap();
    let problem = task.generate(0, 0).unwrap();
    let golden = problem.golden_steps().join("\n");
    let record = |output: &str| {
        serde_json::json!({"task": "mult-3x3", "problem": problem.to_json(), "output": output, "extra": 5}).to_string()
    };
    let lines = vec![
        record(&golden),
        "{not json".to_string(),
        serde_json::json!({"task": "mult-3x3", "problem": {"a": 1, "b": 2}, "output": ""}).to_string(),
        serde_json::json!({"task": "mult-3x3", "problem": problem.to_json()}).to_string(),
        record("4*3+0=12\nno idea\nanswer=1"),
    ];
    write_records(&input, &lines);

    let output = selfcorrect(&["check", input.to_str().unwrap(), "--out", annotated.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("line 2: invalid JSON"), "{message}");
    assert!(
        message.contains("line 3: invalid problem for task mult-3x3: a = 1 must have exactly 3 digits"),
        "{message}"
    );
    assert!(message.contains("line 4: record has no \"output\" field"), "{message}");
    assert!(message.contains("accuracy             0.5000  (1/2)"), "{message}");

    let records: Vec<serde_json::Value> =
        fs::read_to_string(&annotated).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 5);
    assert_eq!(records[0]["annotation"]["score"], 1.0);
    assert_eq!(records[0]["extra"], 5, "fields of the input record are kept");
    assert_eq!(records[1]["line"], 2);
    assert!(records[1]["error"].as_str().unwrap().contains("invalid JSON"));
    let steps = records[4]["annotation"]["steps"].as_array().unwrap();
    assert_eq!(steps[1]["verdict"], "unparseable");
    assert_eq!(records[4]["annotation"]["score"], 0.0);
}

#[test]
fn check_rejects_task_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("outputs.jsonl");
    write_records(
        &input,
        &[serde_json::json!({"task": "mult-2x2", "problem": {"a": 10, "b": 20}, "output": ""}).to_string()],
    );
    let output = selfcorrect(&["check", "--task", "mult-3x3", input.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("record is for task mult-2x2, but --task is mult-3x3"));
}

#[test]
fn check_survives_arbitrary_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("outputs.jsonl");
    let mut rng = Rng::new(5);
    let alphabet: Vec<char> = "0123456789*+=prcs{}answer \n!Ah.\u{e9}\u{1F600}\t-,".chars().collect();
    let mut lines = Vec::new();
    for index in 0..300 {
        let (task, problem) = if index % 2 == 0 {
            ("mult-2x3", task_by_name("mult-2x3"))
        } else {
            ("sudoku-4x4", task_by_name("sudoku-4x4"))
        };
        let problem = problem.unwrap().generate(9, index).unwrap();
        let length = rng.below(200) as usize;
        let text: String = (0..length).map(|_| *rng.choose(&alphabet).unwrap()).collect();
        lines.push(serde_json::json!({"task": task, "problem": problem.to_json(), "output": text}).to_string());
    }
    write_records(&input, &lines);
    let output = selfcorrect(&["check", input.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), 300);
}

#[test]
fn check_puzzle_exit_codes() {
    let cases = [
        ("1..4..12.1..43..", 0, "solve it in 9 placements"),
        ("................", 2, "several solutions"),
        ("11..............", 2, "contradictory givens"),
        ("123", 2, "has 3 characters"),
        ("1..4..12.1..43.x", 2, "character 'x' at position 16"),
        ("1..5..12.1..43..", 2, "character '5' at position 4"),
        ("12.....4..3.....", 2, "has no solution"),
        ("8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4..", 1, "stall"),
    ];
    for (puzzle, code, needle) in cases {
        let output = selfcorrect(&["check", "--puzzle", puzzle]);
        assert_eq!(output.status.code(), Some(code), "{puzzle}");
        let text = stdout(&output) + &stderr(&output);
        assert!(text.contains(needle), "{puzzle}: {text}");
    }
    let trace = stdout(&selfcorrect(&["check", "--task", "sudoku-4x4", "--puzzle", "1..4..12.1..43.."]));
    assert!(trace.contains("r1c2{2}=2"), "{trace}");
    assert!(trace.trim_end().ends_with("answer=1234341221434321"), "{trace}");
    let wrong_size = selfcorrect(&["check", "--task", "sudoku-9x9", "--puzzle", "1..4..12.1..43.."]);
    assert_eq!(wrong_size.status.code(), Some(2));
}

#[test]
fn show_prints_prompt_trace_and_answer() {
    let output = selfcorrect(&["show", "--task", "mult-2x2", "--seed", "3", "--index", "0"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.contains("83*46"), "{text}");
    assert!(text.contains("golden trace (12 steps)"), "{text}");
    assert!(text.contains("answer: 3818"), "{text}");
}

#[test]
fn check_reports_invalid_utf8_line_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("outputs.jsonl");
    let good = r#"{"task":"mult-1x1","problem":{"a":3,"b":4},"output":"x"}"#;
    let mut bytes = format!("{good}\n").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe not text\n");
    bytes.extend_from_slice(format!("{good}\n").as_bytes());
    fs::write(&input, bytes).unwrap();
    let output = selfcorrect(&["check", input.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("line 2: line is not valid UTF-8"));
    assert_eq!(stdout(&output).lines().count(), 3, "the third line is still annotated");
}

#[test]
fn huge_split_is_rejected_not_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    let output = selfcorrect(&[
        "dataset",
        "--task",
        "mult-2x2",
        "--set",
        "splits.train=100000000000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("splits.train"), "{}", stderr(&output));
}

#[test]
fn error_causes_are_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let output = selfcorrect(&["sample", "--model", dir.path().to_str().unwrap(), "--task", "mult-2x2"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert_eq!(message.matches("No such file or directory").count(), 1, "{message}");
}

#[test]
fn invalid_flag_values_name_the_flag() {
    let cases: [(&[&str], &str); 4] = [
        (&["sample", "--model", "missing", "--task", "mult-2x2", "--top-p", "2"], "--top-p"),
        (&["sample", "--model", "missing", "--task", "mult-2x2", "--temperature", "-1"], "--temperature"),
        (&["sample", "--model", "missing", "--task", "mult-2x2", "--temperature", "inf"], "--temperature"),
        (&["export", "records.jsonl", "--format", "csv", "--out", "x"], "--format"),
    ];
    for (args, flag) in cases {
        let output = selfcorrect(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(stderr(&output).contains(flag), "{args:?}: {}", stderr(&output));
    }
}
