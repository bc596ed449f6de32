//! AdamW for transformer training: weight decay on weight matrices, none on norm scales and
//! biases.

use burn::module::{Module, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::prelude::*;

/// Builds AdamW over `module` with decoupled weight decay `weight_decay` on every parameter of
/// rank 2 or more, and no decay on rank-1 parameters (norm scales and biases).
///
/// `config`'s own weight decay is replaced. NOTE: the no-decay group lists parameter ids, and a
/// module loaded again gets new ids, so build the optimiser for the module instance it steps.
pub fn adamw(config: &AdamWConfig, weight_decay: f32, module: &impl Module) -> ModuleOptimizer {
    let decayed = config.clone().with_weight_decay(weight_decay);
    let undecayed = config.clone().with_weight_decay(0.0);
    decayed.init().with_group(no_decay_group(module), undecayed.build(), None)
}

/// Returns the group of `module`'s rank-1 parameters: norm scales and biases.
pub fn no_decay_group(module: &impl Module) -> ParamGroup {
    let mut collector = RankOneIds::default();
    module.visit(&mut collector);
    ParamGroup::from_ids(collector.ids)
}

#[derive(Default)]
struct RankOneIds {
    ids: Vec<ParamId>,
}

impl ModuleVisitor for RankOneIds {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if D == 1 {
            self.ids.push(param.id);
        }
    }
}
