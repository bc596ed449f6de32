//! `selfcorrect run`: the FT-versus-EIFT study as a chain of cached stages,
//! then the report.

pub mod config;
pub mod plan;
mod runner;

pub use runner::{RunOptions, run_experiment};
