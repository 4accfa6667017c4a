//! The check alerts this plugin created and has not closed yet, kept in the plugin's state
//! (one key per alert: its alias), so that a passing check closes only an open alert.

use soda_gateway_plugin_sdk::{state, warn};

/// Remembers that the alert under `alias` is open. When the state store refuses (it is full),
/// the alert is still created but will not be closed automatically; that is logged.
pub fn remember(alias: &str) {
    if let Err(e) = state::set(alias, "open") {
        warn!(alias = alias, error = e, "cannot remember the open alert");
    }
}

/// Forgets the alert under `alias`; answers whether it was open.
pub fn take(alias: &str) -> bool {
    let open = state::get(alias).is_some();
    if open {
        state::delete(alias);
    }
    open
}
