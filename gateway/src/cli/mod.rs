//! Command-line tools beside `serve`.

pub mod operate;
pub mod plugin;
