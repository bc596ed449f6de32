//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;

use selfcorrect_data::{DatasetConfig, Record, ResolvedDatasetConfig, build_dataset, read_records};

/// Parses and validates a dataset config, panicking with the error on failure.
pub fn resolve(toml: &str, overrides: &[&str]) -> ResolvedDatasetConfig {
    let overrides: Vec<String> = overrides.iter().map(|item| item.to_string()).collect();
    let config = DatasetConfig::from_toml(toml, &overrides).unwrap_or_else(|err| panic!("{err}"));
    config.validate().unwrap_or_else(|err| panic!("{err}"))
}

/// Builds a dataset into `dir` and reads back all its records, train first.
pub fn build_and_read(config: &ResolvedDatasetConfig, dir: &Path) -> Vec<Record> {
    build_dataset(config, dir).unwrap_or_else(|err| panic!("{err}"));
    let mut records = Vec::new();
    for split in ["train", "validation", "test"] {
        records.extend(read_records(&dir.join(format!("{split}.jsonl"))).unwrap_or_else(|err| panic!("{err}")));
    }
    records
}

/// Joins the lines after the prompt, as the verifier reads them.
pub fn trace_text(record: &Record) -> String {
    record.segments[1..].iter().map(|segment| segment.text.as_str()).collect()
}
