//! The memory cap of one plugin call, counted over the whole component.
//!
//! wasmtime's own `StoreLimits` caps each linear memory on its own, and a component may hold
//! up to 16 of them. [`ComponentLimiter`] adds every memory's and every table's growth to one
//! running total per call, so the cap holds whatever the component is made of.

use wasmtime::ResourceLimiter;

/// Instances, memories and tables one call may create; a component built by the usual
/// toolchains needs a handful of each.
const MAX_INSTANCES: usize = 64;
const MAX_MEMORIES: usize = 16;
const MAX_TABLES: usize = 64;
/// Bytes a table element is counted as (a pointer-sized reference).
const TABLE_ELEMENT_BYTES: usize = 8;

/// Why growth was refused: the call stops with this error.
#[derive(Debug, thiserror::Error)]
#[error("exceeded its memory cap of {} MiB (all memories and tables together)", .0 / (1024 * 1024))]
pub struct MemoryCapExceeded(pub usize);

/// One call's running total of memory and table bytes against its cap.
pub struct ComponentLimiter {
    cap_bytes: usize,
    used_bytes: usize,
}

impl ComponentLimiter {
    /// A limiter that allows `cap_bytes` over all memories and tables of the call.
    pub fn new(cap_bytes: usize) -> Self {
        Self {
            cap_bytes,
            used_bytes: 0,
        }
    }

    fn grow(&mut self, bytes: usize) -> wasmtime::Result<bool> {
        let total = self.used_bytes.saturating_add(bytes);
        if total > self.cap_bytes {
            return Err(MemoryCapExceeded(self.cap_bytes).into());
        }
        self.used_bytes = total;
        Ok(true)
    }
}

impl ResourceLimiter for ComponentLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(desired.saturating_sub(current))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(
            desired
                .saturating_sub(current)
                .saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn growth_of_several_memories_adds_up_to_one_cap() {
        let mut limiter = ComponentLimiter::new(4 * MIB);
        assert!(limiter.memory_growing(0, 2 * MIB, None).unwrap());
        assert!(limiter.memory_growing(0, 2 * MIB, None).unwrap());
        let error = limiter.memory_growing(0, MIB, None).unwrap_err();
        assert!(error.downcast_ref::<MemoryCapExceeded>().is_some());
        assert!(error.to_string().contains("4 MiB"), "{error}");
    }

    #[test]
    fn tables_count_against_the_same_cap() {
        let mut limiter = ComponentLimiter::new(MIB);
        assert!(limiter.memory_growing(0, MIB - 64, None).unwrap());
        assert!(limiter.table_growing(0, 8, None).unwrap());
        assert!(limiter.table_growing(8, 9, None).is_err());
    }
}
