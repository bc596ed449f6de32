//! Config validation: each invalid value is rejected with the field, the value
//! and what is allowed; overrides pass the same checks as the file.

use selfcorrect_data::{DataError, DatasetConfig, InjectConfig, Mode};

const BASE: &str = "task = \"mult-3x3\"\n";

fn error_for(toml: &str, overrides: &[&str]) -> String {
    let overrides: Vec<String> = overrides.iter().map(|item| item.to_string()).collect();
    match DatasetConfig::from_toml(toml, &overrides).and_then(|config| config.validate()) {
        Ok(config) => panic!("accepted an invalid config: {config:?}"),
        Err(err) => err.to_string(),
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{message:?} does not mention {part:?}");
    }
}

#[test]
fn defaults_are_the_study_mix() {
    let config = DatasetConfig::from_toml(BASE, &[]).unwrap().validate().unwrap();
    assert_eq!(config.mode, Mode::Eift);
    assert_eq!(config.mix.injected_fraction, 0.2);
    assert_eq!((config.mix.min_errors, config.mix.max_errors), (1, 4));
    assert_eq!(config.mix.recognition, "Ah! I made a mistake.");
    assert!(!config.mix.error_in_loss);
    assert!(!config.mix.omit_recognition);
    assert!(!config.mix.omit_correction);
    // Uniform over the ten synthetic multiplication kinds; after_answer is not synthetic.
    assert_eq!(config.mix.kind_weights.len(), 10);
    assert!(config.mix.kind_weights.iter().all(|(_, weight)| *weight == 1.0));
    assert_eq!(config.mix.weight("after_answer"), 0.0);
}

#[test]
fn overrides_set_nested_fields() {
    let overrides: Vec<String> = ["mode=ft", "eift.kind_weights.carry=2", "splits.test=7", "eift.recognition=Oops."]
        .iter()
        .map(|item| item.to_string())
        .collect();
    let config = DatasetConfig::from_toml(BASE, &overrides).unwrap().validate().unwrap();
    assert_eq!(config.mode, Mode::Ft);
    assert_eq!(config.test, 7);
    assert_eq!(config.mix.recognition, "Oops.");
    assert_eq!(config.mix.weight("carry"), 2.0);
    assert_eq!(config.mix.weight("product_digit"), 0.0);
}

#[test]
fn unknown_task_is_rejected() {
    assert_mentions(&error_for("task = \"division-3\"\n", &[]), &["`task`", "division-3", "mult-AxB", "sudoku-4x4"]);
    assert_mentions(&error_for(BASE, &["task=mult-0x3"]), &["`task`", "mult-0x3", "from 1 to 9"]);
}

#[test]
fn unknown_and_non_synthetic_kinds_are_rejected() {
    let message = error_for(BASE, &["eift.kind_weights.borrow=1"]);
    assert_mentions(&message, &["`eift.kind_weights`", "borrow", "product_digit", "final_answer"]);
    let message = error_for(BASE, &["eift.kind_weights.after_answer=1"]);
    assert_mentions(&message, &["`eift.kind_weights`", "after_answer"]);
    // A Sudoku kind is unknown to multiplication.
    assert_mentions(&error_for(BASE, &["eift.kind_weights.invalid_move=1"]), &["invalid_move"]);
}

#[test]
fn bad_weights_are_rejected() {
    let message = error_for(BASE, &["eift.kind_weights.carry=-0.5"]);
    assert_mentions(&message, &["`eift.kind_weights.carry`", "-0.5", "finite weight >= 0"]);
    let message = error_for(BASE, &["eift.kind_weights.carry=nan"]);
    assert_mentions(&message, &["`eift.kind_weights.carry`", "NaN"]);
    let message = error_for(BASE, &["eift.kind_weights.carry=0", "eift.kind_weights.shift=0.0"]);
    assert_mentions(&message, &["`eift.kind_weights`", "all zero", "positive weight", "carry"]);
}

#[test]
fn fractions_outside_unit_interval_are_rejected() {
    for value in ["1.5", "-0.1", "nan"] {
        let message = error_for(BASE, &[&format!("eift.injected_fraction={value}")]);
        assert_mentions(&message, &["`eift.injected_fraction`", "[0, 1]"]);
    }
}

#[test]
fn empty_or_negative_count_ranges_are_rejected() {
    let message = error_for(BASE, &["eift.min_errors=3", "eift.max_errors=2"]);
    assert_mentions(&message, &["`eift.max_errors`", "= 2", "eift.min_errors (3)", "not empty"]);
    assert_mentions(&error_for(BASE, &["eift.min_errors=0"]), &["`eift.min_errors`", ">= 1"]);
    assert_mentions(&error_for(BASE, &["splits.train=-5"]), &["`splits.train`", "-5", "from 0 to"]);
    assert_mentions(&error_for(BASE, &["splits.test=100000000000"]), &["`splits.test`", "100000000000", "in memory"]);
    let message = error_for(BASE, &["splits.train=0", "splits.validation=0", "splits.test=0"]);
    assert_mentions(&message, &["`splits`", "at least one split"]);
}

#[test]
fn mode_and_recognition_are_checked() {
    assert_mentions(&error_for(BASE, &["mode=sft"]), &["`mode`", "sft", "\"ft\" or \"eift\""]);
    let message = error_for(BASE, &["eift.kind_draw=random"]);
    assert_mentions(&message, &["`eift.kind_draw`", "random", "\"per_position\" or \"kind_first\""]);
    assert_mentions(&error_for(BASE, &["eift.recognition=\"  \""]), &["`eift.recognition`", "non-empty"]);
    // Without a recognition phrase in the layout, the phrase is not needed.
    let overrides = vec!["eift.recognition=\"\"".to_string(), "eift.omit_recognition=true".to_string()];
    assert!(DatasetConfig::from_toml(BASE, &overrides).unwrap().validate().is_ok());
}

#[test]
fn unknown_fields_and_bad_overrides_are_rejected() {
    let message = error_for("task = \"mult-3x3\"\n[eift]\ninjected_share = 0.3\n", &[]);
    assert_mentions(&message, &["injected_share"]);
    let message = error_for(BASE, &["eift.max_error=3"]);
    assert_mentions(&message, &["max_error"]);
    let message = error_for(BASE, &["mode"]);
    assert_mentions(&message, &["key.path=value"]);
    let message = error_for(BASE, &["task.name=x"]);
    assert_mentions(&message, &["`task` is not a table"]);
    assert!(matches!(InjectConfig::from_toml("task = \"mult-3x3\"\n", &[]), Err(DataError::ConfigSyntax(_))));
}

#[test]
fn config_files_are_read_with_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dataset.toml");
    std::fs::write(&path, "task = \"sudoku-4x4\"\n[splits]\ntrain = 5\n").unwrap();
    let config = DatasetConfig::from_path(&path, &["seed=9".to_string()]).unwrap();
    assert_eq!(config.task, "sudoku-4x4");
    assert_eq!(config.seed, 9);
    assert_eq!(config.splits.train, 5);

    std::fs::write(&path, "task = \"sudoku-4x4\"\nsplits = 3 4\n").unwrap();
    let message = DatasetConfig::from_path(&path, &[]).unwrap_err().to_string();
    assert!(message.contains("dataset.toml"), "{message}");
    let missing = DatasetConfig::from_path(&dir.path().join("missing.toml"), &[]).unwrap_err().to_string();
    assert!(missing.contains("missing.toml"), "{missing}");
}
