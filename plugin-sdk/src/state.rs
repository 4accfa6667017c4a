//! State that outlives one call: a small key-value store private to this plugin and tenant.
//!
//! The gateway keeps it in its database and commits a call's writes together with the actions
//! the call returns. Keys are at most 256 bytes, values at most 64 KiB, and a (tenant, plugin)
//! pair holds at most 1,000 keys. Outside WebAssembly (unit tests) it is an in-memory map per
//! thread.
//!
//! ```
//! use soda_gateway_plugin_sdk::state;
//!
//! state::set("incident:196", "SODA-69").unwrap();
//! assert_eq!(state::get_string("incident:196").as_deref(), Some("SODA-69"));
//! state::delete("incident:196");
//! assert_eq!(state::get("incident:196"), None);
//! ```

use crate::Error;

/// The value under `key`, if any.
pub fn get(key: &str) -> Option<Vec<u8>> {
    imp::get(key)
}

/// The value under `key` as UTF-8 text, if any (and if it is text).
pub fn get_string(key: &str) -> Option<String> {
    get(key).and_then(|bytes| String::from_utf8(bytes).ok())
}

/// Stores `value` under `key`; the error names the limit that was exceeded.
pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
    imp::set(key, value.as_ref()).map_err(Error::new)
}

/// Removes `key`, if present.
pub fn delete(key: &str) {
    imp::delete(key)
}

/// Removes `key` and answers the value it had, if any: for markers such as "I raised this
/// alert", set once and consumed once.
///
/// ```
/// use soda_gateway_plugin_sdk::state;
///
/// state::set("alert:c1", "open").unwrap();
/// assert_eq!(state::take("alert:c1").as_deref(), Some(&b"open"[..]));
/// assert_eq!(state::take("alert:c1"), None);
/// ```
pub fn take(key: &str) -> Option<Vec<u8>> {
    let value = get(key)?;
    delete(key);
    Some(value)
}

#[cfg(target_family = "wasm")]
mod imp {
    use crate::bindings::soda::gateway::state;

    pub fn get(key: &str) -> Option<Vec<u8>> {
        state::get(key)
    }

    pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
        state::set(key, value)
    }

    pub fn delete(key: &str) {
        state::delete(key)
    }
}

#[cfg(not(target_family = "wasm"))]
mod imp {
    use std::cell::RefCell;
    use std::collections::HashMap;

    thread_local! {
        static STATE: RefCell<HashMap<String, Vec<u8>>> = RefCell::new(HashMap::new());
    }

    pub fn get(key: &str) -> Option<Vec<u8>> {
        STATE.with(|state| state.borrow().get(key).cloned())
    }

    pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
        STATE.with(|state| state.borrow_mut().insert(key.to_owned(), value.to_vec()));
        Ok(())
    }

    pub fn delete(key: &str) {
        STATE.with(|state| state.borrow_mut().remove(key));
    }
}
