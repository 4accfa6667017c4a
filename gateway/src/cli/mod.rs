//! Command-line tools beside `serve`.

pub mod audit;
pub mod operate;
pub mod plugin;
pub mod send;
