//! The realised error mix of a built dataset against its config.
//!
//! Tolerances are 5 standard errors, computed from the sample sizes. Under the
//! normal approximation a correct sampler fails one check with probability
//! about 6e-7. The data are deterministic, so a pass is reproducible.

mod common;

use common::resolve;
use selfcorrect_data::generate_splits;

/// Standard errors allowed between a realised and an expected value.
const TOLERANCE_SE: f64 = 5.0;

/// Checks a binomial share: with `n` independent draws of probability `p`, the
/// share has standard error sqrt(p (1 - p) / n).
fn assert_share(label: &str, successes: u64, n: u64, p: f64) {
    let share = successes as f64 / n as f64;
    let standard_error = (p * (1.0 - p) / n as f64).sqrt();
    eprintln!("{label}: realised {share:.4} expected {p:.4} (n = {n}, se = {standard_error:.4})");
    assert!(
        (share - p).abs() <= TOLERANCE_SE * standard_error,
        "{label}: realised share {share:.4}, expected {p} within {TOLERANCE_SE} x {standard_error:.4}"
    );
}

#[test]
fn study_mix_share_and_error_counts() {
    let config = resolve("task = \"mult-4x4\"\nseed = 21\n[splits]\ntrain = 4000\nvalidation = 0\ntest = 0\n", &[]);
    let stats = generate_splits(&config).unwrap().stats.train;
    assert_eq!(stats.records, 4000);
    assert_eq!(stats.shortfall, 0, "mult-4x4 traces have room for 4 errors");
    assert_eq!(stats.rejected_by_verifier, 0, "every synthetic error should verify");
    assert_share("share of records with errors", stats.injected, stats.records, 0.2);

    // Error counts are uniform over 1..=4 among injected records.
    assert_eq!(stats.records_by_error_count.get(&0).copied(), Some(stats.clean));
    for count in 1..=4 {
        let records = stats.records_by_error_count.get(&count).copied().unwrap_or(0);
        assert_share(&format!("injected records with {count} errors"), records, stats.injected, 0.25);
    }
    assert!(stats.records_by_error_count.keys().all(|count| *count <= 4));
}

#[test]
fn kind_weights_shape_the_kind_mix() {
    let toml = r#"
task = "mult-4x4"
seed = 5
[splits]
train = 1500
validation = 0
test = 0
[eift]
injected_fraction = 1.0
[eift.kind_weights]
carry = 3.0
product_digit = 1.0
add_digit = 1.0
shift = 1.0
final_answer = 2.0
"#;
    let stats = generate_splits(&resolve(toml, &[])).unwrap().stats.train;
    assert_eq!(stats.injected, 1500);
    assert_eq!(stats.shortfall, 0);

    // Each error draws kind k with probability p_i at its position, so the
    // count N_k has mean E_k = sum_i p_i and variance sum_i p_i (1 - p_i) <= E_k.
    // The check uses the bound: |N_k - E_k| <= 5 sqrt(E_k).
    let mut expected_total = 0.0;
    for (kind, &count) in &stats.errors_by_kind {
        let expected = stats.expected_errors_by_kind[kind];
        expected_total += expected;
        eprintln!("kind {kind}: realised {count} expected {expected:.1}");
        assert!(
            (count as f64 - expected).abs() <= TOLERANCE_SE * expected.sqrt().max(1.0),
            "kind {kind}: {count} errors, expected {expected:.1}"
        );
    }
    assert!((expected_total - stats.errors as f64).abs() < 1e-6, "expected counts sum to the error count");
    for kind in ["operand", "summary", "add_carry", "skipped_step", "repeated_step"] {
        assert_eq!(stats.errors_by_kind[kind], 0, "kind {kind} has weight 0");
    }
    // Carry and product_digit errors compete on the same steps (product
    // steps admit both), where carry is drawn with probability 3 / (3 + 1).
    let expected_carry = stats.expected_errors_by_kind["carry"];
    let expected_product = stats.expected_errors_by_kind["product_digit"];
    assert!((expected_carry / (expected_carry + expected_product) - 0.75).abs() < 1e-9);
    let carry = stats.errors_by_kind["carry"] as f64;
    let product = stats.errors_by_kind["product_digit"] as f64;
    assert_share("carry among product-step errors", carry as u64, (carry + product) as u64, 0.75);
}

#[test]
fn kind_first_draw_follows_the_weights() {
    // One error per record, and every listed kind can occur in every mult-4x4
    // trace, so each error's kind is an independent draw from the weights.
    let toml = r#"
task = "mult-4x4"
seed = 6
[splits]
train = 3000
validation = 0
test = 0
[eift]
injected_fraction = 1.0
min_errors = 1
max_errors = 1
kind_draw = "kind_first"
[eift.kind_weights]
carry = 3.0
product_digit = 1.0
add_digit = 1.0
shift = 1.0
final_answer = 2.0
"#;
    let stats = generate_splits(&resolve(toml, &[])).unwrap().stats.train;
    assert_eq!(stats.errors, 3000);
    assert_eq!(stats.shortfall, 0);
    let weights = [("carry", 3.0), ("product_digit", 1.0), ("add_digit", 1.0), ("shift", 1.0), ("final_answer", 2.0)];
    let total: f64 = weights.iter().map(|(_, weight)| weight).sum();
    for (kind, weight) in weights {
        assert_share(&format!("kind {kind}"), stats.errors_by_kind[kind], stats.errors, weight / total);
    }
    assert_eq!(stats.errors_by_kind["operand"], 0);
}

#[test]
fn kind_first_draw_with_several_errors() {
    // With up to 4 errors a kind can run out of steps in a trace (there is one
    // answer line), and is then redrawn, so the check is against the expected
    // counts that account for it, with the bound explained above.
    let toml = r#"
task = "mult-4x4"
seed = 2
[splits]
train = 1000
validation = 0
test = 0
[eift]
injected_fraction = 1.0
kind_draw = "kind_first"
"#;
    let splits = generate_splits(&resolve(toml, &[])).unwrap();
    assert_eq!(splits.train.len(), 1000);
    let stats = splits.stats.train;
    assert_eq!(stats.shortfall, 0);
    for (kind, &count) in &stats.errors_by_kind {
        let expected = stats.expected_errors_by_kind[kind];
        eprintln!("kind_first kind {kind}: realised {count} expected {expected:.1}");
        assert!(
            (count as f64 - expected).abs() <= TOLERANCE_SE * expected.sqrt().max(1.0),
            "kind {kind}: {count} errors, expected {expected:.1}"
        );
    }
    // At most one final-answer error fits in a trace.
    for record in &splits.train {
        let finals = record.segments.iter().filter(|segment| segment.kind.as_deref() == Some("final_answer")).count();
        assert!(finals <= 1, "{}", record.id);
    }
}
