//! Coroutine stacks: the [`Stack`] contract and the default guarded,
//! pooled implementation.
//!
//! Where a [`DefaultStack`] comes from, fastest first: the creating thread's
//! pool (`pool.rs`), the process-wide cache (`cache.rs`), a slab of stacks
//! of its size (`slab.rs`), whose guard pages are made as [`guard_mode`]
//! says (`guard.rs`). Freed stacks go back the same way; the scavenger
//! (`scavenger.rs`) gives idle ones and empty slabs back to the kernel a few
//! seconds after a surge.

mod cache;
mod guard;
mod mmap;
mod pool;
mod scavenger;
mod slab;

pub use cache::{set_cache_capacity, trim_cache, DEFAULT_CACHE_CAPACITY};
pub use guard::{guard_mode, GuardMode, GUARD_MODE_ENV};
pub use mmap::{DefaultStack, DEFAULT_STACK_SIZE, MIN_STACK_SIZE};
pub use pool::set_pool_capacity;
pub use scavenger::TICK as SCAVENGE_TICK;

/// Where the process's [`DefaultStack`]s stand: a cheap snapshot for metrics
/// (`corio::RuntimeMetrics::stacks`), taken under the slab table's and the
/// cache's locks. Process-wide: stacks are shared by every runtime and thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StackStats {
    /// Kernel mappings holding stacks: slabs with [`GuardMode::Slab`], one per
    /// stack with [`GuardMode::Mapping`] (where each also costs a second
    /// mapping for its guard). These count against `vm.max_map_count`.
    pub mappings: usize,
    /// Address space those mappings reserve, in bytes (not resident memory:
    /// pages are touched on use and given back by the scavenger).
    pub reserved_bytes: usize,
    /// Stacks handed out: running or suspended coroutines, plus those kept
    /// for reuse in a thread's pool or in the process-wide cache.
    pub stacks: usize,
    /// Of those, kept in the process-wide cache (see [`trim_cache`]).
    pub cached: usize,
}

/// A snapshot of the process's stacks (see [`StackStats`]).
pub fn stats() -> StackStats {
    let (mappings, reserved_bytes, stacks) = slab::totals();
    StackStats {
        mappings,
        reserved_bytes,
        stacks,
        cached: cache::CACHE.held(),
    }
}

/// Memory that a coroutine runs on.
///
/// # Safety
/// An implementation guarantees, for as long as the value lives and no matter
/// where it is moved:
/// 1. `[limit(), base())` is readable and writable memory owned by this stack
///    alone, and both addresses stay the same;
/// 2. `base()` is 16-byte aligned and `base() - limit()` is at least
///    [`MIN_STACK_SIZE`];
/// 3. if `guard_size()` is not 0, the `guard_size()` bytes right below
///    `limit()` fault on any access (so an overflow traps instead of
///    corrupting memory); without a guard, running out of stack is undefined
///    behaviour, so prefer a guarded stack. Only [`DefaultStack`]'s guard
///    pages are known to the overflow report; an overflow into another
///    implementation's guard is a plain SIGSEGV.
pub unsafe trait Stack {
    /// One past the highest usable address: where the stack starts.
    fn base(&self) -> usize;
    /// The lowest usable address.
    fn limit(&self) -> usize;
    /// Bytes of inaccessible memory right below [`limit`](Stack::limit).
    fn guard_size(&self) -> usize {
        0
    }
}

// SAFETY: a unique borrow upholds the contract of the stack it borrows for as
// long as it lives, and the borrow outlives any coroutine built on it.
unsafe impl<S: Stack> Stack for &mut S {
    fn base(&self) -> usize {
        (**self).base()
    }
    fn limit(&self) -> usize {
        (**self).limit()
    }
    fn guard_size(&self) -> usize {
        (**self).guard_size()
    }
}

#[cfg(test)]
mod stats_tests {
    use super::*;

    #[test]
    fn stats_count_a_held_stack_and_its_mapping() {
        let stack = DefaultStack::new(DEFAULT_STACK_SIZE).unwrap();
        let st = stats();
        // Other tests of the process may hold stacks too: lower bounds only.
        assert!(st.stacks >= 1 && st.mappings >= 1, "{st:?}");
        assert!(st.reserved_bytes >= DEFAULT_STACK_SIZE, "{st:?}");
        assert!(st.cached <= st.stacks, "{st:?}");
        drop(stack);
    }
}
