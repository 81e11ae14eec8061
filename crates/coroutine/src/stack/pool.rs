//! Per-thread pool of ready stacks.
//!
//! Creating a coroutine takes a stack from here and dropping it gives the
//! stack back, so the steady state makes no system call. When the pool
//! overflows it spills a batch to the process-wide cache (`cache.rs`), when
//! it runs dry it takes from there, and at thread exit it hands the cache
//! everything.
//!
//! A stack that was used deeply gives its cold pages back to the kernel when
//! it goes to the spare pool or the cache: the top [`HOT_BYTES`] stay
//! resident, everything below is `madvise`d away. The hot slot keeps one
//! stack as it is, for the next coroutine on the thread: so the
//! create-run-drop cycle checks nothing, and a thread holds at most one
//! untrimmed stack.
//!
//! Deep use is detected with a canary word at the bottom of the hot region.
//! A fresh stack has no canary, so its first trim gives back the whole cold
//! region once and writes it. If the canary is intact on a later trim, the
//! coroutine did not write below the hot region, so there is nothing to trim.
//! This is best effort: a frame that skips the canary word without writing
//! it goes unnoticed until a later, detected deep use.

use super::cache::{self, Bucket, CACHE};
use super::mmap::{Mapping, PAGE};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes at the top of a pooled stack that stay resident between uses.
const HOT_BYTES: usize = 16 * 1024;

/// The canary: an unlikely word, so ordinary stack data does not match it.
const CANARY: usize = 0x5a17_c0de_0b5e_55ed;

/// Stacks a thread keeps ready by default.
const DEFAULT_CAPACITY: usize = 256;

/// The fast path: one stack in destructor-free thread-locals, so the common
/// create-run-drop cycle costs two plain thread-local accesses (a
/// thread-local with a destructor checks its registration state on every
/// access). The spare pool behind it is only touched when this slot is full
/// or empty. The slot is addressed `fs:`-relative at each access: computing
/// its address into a register instead (which an older layout of this path
/// preferred) kept that register live across the switch, so it was spilled
/// and reloaded on every create (measured: 2.73 against 3.13 ns per
/// create-run-drop at the minimum of 15 interleaved runs, AMD EPYC).
///
/// The slot's stack stays in `base` while a coroutine runs on it; only `key`
/// says whether the pool or a [`DefaultStack`](super::DefaultStack) owns it.
/// Taking the stack thus reads `base` without depending on the store that
/// gave it back, and giving it back only compares addresses: in the
/// create-run-drop cycle no value travels through memory from one coroutine
/// to the next (writing the address back on each return made the next
/// create wait for that store).
///
/// The slot holds the stack's base rather than its low end: that is the
/// address a new coroutine needs first, so the create path computes nothing.
///
/// Invariant: `key` is the stack's size while the pool owns the stack at
/// `base`, else 0 (which no size is): the stack is taken (its owner gives it
/// back through the fast path, or elsewhere), or `base` is [`EMPTY`] or
/// [`SHUT`]. So taking a stack checks `key` alone. The slot opens only after
/// `overflow::ensure_ready` has run on the thread, so a stack taken from it
/// needs no such check.
struct Hot {
    /// Base (high end) of the slot's stack, or EMPTY, or SHUT.
    base: Cell<usize>,
    /// Usable size of the stack at `base` while the pool owns it, else 0.
    key: Cell<usize>,
    /// UNSET, OPEN or CLOSED: whether stacks may be kept in the slot.
    state: Cell<u8>,
}

/// `Hot::base` of an open slot with no stack in it.
const EMPTY: usize = 0;
/// `Hot::base` of a slot that may not keep stacks (UNSET or CLOSED); no
/// stack ends at address 1.
const SHUT: usize = 1;

/// The spare pool is not set up yet (its exit hook is not registered).
const UNSET: u8 = 0;
/// Stacks may be kept.
const OPEN: u8 = 1;
/// The thread is exiting, or pooling is off: returned stacks go straight to
/// the process-wide cache.
const CLOSED: u8 = 2;

/// Free stacks beyond the hot slot, by size. Buckets hold bare addresses:
/// moving one word in and out avoids store-forwarding stalls that copying
/// two-word entries caused (measured: 22 ns against 15 ns per coroutine).
struct Spare {
    buckets: RefCell<Vec<Bucket>>,
    /// Stacks held in the buckets.
    held: Cell<usize>,
    /// Most stacks kept, the hot slot included.
    capacity: Cell<usize>,
}

thread_local! {
    static HOT: Hot = const {
        Hot { base: Cell::new(SHUT), key: Cell::new(0), state: Cell::new(UNSET) }
    };
    static SPARE: Spare = const {
        Spare {
            buckets: RefCell::new(Vec::new()),
            held: Cell::new(0),
            capacity: Cell::new(DEFAULT_CAPACITY),
        }
    };
}

impl Spare {
    /// Removes and returns every stack beyond the first `keep`.
    fn evict(&self, keep: usize) -> Vec<Mapping> {
        let evicted = cache::evict(&mut self.buckets.borrow_mut(), keep);
        self.held.set(self.held.get() - evicted.len());
        evicted
    }

    /// Keeps `mapping`; if the pool is full, moves it and the older half of
    /// its size's stacks to the process-wide cache instead.
    fn keep(&self, mapping: Mapping) {
        // The hot slot holds one more.
        if self.held.get() + 1 >= self.capacity.get() {
            return self.spill(mapping);
        }
        let mut buckets = self.buckets.borrow_mut();
        match buckets.iter_mut().find(|b| b.size == mapping.size) {
            Some(bucket) => bucket.lows.push(mapping.low),
            None => buckets.push(Bucket {
                size: mapping.size,
                lows: vec![mapping.low],
                idle: 0,
            }),
        }
        self.held.set(self.held.get() + 1);
    }

    /// Moves `mapping` and the older half of its bucket to the cache in one
    /// batch; gives what the cache has no room for back to its slab.
    #[cold]
    fn spill(&self, mapping: Mapping) {
        let size = mapping.size;
        let mut batch = {
            let mut buckets = self.buckets.borrow_mut();
            match buckets.iter_mut().find(|b| b.size == size) {
                Some(bucket) => {
                    let half = bucket.lows.len() / 2;
                    self.held.set(self.held.get() - half);
                    bucket.lows.drain(..half).collect()
                }
                None => Vec::new(),
            }
        };
        batch.push(mapping.low);
        give_to_cache(size, batch);
    }

    fn take(&self, size: usize) -> Option<Mapping> {
        let mut buckets = self.buckets.borrow_mut();
        let low = buckets.iter_mut().find(|b| b.size == size)?.lows.pop()?;
        self.held.set(self.held.get() - 1);
        Some(Mapping { low, size })
    }
}

/// Hands `lows` of `size`-byte stacks to the process-wide cache; gives what
/// does not fit back to its slab.
fn give_to_cache(size: usize, mut lows: Vec<usize>) {
    CACHE.put(size, &mut lows);
    Mapping::unmap_all(size, lows);
}

impl Drop for Spare {
    /// At thread exit: close the hot slot and hand everything kept to the
    /// process-wide cache.
    fn drop(&mut self) {
        HOT.with(shut).into_iter().for_each(give_back_shared);
        for bucket in self.buckets.get_mut().drain(..) {
            give_to_cache(bucket.size, bucket.lows);
        }
    }
}

/// Sets how many free stacks the calling thread keeps for reuse (default
/// 256); extra stacks move to the process-wide cache (see
/// [`set_cache_capacity`](super::set_cache_capacity)). 0 stops this thread
/// from keeping any: it then takes and returns every stack through the
/// cache.
pub fn set_pool_capacity(capacity: usize) {
    let Ok(mut evicted) = SPARE.try_with(|spare| {
        spare.capacity.set(capacity);
        spare.evict(capacity.saturating_sub(1))
    }) else {
        return; // the thread is exiting
    };
    HOT.with(|hot| {
        if capacity == 0 {
            evicted.extend(shut(hot));
        } else {
            open(hot);
        }
    });
    evicted.into_iter().for_each(give_back_shared);
}

/// Lets the hot slot keep stacks.
fn open(hot: &Hot) {
    crate::overflow::ensure_ready();
    hot.state.set(OPEN);
    if hot.base.get() == SHUT {
        hot.base.set(EMPTY);
    }
}

/// Stops the hot slot from keeping stacks; returns the one it owned.
fn shut(hot: &Hot) -> Option<Mapping> {
    hot.state.set(CLOSED);
    let base = hot.base.replace(SHUT);
    let size = hot.key.replace(0);
    // A taken stack (key 0) is its owner's.
    (size != 0).then(|| Mapping::from_base(base, size))
}

/// The base of the hot slot's stack if the pool owns it and it has exactly
/// `size` usable bytes: the whole fast path, so a miss costs one compare
/// before [`take_spare`].
#[inline(always)]
pub(super) fn take_hot(size: usize) -> Option<usize> {
    HOT.with(|hot| {
        if hot.key.get() != size {
            return None;
        }
        // The pool owns the stack at `base` (never EMPTY or SHUT, whose key
        // is 0): hand it out.
        hot.key.set(0);
        Some(hot.base.get())
    })
}

/// The pool's slow path: a spare stack, else one from the process-wide
/// cache. One at a time: a thread that took a batch would keep the surplus
/// from the others, which then map fresh stacks (the lock is cheap next to
/// the coroutine that gets the stack).
#[cold]
pub(super) fn take_spare(size: usize) -> Option<Mapping> {
    crate::overflow::ensure_ready();
    SPARE
        .try_with(|spare| spare.take(size))
        .ok()
        .flatten()
        .or_else(|| CACHE.take(size).map(|low| Mapping { low, size }))
}

/// Returns a stack to this thread's hot slot as it is if it came from there
/// or the slot has none of the pool's; else trims it if it was used deeply
/// and keeps it in the spare pool, or passes it on to the process-wide cache
/// if the pool is full or the thread is exiting.
#[inline]
pub(super) fn give_back(base: usize, size: usize) {
    let kept = HOT.with(|hot| {
        if hot.base.get() != base {
            return false;
        }
        // The slot's own stack. (Its size is written too: the stack that was
        // taken from the slot may have been unmapped elsewhere since, and
        // this one mapped at the same address with another size.)
        hot.key.set(size);
        true
    });
    if !kept {
        give_back_other(Mapping::from_base(base, size));
    }
}

/// Returns a stack that is not the hot slot's: into the slot if the pool
/// does not own the slot's stack (it is taken, or there is none), which the
/// slot then forgets; else as [`give_back_spare`] says.
#[inline(never)]
fn give_back_other(mapping: Mapping) {
    let kept = HOT.with(|hot| {
        if hot.key.get() != 0 || hot.base.get() == SHUT {
            return false; // full, or shut
        }
        hot.base.set(mapping.base());
        hot.key.set(mapping.size);
        true
    });
    if !kept {
        give_back_spare(mapping);
    }
}

#[cold]
fn give_back_spare(mapping: Mapping) {
    let state = HOT.with(|hot| hot.state.get());
    if state == CLOSED {
        return give_back_shared(mapping);
    }
    trim(&mapping);
    // Touching SPARE registers its exit hook; only then may stacks be kept.
    match SPARE.try_with(|spare| spare.keep(mapping)) {
        Ok(()) if state == UNSET => HOT.with(open),
        _ => {} // Err is unreachable: CLOSED is set before SPARE goes away
    }
}

/// Trims one stack and hands it to the process-wide cache, or to its slab.
fn give_back_shared(mapping: Mapping) {
    trim(&mapping);
    give_to_cache(mapping.size, vec![mapping.low]);
}

/// Gives the cold pages of `mapping` back if the canary says it went deep.
#[inline]
fn trim(mapping: &Mapping) {
    let limit = mapping.low + PAGE;
    let hot_low = mapping.base() - HOT_BYTES;
    if hot_low <= limit {
        return; // small stack: all of it is hot
    }
    crate::tooling::stack_memory_defined(hot_low, std::mem::size_of::<usize>());
    // The canary is swapped in, not read and then written: on a stack that never went this
    // deep (every fresh one) the page is unbacked, and a read would map the shared zero
    // page, which the write then has to replace, flushing the TLB of every CPU the process
    // runs on with an IPI, once per stack. perf of a 100k-task burst put that flush at
    // about 30% of the workers' time. A first access that writes maps a fresh page, with
    // no flush.
    // SAFETY: `hot_low` is inside the usable area of a mapping we own, page aligned, and
    // no coroutine runs on it any more, so nothing else accesses the word.
    let canary = unsafe { AtomicUsize::from_ptr(hot_low as *mut usize) };
    if canary.swap(CANARY, Ordering::Relaxed) != CANARY {
        trim_cold(limit, hot_low);
    }
}

/// Gives `[limit, hot_low)` back to the kernel.
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
        unsafe { ((stack.base() - super::HOT_BYTES) as *mut usize).write(1) };
        // Into the spare pool, where stacks are trimmed: the hot slot is full.
        let hot = DefaultStack::new(256 * 1024).unwrap();
        drop(hot);
        drop(stack);
        let _hot = DefaultStack::new(256 * 1024).unwrap();
        let stack = DefaultStack::new(256 * 1024).unwrap();
        // SAFETY: as above; MADV_DONTNEED pages read back as zero.
        assert_eq!(unsafe { (deep as *const u64).read() }, 0);
        drop(stack);
    }

    // Tests share the process-wide cache: each uses a stack size of its own.

    #[test]
    fn the_hot_slot_hands_out_each_stack_once_and_loses_none() {
        const SIZE: usize = 76 * 1024;
        let a = DefaultStack::new(SIZE).unwrap();
        drop(a); // into the hot slot
        let a = DefaultStack::new(SIZE).unwrap(); // taken from it, still its stack
        let b = DefaultStack::new(SIZE).unwrap();
        assert_ne!(a.base(), b.base(), "a taken stack is not handed out again");
        let (a_base, b_base) = (a.base(), b.base());
        // The slot's stack is taken, so the slot adopts b...
        drop(b);
        let b = DefaultStack::new(SIZE).unwrap();
        assert_eq!(b.base(), b_base);
        // ...then a, whose owner returns it while b is out; b goes to the
        // spare pool when it comes back.
        drop(a);
        drop(b);
        let x = DefaultStack::new(SIZE).unwrap();
        let y = DefaultStack::new(SIZE).unwrap();
        let mut got = [x.base(), y.base()];
        got.sort_unstable();
        let mut want = [a_base, b_base];
        want.sort_unstable();
        assert_eq!(got, want, "both stacks come back, once each");
    }

    #[test]
    fn capacity_zero_keeps_nothing_on_the_thread() {
        const SIZE: usize = 68 * 1024;
        super::set_pool_capacity(0);
        drop(DefaultStack::new(SIZE).unwrap());
        let hot = super::HOT.with(|hot| hot.base.get());
        let held = super::SPARE.with(|spare| spare.held.get());
        super::set_pool_capacity(super::DEFAULT_CAPACITY);
        assert_eq!((hot, held), (super::SHUT, 0));
    }

    #[test]
    fn a_full_pool_spills_to_the_cache_for_other_threads() {
        const SIZE: usize = 72 * 1024;
        let bases: Vec<usize> = std::thread::spawn(|| {
            // Two more than the thread keeps: the overflow spills a batch.
            let stacks: Vec<_> = (0..super::DEFAULT_CAPACITY + 2)
                .map(|_| DefaultStack::new(SIZE).unwrap())
                .collect();
            stacks.iter().map(Stack::base).collect()
        })
        .join()
        .unwrap();
        // That thread has exited: everything it kept is in the cache.
        let again: Vec<_> = (0..bases.len())
            .map(|_| DefaultStack::new(SIZE).unwrap())
            .collect();
        let mut reused: Vec<usize> = again.iter().map(Stack::base).collect();
        let mut bases = bases;
        reused.sort_unstable();
        bases.sort_unstable();
        assert_eq!(reused, bases, "every stack came back from the cache");
    }
}
