//! Dataset building end to end: record structure, injected errors re-detected
//! by the verifiers, split disjointness, ablation layouts and determinism.

mod common;

use std::collections::HashSet;

use common::{build_and_read, resolve, trace_text};
use selfcorrect_data::inject::{build_segments, plan_errors};
use selfcorrect_data::{InjectConfig, Role, inject, read_records, write_jsonl};
use selfcorrect_tasks::{DEFAULT_RECOGNITION, Rng, task_by_name};

const EIFT_ALL_INJECTED: &str = r#"
task = "mult-3x3"
seed = 3
[splits]
train = 150
validation = 30
test = 30
[eift]
injected_fraction = 1.0
"#;

#[test]
fn records_have_the_documented_layout() {
    let dir = tempfile::tempdir().unwrap();
    let config = resolve(EIFT_ALL_INJECTED, &[]);
    for record in build_and_read(&config, dir.path()) {
        record.validate().unwrap();
        let roles: Vec<Role> = record.segments.iter().map(|segment| segment.role).collect();
        assert_eq!(roles[0], Role::Prompt, "{}", record.id);
        assert!(!record.segments[0].loss);
        assert_eq!(record.meta.errors, roles.iter().filter(|role| **role == Role::Error).count());
        assert!((1..=4).contains(&record.meta.errors), "{}", record.id);
        for (index, segment) in record.segments.iter().enumerate() {
            match segment.role {
                Role::Error => {
                    assert!(!segment.loss);
                    assert!(segment.kind.is_some());
                    assert_eq!(record.segments[index + 1].role, Role::Recognition);
                    assert_eq!(record.segments[index + 1].text, format!("{DEFAULT_RECOGNITION}\n"));
                    assert_eq!(record.segments[index + 2].role, Role::Correction);
                }
                Role::Prompt => assert_eq!(index, 0),
                _ => assert!(segment.loss, "{} segment {index}", record.id),
            }
        }
        // Without the error and recognition segments the text is the golden trace.
        let task = task_by_name(&record.task).unwrap();
        let problem = task.load(&record.problem).unwrap();
        let golden: String = problem.golden_steps().iter().map(|step| format!("{step}\n")).collect();
        let kept: String = record.segments[1..]
            .iter()
            .filter(|segment| !matches!(segment.role, Role::Error | Role::Recognition))
            .map(|segment| segment.text.as_str())
            .collect();
        assert_eq!(kept, golden, "{}", record.id);
        assert_eq!(record.segments[0].text, problem.prompt());
    }
}

/// Checks that the verifier, reading the full record text with earlier errors
/// and their recognitions, reports every injected error on its own line with
/// its kind, and that the trace scores 1.0 because each recognition retracts its error.
fn assert_errors_redetected(task_name: &str, records: &[selfcorrect_data::Record]) {
    let task = task_by_name(task_name).unwrap();
    let mut errors = 0;
    for record in records {
        let problem = task.load(&record.problem).unwrap();
        let annotation = problem.annotate(&trace_text(record), DEFAULT_RECOGNITION);
        // Each segment after the prompt is one line of the verifier's input.
        for (line, segment) in record.segments[1..].iter().enumerate() {
            if segment.role == Role::Error {
                errors += 1;
                let report = annotation.steps.iter().find(|step| step.line == line).unwrap();
                assert_eq!(report.verdict.error_kind(), segment.kind.as_deref(), "{} line {line}", record.id);
                assert!(report.retracted, "{} line {line}", record.id);
            }
        }
        assert_eq!(annotation.score, 1.0, "{}", record.id);
    }
    assert!(errors > 0, "{task_name}: no errors injected");
}

#[test]
fn injected_errors_are_redetected_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let records = build_and_read(&resolve(EIFT_ALL_INJECTED, &[]), dir.path());
    assert_errors_redetected("mult-3x3", &records);

    let dir = tempfile::tempdir().unwrap();
    let sudoku = resolve(EIFT_ALL_INJECTED, &["task=sudoku-4x4", "splits.train=100"]);
    let records = build_and_read(&sudoku, dir.path());
    assert_errors_redetected("sudoku-4x4", &records);
}

#[test]
fn errors_at_first_and_last_step() {
    let task = task_by_name("mult-2x2").unwrap();
    let mix = selfcorrect_data::MixConfig::default().validate(task.as_ref()).unwrap();
    let mut seen_first = 0;
    let mut seen_last = 0;
    for index in 0..40 {
        let problem = task.generate(1, index).unwrap();
        let golden = problem.golden_steps();
        let last = golden.len() - 1;
        // Ask for an error at every step, so the first and the last are both used.
        let plan = plan_errors(problem.as_ref(), &golden, &mix, golden.len(), &mut Rng::new(index));
        let positions: Vec<usize> = plan.errors.iter().map(|error| error.position).collect();
        if positions.first() == Some(&0) {
            seen_first += 1;
        }
        if positions.last() == Some(&last) {
            seen_last += 1;
            assert_eq!(plan.errors.last().unwrap().kind, "final_answer");
        }
        let segments = build_segments(&problem.prompt(), &golden, Some((&plan.errors, &mix)));
        assert_eq!(segments[1].role, if positions.first() == Some(&0) { Role::Error } else { Role::Step });
        let tail: Vec<Role> = segments.iter().rev().take(3).map(|segment| segment.role).collect();
        if positions.last() == Some(&last) {
            assert_eq!(tail, [Role::Correction, Role::Recognition, Role::Error]);
        } else {
            assert_eq!(tail[0], Role::Answer);
        }

        let record = selfcorrect_data::Record {
            id: format!("edge/{index}"),
            task: "mult-2x2".into(),
            problem: problem.to_json(),
            segments,
            meta: selfcorrect_data::Meta { seed: 1, index, errors: plan.errors.len(), split: None },
        };
        assert_errors_redetected("mult-2x2", std::slice::from_ref(&record));
    }
    assert_eq!(seen_first, 40, "the first step of mult-2x2 admits a product_digit error");
    assert_eq!(seen_last, 40, "the answer line admits a final_answer error");
}

#[test]
fn held_out_problems_stay_out_of_train() {
    // mult-2x2 has 8100 problems, so 3000 training draws meet held-out ones.
    let toml = r#"
task = "mult-2x2"
mode = "ft"
seed = 11
[splits]
train = 3000
validation = 400
test = 400
"#;
    let config = resolve(toml, &[]);
    let splits = selfcorrect_data::generate_splits(&config).unwrap();
    let problems = |records: &[selfcorrect_data::Record]| -> HashSet<String> {
        records.iter().map(|record| record.problem.to_string()).collect()
    };
    let train = problems(&splits.train);
    let validation = problems(&splits.validation);
    let test = problems(&splits.test);
    assert_eq!(train.intersection(&test).count(), 0);
    assert_eq!(train.intersection(&validation).count(), 0);
    assert_eq!(validation.intersection(&test).count(), 0);
    assert_eq!(splits.train.len(), 3000);
    assert!(splits.stats.train.held_out_problems_skipped > 0, "the test must exercise the skip");
    assert!(splits.train.iter().all(|record| record.meta.errors == 0));
}

#[test]
fn split_seeds_are_hashed_not_offset() {
    let config = resolve(EIFT_ALL_INJECTED, &[]);
    let next = resolve(EIFT_ALL_INJECTED, &["seed=4"]);
    let splits = selfcorrect_data::generate_splits(&config).unwrap();
    let next_splits = selfcorrect_data::generate_splits(&next).unwrap();
    let seeds: HashSet<u64> =
        [&splits.train, &splits.validation, &splits.test].iter().map(|records| records[0].meta.seed).collect();
    assert_eq!(seeds.len(), 3);
    for (a, b) in splits.train.iter().zip(&next_splits.train[1..]) {
        assert_ne!(a.problem, b.problem, "seed 4 replays seed 3 shifted by one");
    }
}

#[test]
fn too_few_problems_is_an_error() {
    // mult-1x1 has 81 problems; 2000 test draws take all of them, so train finds none.
    let config =
        resolve("task = \"mult-1x1\"\nmode = \"ft\"\n[splits]\ntrain = 100\nvalidation = 0\ntest = 2000\n", &[]);
    let Err(error) = selfcorrect_data::generate_splits(&config) else {
        panic!("train should run out of problems");
    };
    let message = error.to_string();
    assert!(message.contains("too few distinct problems"), "{message}");
    assert!(message.contains("splits.train"), "{message}");
}

#[test]
fn ablations_change_the_layout() {
    let task = task_by_name("mult-3x3").unwrap();
    let problem = task.generate(2, 0).unwrap();
    let golden = problem.golden_steps();
    let base = selfcorrect_data::MixConfig::default();
    let layout = |mix: selfcorrect_data::MixConfig| {
        let mix = mix.validate(task.as_ref()).unwrap();
        let plan = plan_errors(problem.as_ref(), &golden, &mix, 1, &mut Rng::new(5));
        build_segments(&problem.prompt(), &golden, Some((&plan.errors, &mix)))
    };
    let roles_and_loss = |segments: &[selfcorrect_data::Segment]| -> Vec<(Role, bool)> {
        let error = segments.iter().position(|segment| segment.role == Role::Error).unwrap();
        segments[error..].iter().take(3).map(|segment| (segment.role, segment.loss)).collect()
    };

    let standard = layout(base.clone());
    assert_eq!(
        roles_and_loss(&standard)[..],
        [(Role::Error, false), (Role::Recognition, true), (Role::Correction, true)]
    );
    let in_loss = layout(selfcorrect_data::MixConfig { error_in_loss: true, ..base.clone() });
    assert_eq!(roles_and_loss(&in_loss)[..2], [(Role::Error, true), (Role::Recognition, true)]);
    let no_recognition = layout(selfcorrect_data::MixConfig { omit_recognition: true, ..base.clone() });
    assert_eq!(roles_and_loss(&no_recognition)[..2], [(Role::Error, false), (Role::Correction, true)]);
    let no_correction = layout(selfcorrect_data::MixConfig { omit_correction: true, ..base.clone() });
    let after = roles_and_loss(&no_correction);
    assert_eq!(after[..2], [(Role::Error, false), (Role::Recognition, true)]);
    assert_ne!(after.get(2).map(|item| item.0), Some(Role::Correction));
    assert_eq!(no_correction.len() + 1, standard.len());

    let custom = layout(selfcorrect_data::MixConfig { recognition: "Wait, that is wrong.".into(), ..base });
    assert!(custom.iter().any(|segment| segment.text == "Wait, that is wrong.\n"));
}

#[test]
fn same_config_gives_identical_files() {
    let config = resolve(EIFT_ALL_INJECTED, &["eift.injected_fraction=0.5"]);
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    selfcorrect_data::build_dataset(&config, first.path()).unwrap();
    selfcorrect_data::build_dataset(&config, second.path()).unwrap();
    let files = ["train.jsonl", "validation.jsonl", "test.jsonl", "stats.json", "config.toml"];
    for file in files {
        let a = std::fs::read(first.path().join(file)).unwrap();
        let b = std::fs::read(second.path().join(file)).unwrap();
        assert!(!a.is_empty(), "{file} is empty");
        assert!(a == b, "{file} differs between two builds");
    }

    // The saved resolved config rebuilds the same dataset.
    let saved = std::fs::read_to_string(first.path().join("config.toml")).unwrap();
    let third = tempfile::tempdir().unwrap();
    selfcorrect_data::build_dataset(&resolve(&saved, &[]), third.path()).unwrap();
    for file in files {
        let a = std::fs::read(first.path().join(file)).unwrap();
        let c = std::fs::read(third.path().join(file)).unwrap();
        assert!(a == c, "{file} differs when rebuilt from the saved config");
    }
    let leftovers: Vec<_> = std::fs::read_dir(first.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn inject_reads_generated_problems() {
    let dir = tempfile::tempdir().unwrap();
    let task = task_by_name("mult-3x3").unwrap();
    let lines: Vec<serde_json::Value> = (0..60)
        .map(|index| {
            let problem = task.generate(9, index).unwrap();
            serde_json::json!({
                "id": format!("mult-3x3/9/{index}"),
                "task": "mult-3x3",
                "problem": problem.to_json(),
                "prompt": problem.prompt(),
                "trace": problem.golden_steps(),
                "answer": problem.answer(),
                "meta": {"seed": 9, "index": index},
            })
        })
        .collect();
    let input = dir.path().join("golden.jsonl");
    write_jsonl(&input, &lines).unwrap();

    let config = InjectConfig::from_toml("seed = 1\n[eift]\ninjected_fraction = 1.0\n", &[]).unwrap();
    let output = inject(&input, &config).unwrap();
    assert_eq!(output.records.len(), 60);
    assert_eq!(output.stats.injected, 60);
    assert_eq!(output.records[7].id, "mult-3x3/9/7");
    assert_eq!(output.records[7].meta.index, 7);
    assert_errors_redetected("mult-3x3", &output.records);

    let out = dir.path().join("injected.jsonl");
    write_jsonl(&out, &output.records).unwrap();
    assert_eq!(read_records(&out).unwrap(), output.records);

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"task\": \"mult-3x3\", \"problem\": {\"a\": 12, \"b\": 345}}\n").unwrap();
    let message = inject(&bad, &config).unwrap_err().to_string();
    assert!(message.contains("bad.jsonl:1"), "{message}");
    assert!(message.contains("3 digits"), "{message}");
}
