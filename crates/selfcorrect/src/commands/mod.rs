pub mod check;
pub mod data;
pub mod eval;
pub mod generate;
pub mod run;
pub mod show;
pub mod train;
