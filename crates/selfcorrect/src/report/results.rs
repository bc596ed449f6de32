//! The saved results of a run (`results.json`), from which every number in the
//! report is taken.

use selfcorrect_eval::{Metrics, PairedDifference};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub name: String,
    /// The resolved experiment config, as TOML.
    pub config: String,
    pub environment: Environment,
    pub cells: Vec<CellResults>,
}

/// The machine and software versions of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub selfcorrect_version: String,
    pub burn_version: String,
    pub os: String,
    pub cpu: String,
    pub cores: usize,
    /// Start and end times in UTC, RFC 3339.
    pub started: String,
    pub finished: String,
    pub wall_seconds: f64,
}

/// One task and model family: the FT and EIFT arms trained from the same base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResults {
    pub task: String,
    pub family: String,
    pub parameters: u64,
    pub arms: Vec<ArmResults>,
    /// Injected errors per kind in the EIFT training data.
    pub synthetic_mix: Vec<(String, u64)>,
    /// EIFT accuracy minus FT accuracy on the same test problems.
    pub accuracy_difference: Option<PairedDifference>,
    /// Coverage of the errors mined from the reference model by the synthetic error models.
    pub coverage: CoverageSummary,
}

impl CellResults {
    pub fn arm(&self, name: &str) -> Option<&ArmResults> {
        self.arms.iter().find(|arm| arm.arm == name)
    }
}

/// One trained model, evaluated three ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmResults {
    /// "ft" or "eift".
    pub arm: String,
    /// Free rollouts on test problems.
    pub rollouts: Metrics,
    /// Continuations of golden prefixes that end in a synthetic wrong step.
    pub synthetic_prefill: Metrics,
    /// Continuations of the reference model's own first wrong steps.
    pub on_policy_prefill: Metrics,
    pub training_curve: Vec<CurvePoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub step: u64,
    pub loss: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageSummary {
    /// On-policy errors mined.
    pub mined: u64,
    /// Of those, errors whose kind the synthetic models produce.
    pub kind_in_taxonomy: u64,
    /// Errors whose prefix is exactly the golden prefix, so a position is known.
    pub aligned: u64,
    /// Of the aligned errors, those whose exact wrong step the synthetic model writes.
    pub exact_step: u64,
}
