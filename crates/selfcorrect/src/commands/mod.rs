pub mod check;
pub mod data;
pub mod generate;
pub mod show;
pub mod train;
