//! Metrics on hand-built rollouts with known outcomes, for 83 * 46 = 3818.

use selfcorrect_eval::{Metrics, PrefillSource, RolloutEvents, coverage, mine_first_error, synthetic_prefill};
use selfcorrect_tasks::{DEFAULT_RECOGNITION, Problem, Rng, Task, task_by_name};

const GOLDEN: &[&str] = &[
    "6*3+0=18",
    "6*8+1=49",
    "p1=498",
    "4*3+0=12",
    "4*8+1=33",
    "p2=3320",
    "8+0+0=08",
    "9+2+0=11",
    "4+3+1=08",
    "0+3+0=03",
    "s1=3818",
    "answer=3818",
];
const AH: &str = DEFAULT_RECOGNITION;

fn setup() -> (Box<dyn Task>, Box<dyn Problem>) {
    let task = task_by_name("mult-2x2").unwrap();
    let problem = task.load(&serde_json::json!({"a": 83, "b": 46})).unwrap();
    (task, problem)
}

/// The golden lines with `replacement` spliced in at golden step `at`.
fn rollout(at: usize, replacement: &[&str], keep_tail: bool) -> String {
    let mut lines: Vec<&str> = GOLDEN[..at].to_vec();
    lines.extend_from_slice(replacement);
    if keep_tail {
        lines.extend_from_slice(&GOLDEN[at..]);
    }
    lines.join("\n")
}

fn events(text: &str) -> RolloutEvents {
    let (_, problem) = setup();
    RolloutEvents::from_annotation(&problem.annotate(text, AH))
}

#[test]
fn detected_and_corrected_error() {
    let e = events(&rollout(1, &["6*8+0=48", AH], true));
    assert_eq!((e.errors, e.recognised_errors, e.corrected), (1, 1, 1));
    assert_eq!((e.parroted, e.different_wrong, e.false_alarms), (0, 0, 0));
    assert!(e.correct);
    assert!(e.rescued());
}

#[test]
fn parroted_error() {
    let e = events(&rollout(1, &["6*8+0=48", AH, "6*8+0=48"], false));
    assert_eq!((e.errors, e.recognised_errors, e.parroted, e.corrected), (2, 1, 1, 0));
    assert!(!e.correct);
}

#[test]
fn different_wrong_correction() {
    let e = events(&rollout(1, &["6*8+0=48", AH, "6*8+2=50"], false));
    assert_eq!((e.different_wrong, e.parroted, e.corrected), (1, 0, 0));
}

#[test]
fn false_alarm_after_correct_step() {
    let e = events(&rollout(1, &[AH, "6*3+0=18"], true));
    assert_eq!((e.recognitions, e.false_alarms, e.errors), (1, 1, 0));
    assert!(e.correct);
    assert!(!e.rescued());
}

#[test]
fn error_never_flagged() {
    let e = events(&rollout(0, &["6*3+0=19"], false));
    assert_eq!((e.errors, e.recognised_errors, e.recognitions), (1, 0, 0));
    assert_eq!(e.error_kinds, vec![("product_digit".to_string(), 1)]);
}

#[test]
fn propagated_error_is_not_a_new_error() {
    let e = events(&rollout(1, &["6*8+0=48", "p1=488"], false));
    assert_eq!((e.errors, e.propagated), (1, 1));
}

#[test]
fn rollout_cut_off_at_token_limit() {
    let e = events(&rollout(7, &["4+3+"], false));
    assert!(e.no_answer);
    assert!(!e.correct);
    assert_eq!(e.unparseable, 1);
}

#[test]
fn recognition_with_no_step_after() {
    let e = events(&rollout(1, &["6*8+0=48", AH], false));
    assert_eq!((e.recognised_errors, e.no_step_after), (1, 1));
}

#[test]
fn unparseable_text() {
    let e = events("I think the answer is 3818");
    assert_eq!((e.unparseable, e.steps, e.errors), (1, 0, 0));
    assert!(e.no_answer);
}

#[test]
fn metrics_over_known_rollouts() {
    let rollouts = vec![
        events(&rollout(1, &["6*8+0=48", AH], true)), // corrected, right answer
        events(&rollout(1, &["6*8+0=48", AH, "6*8+0=48"], false)), // parroted
        events(&rollout(1, &[AH, "6*3+0=18"], true)), // false alarm, right answer
        events(&rollout(0, &["6*3+0=19"], false)),    // unflagged error
        events(&GOLDEN.join("\n")),                   // clean
    ];
    let metrics = Metrics::from_rollouts(&rollouts, &["product_digit", "carry"], 7);
    assert_eq!(metrics.rollouts, 5);
    assert_eq!((metrics.accuracy.numerator, metrics.accuracy.denominator), (3, 5));
    // Errors: the corrected one, two in the parroted rollout, the unflagged one.
    assert_eq!((metrics.recognition_rate.numerator, metrics.recognition_rate.denominator), (2, 4));
    assert_eq!((metrics.false_alarm_rate.numerator, metrics.false_alarm_rate.denominator), (1, 3));
    assert_eq!((metrics.correction_rate.numerator, metrics.correction_rate.denominator), (1, 2));
    assert_eq!((metrics.parroting_rate.numerator, metrics.parroting_rate.denominator), (1, 2));
    assert_eq!((metrics.accuracy_with_recognition.numerator, metrics.accuracy_with_recognition.denominator), (2, 3));
    assert_eq!(
        (metrics.accuracy_without_recognition.numerator, metrics.accuracy_without_recognition.denominator),
        (1, 2)
    );
    assert_eq!(metrics.rescued.numerator, 1);
    assert_eq!(metrics.error_kinds, vec![("product_digit".to_string(), 1), ("carry".to_string(), 3)]);
    let rate = metrics.recognition_rate;
    assert!(rate.low.unwrap() <= 0.5);
    assert!(rate.high.unwrap() >= 0.5);
}

#[test]
fn metrics_of_no_errors_are_undefined_not_zero() {
    let metrics = Metrics::from_rollouts(&[events(&GOLDEN.join("\n"))], &[], 1);
    assert_eq!(metrics.recognition_rate.value, None);
    assert_eq!(metrics.correction_rate.value, None);
    assert_eq!(metrics.accuracy.value, Some(1.0));
}

#[test]
fn mined_error_is_aligned_and_covered() {
    let (task, problem) = setup();
    let annotation = problem.annotate(&rollout(1, &["6*8+0=48", "p1=488"], false), AH);
    let mined = mine_first_error(task.as_ref(), problem.as_ref(), &annotation).unwrap();
    assert_eq!(mined.prefill.source, PrefillSource::OnPolicy);
    assert_eq!(mined.prefill.kind, "carry");
    assert_eq!(mined.prefill.golden_position, Some(1));
    assert_eq!(mined.prefill.lines, ["6*3+0=18", "6*8+0=48"]);
    let covered = coverage(task.as_ref(), problem.as_ref(), &mined, 3);
    assert!(covered.kind_in_taxonomy);
    assert_eq!(covered.exact_step, Some(true), "a dropped carry is a synthetic carry error");

    // A wrong step the carry model never writes: carry 1 is due, 9 is written,
    // and the value is not b * a + carry.
    let odd = problem.annotate(&rollout(1, &["6*8+9=11"], false), AH);
    let mined = mine_first_error(task.as_ref(), problem.as_ref(), &odd).unwrap();
    assert_eq!(coverage(task.as_ref(), problem.as_ref(), &mined, 3).exact_step, Some(false));
}

#[test]
fn mined_error_after_unreadable_line_is_not_aligned() {
    let (task, problem) = setup();
    let annotation = problem.annotate("hmm\n6*3+0=18\n6*8+0=48", AH);
    let mined = mine_first_error(task.as_ref(), problem.as_ref(), &annotation).unwrap();
    assert_eq!(mined.prefill.golden_position, None);
    assert_eq!(coverage(task.as_ref(), problem.as_ref(), &mined, 3).exact_step, None);
}

#[test]
fn synthetic_prefill_ends_in_its_kind() {
    let (task, problem) = setup();
    let mut rng = Rng::new(1);
    let prefill = synthetic_prefill(task.as_ref(), problem.as_ref(), 4, "carry", &mut rng).unwrap();
    assert_eq!(prefill.lines.len(), 5);
    let annotation = problem.annotate(&prefill.text(), AH);
    assert_eq!(annotation.steps[4].verdict.error_kind(), Some("carry"));
}
