//! Gradient clipping by the global norm over all parameters.
//!
//! burn's `GradientClipping::Norm` rescales each tensor by its own norm, which changes the
//! direction of the update. Clipping by the global norm keeps the direction.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

use crate::error::{ModelError, Result};

/// Small term added to the norm before dividing, as in PyTorch's `clip_grad_norm_`.
const NORM_EPS: f64 = 1e-6;

/// Rescales the gradients of `module`'s parameters so that their global L2 norm is at most
/// `max_norm`, and returns them with the norm measured before clipping.
///
/// When the norm exceeds `max_norm`, every gradient is multiplied by
/// `max_norm / (norm + 1e-6)`. Otherwise they are returned unchanged. Gradients of parameters
/// that `module` does not contain are left as they are and do not count towards the norm.
///
/// Fails when `max_norm` is not a positive finite number, or when the norm is NaN or infinite
/// (the caller should then skip the optimiser step).
pub fn clip_grad_norm<M: Module>(module: &M, grads: GradientsParams, max_norm: f64) -> Result<(GradientsParams, f64)> {
    if !(max_norm.is_finite() && max_norm > 0.0) {
        return Err(ModelError::InvalidConfig {
            field: "max_norm",
            value: max_norm.to_string(),
            allowed: "a positive finite number".to_string(),
        });
    }

    let norm = global_grad_norm(module, &grads);
    if !norm.is_finite() {
        return Err(ModelError::NonFiniteGradNorm { norm });
    }
    if norm <= max_norm {
        return Ok((grads, norm));
    }

    let mut scaler = GradScaler { grads, scale: max_norm / (norm + NORM_EPS) };
    module.visit(&mut scaler);
    Ok((scaler.grads, norm))
}

/// Returns the L2 norm of all of `module`'s gradients taken together.
pub fn global_grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut summer = SquareSummer { grads, total: None };
    module.visit(&mut summer);
    summer.total.map_or(0.0, |total| total.into_scalar::<f64>().sqrt())
}

struct SquareSummer<'a> {
    grads: &'a GradientsParams,
    /// Sum of squares so far, kept on the device so that reading it back happens once.
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquareSummer<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            let squares = grad.square().sum();
            self.total = Some(match self.total.take() {
                Some(total) => total + squares,
                None => squares,
            });
        }
    }
}

struct GradScaler {
    grads: GradientsParams,
    scale: f64,
}

impl ModuleVisitor for GradScaler {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, grad.mul_scalar(self.scale));
        }
    }
}
