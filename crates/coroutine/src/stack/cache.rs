//! The process-wide stack cache: free stacks shared by every thread.
//!
//! Each thread keeps a few hundred free stacks of its own (`pool.rs`). When
//! its pool overflows it moves half of them here in one batch instead of
//! giving them back, and when it runs dry it takes stacks from here, one at
//! a time, before carving fresh ones from a slab (`slab.rs`). So the stacks
//! freed by one burst of coroutines serve the next burst, on any thread,
//! without system calls or the slab table's lock.
//!
//! The cache is bounded by a count of stacks ([`set_cache_capacity`],
//! default [`DEFAULT_CACHE_CAPACITY`]). A cached stack costs only its hot
//! region of resident memory, 16 KiB at most, because cold pages are given
//! back when a stack leaves its thread's hot slot (best effort: see
//! `pool.rs`); with per-stack guards ([`GuardMode::Mapping`]) it also holds
//! two kernel mappings. The scavenger (`scavenger.rs`) gives back the stacks
//! that stayed unused for a whole tick, so a surge's stacks leave within
//! seconds; [`trim_cache`] gives them all back at once, and a stack mapping
//! that fails for lack of mappings or memory trims the cache and tries
//! again, so cached stacks never cause that error.
//!
//! [`GuardMode::Mapping`]: super::GuardMode::Mapping

use super::mmap::Mapping;
use std::sync::{Mutex, MutexGuard};

/// Stacks the cache holds by default: 16,384, which is at most 256 MiB
/// resident (and, with per-stack guards, 32,768 kernel mappings), only in a
/// process that had that many more coroutines alive than its threads' own
/// pools hold, and only until the scavenger's next ticks.
pub const DEFAULT_CACHE_CAPACITY: usize = 16 * 1024;

/// Free stacks of one usable size, by their low address, oldest first.
#[derive(Debug)]
pub(super) struct Bucket {
    pub(super) size: usize,
    pub(super) lows: Vec<usize>,
    /// Fewest stacks the bucket held since the scavenger's last tick: that
    /// many of its oldest stacks stayed unused all along (the cache's
    /// buckets only; the pools' stay 0).
    pub(super) idle: usize,
}

/// A bounded store of free stacks, by size.
///
/// Invariant: every address in the buckets is the low end of a live guarded
/// mapping of its bucket's size that nobody else refers to, `held` counts
/// them, and `held <= capacity` after every operation.
pub(super) struct Cache {
    inner: Mutex<Inner>,
}

struct Inner {
    buckets: Vec<Bucket>,
    held: usize,
    capacity: usize,
}

/// Removes and returns every stack in `buckets` beyond the first `keep`, dropping emptied
/// buckets: how both the per-thread pools and the cache shrink.
pub(super) fn evict(buckets: &mut Vec<Bucket>, keep: usize) -> Vec<Mapping> {
    let mut evicted = Vec::new();
    let mut left = keep;
    for bucket in buckets.iter_mut() {
        let kept = bucket.lows.len().min(left);
        left -= kept;
        let size = bucket.size;
        evicted.extend(bucket.lows.drain(kept..).map(|low| Mapping { low, size }));
    }
    buckets.retain(|b| !b.lows.is_empty());
    evicted
}

impl Inner {
    /// Removes and returns every stack beyond the first `keep`.
    fn evict(&mut self, keep: usize) -> Vec<Mapping> {
        let evicted = evict(&mut self.buckets, keep);
        self.held -= evicted.len();
        evicted
    }
}

/// The one cache of the process.
pub(super) static CACHE: Cache = Cache::new(DEFAULT_CACHE_CAPACITY);

impl Cache {
    pub(super) const fn new(capacity: usize) -> Cache {
        Cache {
            inner: Mutex::new(Inner {
                buckets: Vec::new(),
                held: 0,
                capacity,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No operation can panic half-way through an update of `Inner`
        // except by running out of memory (which aborts), so a poisoned
        // lock still guards a consistent cache.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps as many of the `size`-byte stacks in `lows` as there is room
    /// for (taking them from the end); the rest stay in `lows` for the
    /// caller to unmap.
    pub(super) fn put(&self, size: usize, lows: &mut Vec<usize>) {
        let mut inner = self.lock();
        let room = inner.capacity - inner.held;
        let n = room.min(lows.len());
        if n == 0 {
            return;
        }
        inner.held += n;
        let kept = lows.drain(lows.len() - n..);
        match inner.buckets.iter_mut().find(|b| b.size == size) {
            Some(bucket) => bucket.lows.extend(kept),
            None => {
                let lows = kept.collect();
                // New stacks were not idle since the last tick.
                inner.buckets.push(Bucket {
                    size,
                    lows,
                    idle: 0,
                });
            }
        }
        drop(inner);
        super::scavenger::wake();
    }

    /// The scavenger's tick: removes and returns the stacks that stayed
    /// unused since the last tick (the oldest of each bucket), and the count
    /// of stacks still held.
    pub(super) fn scavenge(&self) -> (Vec<Mapping>, usize) {
        let mut inner = self.lock();
        let mut idle = Vec::new();
        for bucket in inner.buckets.iter_mut() {
            let size = bucket.size;
            let n = bucket.idle.min(bucket.lows.len());
            idle.extend(bucket.lows.drain(..n).map(|low| Mapping { low, size }));
            bucket.idle = bucket.lows.len();
        }
        inner.buckets.retain(|b| !b.lows.is_empty());
        inner.held -= idle.len();
        let held = inner.held;
        (idle, held)
    }

    /// The low address of a cached `size`-byte stack, removed from the
    /// cache: the most recently freed, as the likeliest to be resident.
    pub(super) fn take(&self, size: usize) -> Option<usize> {
        let mut inner = self.lock();
        let bucket = inner.buckets.iter_mut().find(|b| b.size == size)?;
        let low = bucket.lows.pop()?;
        bucket.idle = bucket.idle.min(bucket.lows.len());
        inner.held -= 1;
        Some(low)
    }

    /// Sets the capacity; returns the stacks that no longer fit.
    pub(super) fn set_capacity(&self, capacity: usize) -> Vec<Mapping> {
        let mut inner = self.lock();
        inner.capacity = capacity;
        inner.evict(capacity)
    }

    /// Removes every cached stack.
    pub(super) fn drain(&self) -> Vec<Mapping> {
        self.lock().evict(0)
    }

    /// Stacks held now.
    pub(super) fn held(&self) -> usize {
        self.lock().held
    }
}

/// Sets how many free stacks the process-wide cache may hold (default
/// [`DEFAULT_CACHE_CAPACITY`]); stacks beyond the new capacity are given
/// back. 0 turns the cache off: a stack that does not fit in its thread's
/// own pool is given back to its slab (see [`set_pool_capacity`](super::set_pool_capacity)).
///
/// Each cached stack holds at most 16 KiB of resident memory (and two kernel
/// mappings with per-stack guards) until the scavenger gives it back.
pub fn set_cache_capacity(capacity: usize) {
    Mapping::unmap_many(CACHE.set_capacity(capacity));
}

/// Gives every stack in the process-wide cache back (stacks in the threads'
/// own pools stay), unmaps the slabs left empty, and returns how many stacks
/// there were: for example after a burst of coroutines, to give their
/// memory and mappings back at once instead of within the scavenger's few
/// seconds.
///
/// ```
/// use corio_coroutine::stack::{trim_cache, DefaultStack};
/// drop(DefaultStack::new(64 * 1024)?);
/// let unmapped = trim_cache();
/// # let _ = unmapped;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn trim_cache() -> usize {
    give_back_all().0
}

/// [`trim_cache`]; returns how many stacks and slabs were given back.
pub(super) fn trim() -> usize {
    let (stacks, slabs) = give_back_all();
    stacks + slabs
}

/// Gives back every cached stack, then every empty slab; returns how many
/// of each.
fn give_back_all() -> (usize, usize) {
    let evicted = CACHE.drain();
    let stacks = evicted.len();
    Mapping::unmap_many(evicted);
    (stacks, super::slab::unmap_empty())
}

#[cfg(test)]
mod tests {
    use super::Cache;

    #[test]
    fn holds_at_most_its_capacity() {
        let cache = Cache::new(3);
        let mut lows = vec![1, 2, 3, 4, 5];
        cache.put(8192, &mut lows);
        assert_eq!(lows, [1, 2], "the two that did not fit are handed back");
        assert_eq!(cache.held(), 3);
        let mut more = vec![6];
        cache.put(4096, &mut more);
        assert_eq!(more, [6]);
    }

    #[test]
    fn takes_by_size_newest_first() {
        let cache = Cache::new(10);
        cache.put(8192, &mut vec![1, 2, 3]);
        cache.put(4096, &mut vec![9]);
        assert_eq!(cache.take(8192), Some(3));
        assert_eq!(cache.take(16384), None);
        assert_eq!(cache.take(8192), Some(2));
        assert_eq!(cache.take(8192), Some(1));
        assert_eq!(cache.take(8192), None);
        assert_eq!(cache.held(), 1);
    }

    #[test]
    fn shrinking_and_draining_hand_stacks_back() {
        let cache = Cache::new(10);
        cache.put(8192, &mut vec![1, 2, 3]);
        cache.put(4096, &mut vec![9]);
        let evicted = cache.set_capacity(2);
        assert_eq!(evicted.len(), 2);
        assert_eq!(cache.held(), 2);
        // (Fake addresses: a `Mapping` unmaps only when asked to.)
        assert_eq!(cache.drain().len(), 2);
        assert_eq!(cache.held(), 0);
        cache.put(8192, &mut vec![1, 2]);
        assert_eq!(cache.held(), 2, "draining keeps the capacity");
    }
}
