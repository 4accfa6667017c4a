//! Wall-clock time from the gateway.

/// Milliseconds since the Unix epoch, from the host (the system clock outside WebAssembly).
pub fn now_millis() -> u64 {
    #[cfg(target_family = "wasm")]
    {
        crate::bindings::soda::gateway::clock::now_millis()
    }
    #[cfg(not(target_family = "wasm"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}
