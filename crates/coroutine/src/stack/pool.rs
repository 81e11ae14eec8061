//! Per-thread pool of ready stacks.
//!
//! Creating a coroutine takes a stack from here and dropping it gives the
//! stack back, so the steady state makes no system call. A stack that was
//! used deeply gives its cold pages back to the kernel when it returns: the
//! top [`HOT`] bytes stay resident, everything below is `madvise`d away.
//!
//! Deep use is detected with a canary word at the bottom of the hot region.
//! A fresh stack has no canary, so its first return trims the whole cold
//! region once and writes it. If the canary is intact on a later return, the
//! coroutine did not write below the hot region, so there is nothing to trim.
//! This is best effort: a frame that skips the canary word without writing
//! it goes unnoticed until a later, detected deep use.

use super::mmap::{Mapping, PAGE};
use std::cell::{Cell, RefCell};

/// Bytes at the top of a pooled stack that stay resident between uses.
const HOT: usize = 16 * 1024;

/// The canary: an unlikely word, so ordinary stack data does not match it.
const CANARY: usize = 0x5a17_c0de_0b5e_55ed;

/// Stacks a thread keeps ready by default.
const DEFAULT_CAPACITY: usize = 256;

struct Pool {
    stacks: RefCell<Vec<Mapping>>,
    capacity: Cell<usize>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        for mapping in self.stacks.get_mut().drain(..) {
            mapping.unmap();
        }
    }
}

thread_local! {
    static POOL: Pool = const {
        Pool { stacks: RefCell::new(Vec::new()), capacity: Cell::new(DEFAULT_CAPACITY) }
    };
}

/// Sets how many free stacks the calling thread keeps for reuse (default
/// 256); extra stacks are unmapped. 0 disables pooling on this thread.
pub fn set_pool_capacity(capacity: usize) {
    let evicted: Vec<Mapping> = POOL.with(|pool| {
        pool.capacity.set(capacity);
        let mut stacks = pool.stacks.borrow_mut();
        let keep = stacks.len().min(capacity);
        stacks.drain(keep..).collect()
    });
    evicted.into_iter().for_each(Mapping::unmap);
}

/// A pooled stack of exactly `size` usable bytes, if this thread has one.
#[inline]
pub(super) fn take(size: usize) -> Option<Mapping> {
    POOL.try_with(|pool| {
        let mut stacks = pool.stacks.borrow_mut();
        // Usually every stack has the default size, so the last one fits.
        let index = stacks.iter().rposition(|m| m.size == size)?;
        Some(stacks.swap_remove(index))
    })
    .ok()
    .flatten()
}

/// Returns a stack to this thread's pool, trimming it if it was used deeply;
/// unmaps it if the pool is full or the thread is exiting.
#[inline]
pub(super) fn give_back(mapping: Mapping) {
    let kept = POOL.try_with(|pool| {
        let mut stacks = pool.stacks.borrow_mut();
        if stacks.len() >= pool.capacity.get() {
            return Err(());
        }
        trim(&mapping);
        stacks.push(Mapping { ..mapping });
        Ok(())
    });
    if !matches!(kept, Ok(Ok(()))) {
        mapping.unmap();
    }
}

/// Gives the cold pages of `mapping` back if the canary says it went deep.
#[inline]
fn trim(mapping: &Mapping) {
    let limit = mapping.low + PAGE;
    let hot_low = mapping.base() - HOT;
    if hot_low <= limit {
        return; // small stack: all of it is hot
    }
    crate::tooling::stack_memory_defined(hot_low, std::mem::size_of::<usize>());
    // SAFETY: `hot_low` is inside the usable area of a mapping we own, and
    // no coroutine runs on it any more.
    if unsafe { *(hot_low as *const usize) } != CANARY {
        trim_cold(limit, hot_low);
    }
}

#[cold]
#[inline(never)]
fn trim_cold(limit: usize, hot_low: usize) {
    // SAFETY: [limit, hot_low) lies in the usable area of a mapping we own
    // and nothing runs on it; MADV_DONTNEED makes those pages read as zero.
    unsafe {
        libc::madvise(
            limit as *mut libc::c_void,
            hot_low - limit,
            libc::MADV_DONTNEED,
        );
        *(hot_low as *mut usize) = CANARY;
    }
}

#[cfg(test)]
mod tests {
    use crate::stack::{DefaultStack, Stack};

    #[test]
    fn reuses_stacks_of_the_same_size() {
        let first = DefaultStack::new(64 * 1024).unwrap();
        let base = first.base();
        drop(first);
        let second = DefaultStack::new(64 * 1024).unwrap();
        assert_eq!(second.base(), base);
        let other = DefaultStack::new(128 * 1024).unwrap();
        assert_ne!(other.base(), base);
    }

    #[test]
    fn trims_a_deeply_used_stack() {
        let stack = DefaultStack::new(256 * 1024).unwrap();
        let deep = stack.limit() + 4096;
        drop(stack); // first return: trimmed, canary written
        let stack = DefaultStack::new(256 * 1024).unwrap();
        // SAFETY: `deep` is inside the stack we own and nothing runs on it.
        unsafe { (deep as *mut u64).write(7) };
        // Overwrite the canary, as a deep frame would.
        // SAFETY: as above; the canary is the lowest word of the hot region.
        unsafe { ((stack.base() - super::HOT) as *mut usize).write(1) };
        drop(stack);
        let stack = DefaultStack::new(256 * 1024).unwrap();
        // SAFETY: as above; MADV_DONTNEED pages read back as zero.
        assert_eq!(unsafe { (deep as *const u64).read() }, 0);
        drop(stack);
    }

    #[test]
    fn capacity_zero_unmaps() {
        super::set_pool_capacity(0);
        let base = DefaultStack::new(64 * 1024).unwrap().base();
        assert!(super::take(64 * 1024).is_none(), "pool kept {base:#x}");
        super::set_pool_capacity(super::DEFAULT_CAPACITY);
    }
}
