//! Exports for Python stacks: JSONL and Parquet rows equal the Rust encoding,
//! checked from Python with pyarrow when it is installed.

mod common;

use std::path::Path;
use std::process::Command;

use common::{build_and_read, resolve};
use selfcorrect_data::{ExportFormat, IGNORE_INDEX, SpecialTokens, Tokenizer, encode_record, export};

const DATASET: &str = r#"
task = "mult-3x3"
seed = 4
[splits]
train = 200
validation = 10
test = 10
[eift]
injected_fraction = 0.5
"#;

#[test]
fn jsonl_export_matches_the_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let records = build_and_read(&resolve(DATASET, &[]), dir.path());
    let tokenizer =
        Tokenizer::char_level_for_records(&records, "Ah! I made a mistake.", &SpecialTokens::default()).unwrap();
    let out = dir.path().join("train.tokens.jsonl");
    let summary = export(&dir.path().join("train.jsonl"), &tokenizer, ExportFormat::Jsonl, &out).unwrap();
    assert_eq!(summary.records, 200);

    let text = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<serde_json::Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(rows.len(), 200);
    let mut loss_tokens = 0;
    for (row, record) in rows.iter().zip(&records) {
        let example = encode_record(record, &tokenizer).unwrap();
        assert_eq!(row["id"], record.id.as_str());
        assert_eq!(row["input_ids"], serde_json::json!(example.input_ids));
        assert_eq!(row["labels"], serde_json::json!(example.labels()));
        assert_eq!(row["attention_mask"], serde_json::json!(vec![1; example.input_ids.len()]));
        loss_tokens += example.labels().iter().filter(|label| **label != IGNORE_INDEX).count();

        // Label counts follow the segments: one label per loss character plus EOS.
        let loss_chars: usize =
            record.segments.iter().filter(|segment| segment.loss).map(|segment| segment.text.chars().count()).sum();
        let eos = usize::from(record.segments.last().unwrap().loss);
        let labelled = example.labels().iter().filter(|label| **label != IGNORE_INDEX).count();
        assert_eq!(labelled, loss_chars + eos, "{}", record.id);
    }
    assert_eq!(summary.loss_tokens, loss_tokens);
    assert!(ExportFormat::Jsonl == "jsonl".parse().unwrap());
    assert!("csv".parse::<ExportFormat>().unwrap_err().to_string().contains("\"jsonl\" or \"parquet\""));
}

fn pyarrow_available() -> bool {
    Command::new("python3").args(["-c", "import pyarrow"]).output().is_ok_and(|output| output.status.success())
}

#[test]
fn parquet_export_reads_back_in_python() {
    let dir = tempfile::tempdir().unwrap();
    let records = build_and_read(&resolve(DATASET, &[]), dir.path());
    let tokenizer =
        Tokenizer::char_level_for_records(&records, "Ah! I made a mistake.", &SpecialTokens::default()).unwrap();
    let out = dir.path().join("train.parquet");
    let summary = export(&dir.path().join("train.jsonl"), &tokenizer, ExportFormat::Parquet, &out).unwrap();
    assert_eq!(summary.records, 200);
    assert!(std::fs::metadata(&out).unwrap().len() > 0);

    // The same export twice gives the same bytes.
    let again = dir.path().join("again.parquet");
    export(&dir.path().join("train.jsonl"), &tokenizer, ExportFormat::Parquet, &again).unwrap();
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&again).unwrap());

    // The Rust masks, dumped for the Python side.
    let rows: Vec<serde_json::Value> = records[..200]
        .iter()
        .map(|record| {
            let example = encode_record(record, &tokenizer).unwrap();
            serde_json::json!({"id": record.id, "input_ids": example.input_ids, "labels": example.labels()})
        })
        .collect();
    let expected = dir.path().join("expected.json");
    std::fs::write(&expected, serde_json::to_string(&serde_json::json!({ "rows": rows })).unwrap()).unwrap();

    if !pyarrow_available() {
        eprintln!("SKIPPED parquet_export_reads_back_in_python: python3 cannot import pyarrow (pip install pyarrow)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/check_export.py");
    let output = Command::new("python3").arg(&script).arg(&out).arg(&expected).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "check_export.py failed:\n{stdout}{stderr}");
    assert!(stdout.contains("200 rows match"), "{stdout}");

    // The script notices a label that differs by one position.
    let mut shifted = rows.clone();
    let labels = shifted[3]["labels"].as_array_mut().unwrap();
    labels.rotate_left(1);
    std::fs::write(&expected, serde_json::to_string(&serde_json::json!({ "rows": shifted })).unwrap()).unwrap();
    let output = Command::new("python3").arg(&script).arg(&out).arg(&expected).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "check_export.py accepted shifted labels");
    assert!(stdout.contains("labels differ"), "{stdout}");
}
