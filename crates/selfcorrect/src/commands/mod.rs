pub mod check;
pub mod generate;
pub mod show;
