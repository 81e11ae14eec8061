//! `Mutex<T>`: a lock that parks the coroutine (or thread), not the worker.
//!
//! # State word
//!
//! | bit | meaning |
//! |---|---|
//! | `LOCKED` | someone owns the lock |
//! | `QUEUED` | the wait list may be non-empty: `unlock` must take the slow path |
//!
//! `QUEUED` is set only by a waiter holding the queue lock while `LOCKED` is set, and cleared
//! only under the queue lock when the list empties. So an unlocker whose fast-path CAS
//! `LOCKED → 0` succeeds knows nobody is queued, and one whose CAS fails finds the waiter
//! in the list once it takes the queue lock: no wake-up is lost.
//!
//! # Fairness (Go's starvation mode)
//!
//! Normally `unlock` releases the lock and wakes the first waiter, which then competes with
//! newcomers (barging keeps throughput high: the running coroutine often re-takes the lock
//! without a switch). A woken waiter that loses goes back to the *front* of the queue. Once
//! the first waiter has been waiting for more than [`STARVATION`], `unlock` hands the lock to
//! it directly: `LOCKED` stays set, so no newcomer can barge. Every waiter therefore gets the
//! lock within a bounded number of hand-offs after reaching the front of the FIFO.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use super::lock::Lock;
use super::waitq::{self, Node, WaitList};
use crate::loom::{AtomicUsize, Ordering};

const LOCKED: usize = 1;
const QUEUED: usize = 2;

/// Token: the lock was released; try again (keeping your place at the front).
const RETRY: usize = 1;
/// Token: the lock is yours (direct hand-off; `LOCKED` was never cleared).
const HANDOFF: usize = 2;

/// How long the first waiter may wait before unlockers hand the lock to it directly.
pub(crate) const STARVATION: Duration = Duration::from_millis(1);

/// What a queued waiter records.
struct Queued {
    /// When it first queued.
    since: Instant,
    /// It was woken before and lost the lock to a barger.
    #[cfg_attr(not(loom), allow(dead_code))]
    returning: bool,
}

impl Queued {
    /// Whether unlockers must hand the lock to this waiter directly.
    #[cfg(not(loom))]
    fn starving(&self) -> bool {
        self.since.elapsed() > STARVATION
    }

    /// Under loom a model must decide the same way in every execution, whatever the clock
    /// says: a waiter starves once it has lost a race, so both hand-offs are explored.
    #[cfg(loom)]
    fn starving(&self) -> bool {
        self.returning
    }
}

/// How often `lock` retries before it queues, when nobody is queued yet.
#[cfg(not(loom))]
const SPINS: u32 = 40;
/// Under loom spinning only multiplies the interleavings to explore.
#[cfg(loom)]
const SPINS: u32 = 0;

/// A mutual-exclusion lock whose waiters park (the coroutine, or the plain thread) instead of
/// blocking the worker thread. Shaped like [`std::sync::Mutex`], without poisoning (see the
/// [module docs](super#poisoning)).
///
/// Uncontended, `lock` and `unlock` are one CAS each. Under contention waiters queue in FIFO
/// order and a waiter that waited over a millisecond gets the lock by direct hand-off, so
/// nobody starves.
///
/// ```
/// use corio::sync::Mutex;
/// use std::sync::Arc;
///
/// let total = corio::run(|| {
///     let m = Arc::new(Mutex::new(0u64));
///     let hs: Vec<_> = (0..10)
///         .map(|_| {
///             let m = m.clone();
///             corio::spawn(move || {
///                 for _ in 0..1000 {
///                     let mut g = m.lock();
///                     *g += 1;
///                     corio::yield_now(); // suspending while holding it is fine
///                 }
///             })
///         })
///         .collect();
///     hs.into_iter().for_each(|h| h.join().unwrap());
///     let n = *m.lock();
///     n
/// });
/// assert_eq!(total, 10_000);
/// ```
pub struct Mutex<T: ?Sized> {
    state: AtomicUsize,
    /// Waiters, each with the instant it first queued.
    queue: Lock<WaitList<Queued>>,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives `&mut T` to one owner at a time, so sharing the mutex only ever
// moves access to `T` between threads: `T: Send` suffices (as for std's Mutex).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: moving the mutex moves the `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    pub fn new(value: T) -> Self {
        Mutex {
            state: AtomicUsize::new(0),
            queue: Lock::new(WaitList::new()),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning its value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Takes the lock, parking the current coroutine (or thread) while another owner holds it.
    ///
    /// Not re-entrant: locking a mutex the current coroutine holds deadlocks it.
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        crate::rt::coop::consume(); // a loop of uncontended locks must not starve its worker
                                    // Acquire: the previous owner's writes (published by its Release in `unlock`) are
                                    // visible in the critical section. Weak CAS: a spurious failure just takes the slow
                                    // path, which retries.
        if self
            .state
            .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        MutexGuard {
            mutex: self,
            _marker: PhantomData,
        }
    }

    /// Takes the lock if it is free right now.
    ///
    /// ```
    /// let m = corio::sync::Mutex::new(1);
    /// let g = m.lock();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        crate::rt::coop::consume(); // as in `lock`
        let mut s = self.state.load(Ordering::Relaxed);
        while s & LOCKED == 0 {
            // Acquire: as in `lock`.
            match self.state.compare_exchange_weak(
                s,
                s | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(MutexGuard {
                        mutex: self,
                        _marker: PhantomData,
                    })
                }
                Err(now) => s = now,
            }
        }
        None
    }

    /// Takes the lock, waiting at most `timeout`; `None` if it did not come free in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// corio::run(|| {
    ///     let m = corio::sync::Mutex::new(1);
    ///     let g = m.lock();
    ///     assert!(m.try_lock_for(Duration::from_millis(2)).is_none());
    ///     drop(g);
    ///     assert!(m.try_lock_for(Duration::from_millis(2)).is_some());
    /// });
    /// ```
    pub fn try_lock_for(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_lock_until(deadline),
            None => Some(self.lock()),
        }
    }

    /// Takes the lock, waiting until `deadline` at the latest.
    pub fn try_lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        if let Some(g) = self.try_lock() {
            return Some(g);
        }
        self.lock_slow_until(Some(deadline)).then(|| MutexGuard {
            mutex: self,
            _marker: PhantomData,
        })
    }

    /// Whether the mutex is locked right now (a snapshot, for diagnostics).
    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// A mutable reference to the value; no locking needed, `&mut self` proves exclusivity.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    #[cold]
    fn lock_slow(&self) {
        let locked = self.lock_slow_until(None);
        debug_assert!(locked, "no deadline");
    }

    /// Takes the lock, or gives up at `deadline` (`false`).
    #[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))] // SPINS is 0 under loom
    fn lock_slow_until(&self, deadline: Option<Instant>) -> bool {
        let mut spins = 0;
        let mut since: Option<Instant> = None;
        let mut returning = false;
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & LOCKED == 0 {
                // Barging: the lock is free, whoever CASes first owns it. Acquire as in `lock`.
                if self
                    .state
                    .compare_exchange_weak(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            if s & QUEUED == 0 && since.is_none() && spins < SPINS {
                // The owner is probably running on another worker and about to unlock.
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                if returning {
                    // We were the waiter woken to retry, and we leave: wake another instead.
                    self.pass_on_retry();
                }
                return false;
            }
            let first = *since.get_or_insert_with(Instant::now);
            let node = Node::new(Queued {
                since: first,
                returning,
            });
            {
                let mut queue = self.queue.lock();
                // Set QUEUED under the queue lock, and only while LOCKED is still set (see the
                // module docs). Relaxed: the queue lock orders this against the unlocker.
                let s = self.state.load(Ordering::Relaxed);
                if s & LOCKED == 0 {
                    continue; // unlocked meanwhile: barge instead
                }
                if s & QUEUED == 0
                    && self
                        .state
                        .compare_exchange(s, s | QUEUED, Ordering::Relaxed, Ordering::Relaxed)
                        .is_err()
                {
                    continue;
                }
                if returning {
                    queue.push_front(&node); // woken before and lost: keep our turn
                } else {
                    queue.push_back(&node);
                }
            }
            returning = true;
            let token = waitq::wait(
                &node,
                deadline,
                &self.queue,
                |q| q,
                |token| match token {
                    // We were handed the lock while unwinding: pass it on.
                    Some(HANDOFF) => self.unlock(),
                    // We were the one waiter woken to retry: wake another in our place.
                    Some(_) => self.pass_on_retry(),
                    None => {}
                },
            );
            // Without a deadline `wait` returns only with a token. On HANDOFF we own the lock
            // and, because `wait` loads the token with Acquire (pairing with the unlocker's
            // Release store), we see the previous critical section. `None`: the deadline
            // passed and `wait` unlinked us (nobody handed us anything).
            match token {
                Some(HANDOFF) => return true,
                Some(_) => {}
                None => return false,
            }
        }
    }

    /// Releases the lock (called by the guard).
    #[inline]
    fn unlock(&self) {
        // Release: publishes the critical section to the next owner's Acquire.
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    #[cold]
    fn unlock_slow(&self) {
        let mut queue = self.queue.lock();
        let Some(first) = queue.front() else {
            // Nobody left: clear both bits. Release as in `unlock`.
            self.state.fetch_and(!(LOCKED | QUEUED), Ordering::Release);
            return;
        };
        let handoff = first.starving();
        let waiter = if handoff {
            // Keep LOCKED: the lock passes straight to the waiter; the token's Release store
            // publishes our critical section to it.
            queue.notify_one(HANDOFF)
        } else {
            // Release: as in `unlock`.
            self.state.fetch_and(!LOCKED, Ordering::Release);
            queue.notify_one(RETRY)
        };
        if queue.is_empty() {
            // Relaxed: QUEUED is only read under the queue lock or as a fast-path hint.
            self.state.fetch_and(!QUEUED, Ordering::Relaxed);
        }
        drop(queue);
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// A waiter woken with `RETRY` is unwinding instead of retrying. `unlock_slow` wakes one
    /// waiter per release, so unless the lock is held again (its owner's unlock will wake
    /// the next), wake the next waiter in our place.
    #[cold]
    fn pass_on_retry(&self) {
        let mut queue = self.queue.lock();
        // Relaxed: as for QUEUED (see the module docs), the queue lock orders this against
        // waiters queueing. A waiter is in the list only with QUEUED set, so an owner who
        // took the lock after this load must unlock through `unlock_slow`, which wakes it.
        if self.state.load(Ordering::Relaxed) & LOCKED != 0 {
            return;
        }
        let waiter = queue.notify_one(RETRY);
        if queue.is_empty() {
            // Relaxed: as in `unlock_slow`.
            self.state.fetch_and(!QUEUED, Ordering::Relaxed);
        }
        drop(queue);
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// Proof of owning a [`Mutex`]; unlocks on drop. `!Send` like std's guard (a coroutine may
/// still hold it across suspension points: coroutines never change threads).
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Makes the guard `!Send` and `!Sync`; `Sync` is granted back below when `T: Sync`.
    _marker: PhantomData<*mut T>,
}

// SAFETY: a `&MutexGuard` only gives `&T`, so sharing the guard is sharing `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (used by [`Condvar`](super::Condvar)).
    pub(crate) fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while its owner holds the lock, so no other
        // reference to the value is live.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference from the guard.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
