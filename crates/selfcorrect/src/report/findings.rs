//! Findings stated from the numbers, each compared with the published result
//! (Wu, Kapur, Sahai and Russell, 2025: EIFT gives no significant accuracy gain
//! over FT; models that recognise an error often repeat it; correction learned
//! on synthetic errors collapses on the model's own errors).

use selfcorrect_eval::Estimate;

use super::format::{estimate, percent_points};
use super::results::CellResults;

/// Whether two intervals are disjoint. Disjoint 95% intervals imply a
/// difference significant at well below the 5% level, so this test is
/// conservative: it can miss a real difference, not invent one.
fn disjoint(a: &Estimate, b: &Estimate) -> Option<bool> {
    Some(a.high? < b.low? || b.high? < a.low?)
}

pub fn findings(cell: &CellResults) -> Vec<String> {
    let mut out = Vec::new();
    let label = format!("{} / {}", cell.task, cell.family);

    let solved = |arm: &str| cell.arm(arm).map_or(0, |a| a.rollouts.accuracy.numerator);
    match &cell.accuracy_difference {
        Some(_) if solved("ft") == 0 && solved("eift") == 0 => out.push(format!(
            "{label}: neither FT nor EIFT solved any test problem, so their accuracy says nothing about EIFT; \
             train longer (more base and fine-tuning steps) or use a larger model."
        )),
        Some(diff) => {
            let verdict = if diff.significant && diff.difference > 0.0 {
                "a significant gain, which **disagrees** with the published result"
            } else if diff.significant {
                "a significant loss, so EIFT gives no gain here, which **agrees** with the published result"
            } else {
                "not significant, which **agrees** with the published result"
            };
            out.push(format!(
                "{label}: EIFT minus FT accuracy is {} on {} paired problems: {verdict}.",
                percent_points(diff),
                diff.pairs
            ));
        }
        None => out.push(format!("{label}: no paired accuracy difference (an arm is missing).")),
    }

    if let Some(eift) = cell.arm("eift") {
        let parroting = &eift.on_policy_prefill.parroting_rate;
        let verdict = match (parroting.value, parroting.low) {
            (None, _) => "cannot be assessed, as the EIFT model recognised none of the errors".to_string(),
            (Some(_), Some(low)) if low > 0.0 => {
                "parroting is present, which **agrees** with the published result".into()
            }
            _ => "no parroting could be shown, which **disagrees** with the published result".into(),
        };
        out.push(format!(
            "{label}: after recognising an on-policy error, the EIFT model repeated the same wrong step in {}: {verdict}.",
            estimate(parroting)
        ));

        for (measure, synthetic, on_policy) in [
            ("recognition", &eift.synthetic_prefill.recognition_rate, &eift.on_policy_prefill.recognition_rate),
            ("correction", &eift.synthetic_prefill.correction_rate, &eift.on_policy_prefill.correction_rate),
        ] {
            let verdict = match (disjoint(synthetic, on_policy), synthetic.value, on_policy.value) {
                (Some(true), Some(s), Some(o)) if s > o => {
                    "it drops significantly on the model's own errors, which **agrees** with the published result"
                }
                (Some(true), _, _) => {
                    "it rises significantly on the model's own errors, which **disagrees** with the published result"
                }
                (Some(false), _, _) => "the intervals overlap, so no collapse is shown here",
                _ => "it cannot be compared, as a rate is undefined",
            };
            out.push(format!(
                "{label}: EIFT {measure} rate on synthetic prefills {}, on on-policy prefills {}: {verdict}.",
                estimate(synthetic),
                estimate(on_policy)
            ));
        }
    }

    let c = cell.coverage;
    if c.mined > 0 {
        out.push(format!(
            "{label}: of {} mined on-policy errors, {} have a kind the synthetic models produce and {} of {} aligned errors are exact synthetic steps.",
            c.mined, c.kind_in_taxonomy, c.exact_step, c.aligned
        ));
    }
    out
}
