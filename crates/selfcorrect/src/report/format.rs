//! Number formats shared by the tables, findings and tests.

use selfcorrect_eval::{Estimate, PairedDifference};

/// Formats a rate with its interval and counts: `0.734 [0.701, 0.765] (734/1000)`,
/// or `n/a (0/0)` when undefined.
pub fn estimate(e: &Estimate) -> String {
    match (e.value, e.low, e.high) {
        (Some(v), Some(low), Some(high)) => {
            format!("{} [{}, {}] ({}/{})", fixed(v), fixed(low), fixed(high), e.numerator, e.denominator)
        }
        _ => format!("n/a ({}/{})", e.numerator, e.denominator),
    }
}

/// Formats a difference of proportions in percentage points with its interval.
pub fn percent_points(d: &PairedDifference) -> String {
    format!("{:+.1} points [{:+.1}, {:+.1}]", d.difference * 100.0, d.low * 100.0, d.high * 100.0)
}

pub fn fixed(value: f64) -> String {
    format!("{value:.3}")
}
