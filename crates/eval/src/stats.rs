//! Confidence intervals: Wilson score intervals for proportions, percentile
//! bootstrap over rollouts for ratios of counts, and paired differences.

use selfcorrect_tasks::Rng;
use serde::{Deserialize, Serialize};

/// The two-sided 95% normal quantile, Φ⁻¹(0.975).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Bootstrap resamples per interval. At 2,000 the 2.5% and 97.5% percentiles
/// move by well under a percentage point between seeds for the sample sizes
/// used here.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// A point estimate with a 95% interval. `value` is `None` when the
/// denominator is zero, so an undefined rate is never shown as 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// Events counted in the numerator and the denominator, over all rollouts.
    pub numerator: u64,
    pub denominator: u64,
}

impl Estimate {
    pub fn undefined(numerator: u64, denominator: u64) -> Self {
        Self { value: None, low: None, high: None, numerator, denominator }
    }
}

/// Wilson score interval for `successes` out of `trials` at normal quantile `z`
/// (Wilson 1927; see Newcombe 1998, "Two-sided confidence intervals for the
/// single proportion", Statistics in Medicine 17:857-872, method 3).
pub fn wilson(successes: u64, trials: u64, z: f64) -> Estimate {
    if trials == 0 {
        return Estimate::undefined(successes, trials);
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half_width = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Estimate {
        value: Some(p),
        low: Some((centre - half_width).max(0.0)),
        high: Some((centre + half_width).min(1.0)),
        numerator: successes,
        denominator: trials,
    }
}

/// Ratio of summed counts, sum(numerators) / sum(denominators), with a
/// percentile bootstrap interval that resamples whole units (rollouts), since
/// events within one rollout are not independent. For proportions the interval
/// is widened to contain the pooled Wilson interval.
pub fn bootstrap_ratio(units: &[(u64, u64)], seed: u64) -> Estimate {
    let numerator: u64 = units.iter().map(|u| u.0).sum();
    let denominator: u64 = units.iter().map(|u| u.1).sum();
    if denominator == 0 {
        return Estimate::undefined(numerator, denominator);
    }
    let mut rng = Rng::new(seed);
    let mut ratios = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        let (mut top, mut bottom) = (0u64, 0u64);
        for _ in 0..units.len() {
            let unit = units[rng.below(units.len() as u64) as usize];
            top += unit.0;
            bottom += unit.1;
        }
        // A resample with no events at all has no ratio and is left out.
        if bottom > 0 {
            ratios.push(top as f64 / bottom as f64);
        }
    }
    let (mut low, mut high) = percentile_interval(&mut ratios);

    // With few events or a rate at 0 or 1, the percentile bootstrap collapses
    // to a single point (0/18 gives [0, 0]). Widening to the Wilson interval of
    // the pooled counts keeps the interval from ever being narrower than the
    // one that treats events as independent.
    if numerator <= denominator {
        let pooled = wilson(numerator, denominator, Z_95);
        low = low.zip(pooled.low).map(|(a, b)| a.min(b));
        high = high.zip(pooled.high).map(|(a, b)| a.max(b));
    }
    Estimate { value: Some(numerator as f64 / denominator as f64), low, high, numerator, denominator }
}

/// A paired difference of means between two models on the same problems.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedDifference {
    /// Mean of (b - a) over the pairs.
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    pub pairs: u64,
    /// Whether the 95% interval excludes zero.
    pub significant: bool,
}

/// Difference of means, b minus a, with a percentile bootstrap over pairs.
/// Returns `None` for an empty or unequal-length input.
pub fn paired_difference(a: &[f64], b: &[f64], seed: u64) -> Option<PairedDifference> {
    if a.is_empty() || a.len() != b.len() {
        return None;
    }
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    let n = diffs.len();
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let mut rng = Rng::new(seed);
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| diffs[rng.below(n as u64) as usize]).sum::<f64>() / n as f64)
        .collect();
    let (low, high) = percentile_interval(&mut means);
    let (low, high) = (low.unwrap_or(mean), high.unwrap_or(mean));
    Some(PairedDifference { difference: mean, low, high, pairs: n as u64, significant: low > 0.0 || high < 0.0 })
}

/// Returns the 2.5% and 97.5% percentiles (nearest rank) of `values`.
fn percentile_interval(values: &mut [f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    values.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        let index = (q * values.len() as f64).ceil() as usize;
        values[index.clamp(1, values.len()) - 1]
    };
    (Some(rank(0.025)), Some(rank(0.975)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round4(x: Option<f64>) -> f64 {
        (x.unwrap() * 10_000.0).round() / 10_000.0
    }

    #[test]
    fn wilson_matches_newcombe_table() {
        // Newcombe (1998), Table I, method 3 (score interval without
        // continuity correction), to four decimals.
        let cases =
            [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)];
        for (k, n, low, high) in cases {
            let estimate = wilson(k, n, Z_95);
            assert_eq!(round4(estimate.low), low, "{k}/{n}");
            assert_eq!(round4(estimate.high), high, "{k}/{n}");
        }
    }

    #[test]
    fn wilson_of_nothing_is_undefined() {
        assert_eq!(wilson(0, 0, Z_95).value, None);
    }

    #[test]
    fn bootstrap_ratio_brackets_the_point_estimate() {
        let units: Vec<(u64, u64)> = (0..200).map(|i| (i % 3, 2)).collect();
        let estimate = bootstrap_ratio(&units, 1);
        let value = estimate.value.unwrap();
        assert!((value - 199.0 / 400.0).abs() < 1e-12);
        assert!(estimate.low.unwrap() < value);
        assert!(estimate.high.unwrap() > value);
        // Same seed, same interval.
        assert_eq!(estimate, bootstrap_ratio(&units, 1));
    }

    #[test]
    fn bootstrap_ratio_width_shrinks_like_root_n() {
        // For Bernoulli(0.3) units the standard error is sqrt(0.21 / n), so the
        // 95% interval is about 2 * 1.96 * 0.0458 = 0.18 wide at n = 100.
        let units: Vec<(u64, u64)> = (0..100).map(|i| (u64::from(i % 10 < 3), 1)).collect();
        let estimate = bootstrap_ratio(&units, 4);
        let width = estimate.high.unwrap() - estimate.low.unwrap();
        assert!((0.14..0.22).contains(&width), "width {width}");
    }

    #[test]
    fn bootstrap_ratio_of_zero_events_is_not_a_point() {
        let units: Vec<(u64, u64)> = (0..18).map(|_| (0, 1)).collect();
        let estimate = bootstrap_ratio(&units, 2);
        assert_eq!(estimate.low, Some(0.0));
        assert_eq!(estimate.high, wilson(0, 18, Z_95).high);
        assert!(estimate.high.unwrap() > 0.15);
    }

    #[test]
    fn paired_difference_detects_a_clear_gain() {
        let a: Vec<f64> = (0..100).map(|i| f64::from(u8::from(i % 2 == 0))).collect();
        let b: Vec<f64> = (0..100).map(|i| f64::from(u8::from(i % 10 != 0))).collect();
        let diff = paired_difference(&a, &b, 3).unwrap();
        assert!((diff.difference - 0.4).abs() < 1e-12);
        assert!(diff.significant);
        let same = paired_difference(&a, &a, 3).unwrap();
        assert!(!same.significant);
        assert!(paired_difference(&a, &b[..5], 3).is_none());
    }
}
