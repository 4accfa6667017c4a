//! The check alerts this plugin triggered and has not resolved yet, kept in the plugin's state
//! (one key per alert: its dedup key), so that a passing check resolves only an open alert.

use soda_gateway_plugin_sdk::{state, warn};

/// Remembers that the alert under `dedup_key` is open. When the state store refuses (it is
/// full), the alert is still triggered but will not be resolved automatically; that is logged.
pub fn remember(dedup_key: &str) {
    if let Err(e) = state::set(dedup_key, "open") {
        warn!(
            dedup_key = dedup_key,
            error = e,
            "cannot remember the open alert"
        );
    }
}

/// Forgets the alert under `dedup_key`; answers whether it was open.
pub fn take(dedup_key: &str) -> bool {
    let open = state::get(dedup_key).is_some();
    if open {
        state::delete(dedup_key);
    }
    open
}
