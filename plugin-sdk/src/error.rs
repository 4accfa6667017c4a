//! The error type plugins return, and its conversion into the contract's `plugin-error`.

use core::fmt;

use crate::PluginError;

/// Why a plugin could not handle an event.
///
/// `?` converts [`serde_json::Error`], [`String`] and `&str` into it; the gateway receives the
/// message as the contract's `plugin-error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message the gateway will record.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with what was being done: `"{context}: {message}"`.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self::new(format!("{context}: {}", self.message))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Self::new(error.to_string())
    }
}

impl From<Error> for PluginError {
    fn from(error: Error) -> Self {
        PluginError {
            message: error.message,
        }
    }
}

impl From<PluginError> for Error {
    fn from(error: PluginError) -> Self {
        Self::new(error.message)
    }
}
