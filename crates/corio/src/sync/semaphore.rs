//! `Semaphore`: counted permits, handed out in FIFO order.

use std::fmt;
use std::time::{Duration, Instant};

use super::lock::Lock;
use super::waitq::{self, Node, WaitList};

/// Token: the permits asked for were granted (already subtracted).
const GRANTED: usize = 1;

struct State {
    permits: usize,
    /// Waiters, each with the number of permits it asks for.
    queue: WaitList<usize>,
}

/// A counting semaphore. Waiters are served strictly in FIFO order — a large request at the
/// front is not overtaken by smaller ones behind it — so nobody starves.
///
/// ```
/// use corio::sync::Semaphore;
/// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
/// use std::sync::Arc;
///
/// corio::run(|| {
///     let sem = Arc::new(Semaphore::new(2));
///     let inside = Arc::new(AtomicUsize::new(0));
///     let hs: Vec<_> = (0..8)
///         .map(|_| {
///             let (sem, inside) = (sem.clone(), inside.clone());
///             corio::spawn(move || {
///                 let _permit = sem.acquire();
///                 assert!(inside.fetch_add(1, SeqCst) < 2); // at most 2 at once
///                 corio::yield_now();
///                 inside.fetch_sub(1, SeqCst);
///             })
///         })
///         .collect();
///     hs.into_iter().for_each(|h| h.join().unwrap());
/// });
/// ```
pub struct Semaphore {
    state: Lock<State>,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    pub fn new(permits: usize) -> Self {
        Semaphore {
            state: Lock::new(State {
                permits,
                queue: WaitList::new(),
            }),
        }
    }

    /// Waits for one permit; it is returned when the guard drops.
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once.
    pub fn acquire_many(&self, n: usize) -> SemaphorePermit<'_> {
        let granted = self.acquire_until(n, None);
        debug_assert!(granted);
        SemaphorePermit { sem: self, n }
    }

    /// Takes `n` permits if they are available now (and nobody is queued before us).
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        let mut s = self.state.lock();
        if s.queue.is_empty() && s.permits >= n {
            s.permits -= n;
            return Some(SemaphorePermit { sem: self, n });
        }
        None
    }

    /// Takes one permit if one is available now.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Waits for one permit at most `timeout`; `None` if none came free in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// corio::run(|| {
    ///     let s = corio::sync::Semaphore::new(1);
    ///     let p = s.acquire();
    ///     assert!(s.acquire_timeout(Duration::from_millis(2)).is_none());
    ///     drop(p);
    ///     assert!(s.acquire_timeout(Duration::from_millis(2)).is_some());
    /// });
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.acquire_many_timeout(1, timeout)
    }

    /// Waits for `n` permits at most `timeout`.
    pub fn acquire_many_timeout(&self, n: usize, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.acquire_until(n, Instant::now().checked_add(timeout))
            .then(|| SemaphorePermit { sem: self, n }) // a permit built eagerly would release on drop
    }

    fn acquire_until(&self, n: usize, deadline: Option<Instant>) -> bool {
        let node = Node::new(n);
        {
            let mut s = self.state.lock();
            if s.queue.is_empty() && s.permits >= n {
                s.permits -= n;
                return true;
            }
            s.queue.push_back(&node);
        }
        let token = waitq::wait(
            &node,
            deadline,
            &self.state,
            |s| &mut s.queue,
            |token| match token {
                Some(_) => self.release(n), // granted while unwinding: give them back
                None => self.release(0),    // left the queue: whoever was behind may fit now
            },
        );
        if token.is_none() {
            // We left the queue: whoever was behind us may fit now.
            self.release(0);
        }
        token.is_some()
    }

    /// Adds `n` permits, waking the waiters at the front that now fit.
    pub fn release(&self, n: usize) {
        let mut wakes = Vec::new();
        {
            let mut s = self.state.lock();
            s.permits += n;
            while let Some(&need) = s.queue.front() {
                if s.permits < need {
                    break;
                }
                s.permits -= need;
                wakes.extend(s.queue.notify_one(GRANTED));
            }
        }
        waitq::wake_all(wakes);
    }

    /// The permits available right now.
    pub fn available_permits(&self) -> usize {
        self.state.lock().permits
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish()
    }
}

/// Permits taken from a [`Semaphore`]; given back on drop.
#[must_use = "the permits are released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl SemaphorePermit<'_> {
    /// Keeps the permits taken for good (they are not released).
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.release(self.n);
        }
    }
}
