//! Structured logging into the gateway's log, tagged with tenant, plugin and event.
//!
//! The macros read like `tracing`'s: fields first (`key = value` uses `Display`, `key = ?value`
//! uses `Debug`), then a `format!` message:
//!
//! ```
//! use soda_gateway_plugin_sdk::log;
//!
//! let url = "https://hooks.example/x";
//! log::info!("sending message");
//! log::warn!(status = 404, url = ?url, "unexpected answer from {}", url);
//! log::info("plain message without fields");
//! log::write(log::Level::Debug, "with fields", &[("key", "value")]);
//! ```
//!
//! Outside WebAssembly (native unit tests) lines go to stderr.

pub use crate::bindings::soda::gateway::log::Level;

#[doc(inline)]
pub use crate::{debug, error, info, trace, warn};

/// Writes one log line with key/value fields.
pub fn write(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    write_owned(level, message, &fields);
}

/// Writes one log line with owned key/value fields (what the macros call).
#[doc(hidden)]
pub fn write_owned(level: Level, message: &str, fields: &[(String, String)]) {
    #[cfg(target_family = "wasm")]
    {
        crate::bindings::soda::gateway::log::write(level, message, fields);
    }
    #[cfg(not(target_family = "wasm"))]
    {
        let fields: String = fields.iter().map(|(k, v)| format!(" {k}={v}")).collect();
        eprintln!("[{level:?}] {message}{fields}");
    }
}

/// Writes `message` at trace level.
pub fn trace(message: &str) {
    write(Level::Trace, message, &[]);
}

/// Writes `message` at debug level.
pub fn debug(message: &str) {
    write(Level::Debug, message, &[]);
}

/// Writes `message` at info level.
pub fn info(message: &str) {
    write(Level::Info, message, &[]);
}

/// Writes `message` at warn level.
pub fn warn(message: &str) {
    write(Level::Warn, message, &[]);
}

/// Writes `message` at error level.
pub fn error(message: &str) {
    write(Level::Error, message, &[]);
}

/// Not public API: the shared body of the level macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __log {
    (@fields $level:expr, [$($acc:tt)*] $key:ident = ? $value:expr, $($rest:tt)+) => {
        $crate::__log!(@fields $level, [$($acc)* (::std::string::String::from(::core::stringify!($key)), ::std::format!("{:?}", $value)),] $($rest)+)
    };
    (@fields $level:expr, [$($acc:tt)*] $key:ident = $value:expr, $($rest:tt)+) => {
        $crate::__log!(@fields $level, [$($acc)* (::std::string::String::from(::core::stringify!($key)), ::std::string::ToString::to_string(&$value)),] $($rest)+)
    };
    (@fields $level:expr, [$($acc:tt)*] $($message:tt)+) => {
        $crate::log::write_owned($level, &::std::format!($($message)+), &[$($acc)*])
    };
}

/// Logs at trace level: `trace!(key = value, key = ?debug_value, "format {}", args)`.
#[macro_export]
macro_rules! trace {
    ($($t:tt)+) => { $crate::__log!(@fields $crate::log::Level::Trace, [] $($t)+) };
}

/// Logs at debug level: `debug!(key = value, key = ?debug_value, "format {}", args)`.
#[macro_export]
macro_rules! debug {
    ($($t:tt)+) => { $crate::__log!(@fields $crate::log::Level::Debug, [] $($t)+) };
}

/// Logs at info level: `info!(key = value, key = ?debug_value, "format {}", args)`.
#[macro_export]
macro_rules! info {
    ($($t:tt)+) => { $crate::__log!(@fields $crate::log::Level::Info, [] $($t)+) };
}

/// Logs at warn level: `warn!(key = value, key = ?debug_value, "format {}", args)`.
#[macro_export]
macro_rules! warn {
    ($($t:tt)+) => { $crate::__log!(@fields $crate::log::Level::Warn, [] $($t)+) };
}

/// Logs at error level: `error!(key = value, key = ?debug_value, "format {}", args)`.
#[macro_export]
macro_rules! error {
    ($($t:tt)+) => { $crate::__log!(@fields $crate::log::Level::Error, [] $($t)+) };
}
