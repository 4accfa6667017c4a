//! Command-line tools beside `serve`.

pub mod audit;
pub mod config;
mod inputs;
pub mod operate;
pub mod plugin;
pub mod plugin_new;
pub mod plugin_run;
pub mod sample_events;
pub mod send;
