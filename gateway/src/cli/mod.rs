//! Command-line tools beside `serve`.

pub mod audit;
pub mod operate;
pub mod plugin;
pub mod sample_events;
pub mod send;
