//! Measuring self-correction: per-rollout events from the task verifier's
//! annotations, metrics with confidence intervals, synthetic and on-policy
//! error prefills, and coverage of on-policy errors by the synthetic error
//! models.
//!
//! Sampling rollouts from a model is not here: this crate works on text and
//! annotations, so every metric is testable on hand-built rollouts.

pub mod metrics;
pub mod prefill;
pub mod stats;

pub use metrics::{Metrics, RolloutEvents};
pub use prefill::{Coverage, MinedError, Prefill, PrefillSource, coverage, mine_first_error, synthetic_prefill};
pub use stats::{Estimate, PairedDifference, paired_difference, wilson};
