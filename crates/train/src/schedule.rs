//! Learning-rate schedule: linear warm-up, then cosine decay to a floor.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub peak: f64,
    pub floor: f64,
    pub warmup_steps: u64,
    pub total_steps: u64,
}

impl Schedule {
    /// Returns the learning rate of optimiser step `step` (0-based): `peak * (step + 1) / warmup_steps`
    /// during warm-up, then a half cosine from `peak` at the end of warm-up to `floor` at the
    /// last step.
    pub fn learning_rate(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay_steps = self.total_steps.saturating_sub(self.warmup_steps).max(1);
        let progress = ((step - self.warmup_steps) as f64 / decay_steps as f64).min(1.0);
        self.floor + 0.5 * (self.peak - self.floor) * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine() {
        let schedule = Schedule { peak: 1e-3, floor: 1e-4, warmup_steps: 10, total_steps: 110 };
        assert!((schedule.learning_rate(0) - 1e-4).abs() < 1e-15);
        assert!((schedule.learning_rate(9) - 1e-3).abs() < 1e-15);
        assert!((schedule.learning_rate(10) - 1e-3).abs() < 1e-15);
        // Halfway through the decay the cosine term is 0: the mean of peak and floor.
        assert!((schedule.learning_rate(60) - 5.5e-4).abs() < 1e-12);
        assert!((schedule.learning_rate(110) - 1e-4).abs() < 1e-15);
        assert!((schedule.learning_rate(500) - 1e-4).abs() < 1e-15);
    }

    #[test]
    fn no_warmup_starts_at_peak() {
        let schedule = Schedule { peak: 2.0, floor: 0.0, warmup_steps: 0, total_steps: 4 };
        assert_eq!(schedule.learning_rate(0), 2.0);
        assert!(schedule.learning_rate(2) < 2.0);
    }
}
