//! `Condvar`: wait for a condition under a [`Mutex`](super::Mutex), parking the coroutine.

use std::fmt;
use std::time::{Duration, Instant};

use super::lock::Lock;
use super::mutex::MutexGuard;
use super::waitq::{self, Node, WaitList};

/// Token: notified.
const NOTIFIED: usize = 1;

/// A condition variable for [`Mutex`](super::Mutex), like [`std::sync::Condvar`]. Waiters are
/// woken in FIFO order. Spurious wake-ups do not happen, but as with any condition variable,
/// re-check the condition (or use [`wait_while`](Self::wait_while)).
///
/// No notification is lost: a waiter joins the queue *before* it releases the mutex, so a
/// notifier that changed the condition under the mutex always finds it.
///
/// ```
/// use corio::sync::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// corio::run(|| {
///     let pair = Arc::new((Mutex::new(false), Condvar::new()));
///     let p = pair.clone();
///     corio::spawn(move || {
///         *p.0.lock() = true;
///         p.1.notify_one();
///     });
///     let (m, cv) = &*pair;
///     let ready = cv.wait_while(m.lock(), |ready| !*ready);
///     assert!(*ready);
/// });
/// ```
pub struct Condvar {
    queue: Lock<WaitList<()>>,
}

/// Whether a timed wait on a [`Condvar`] timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait ended because its time ran out.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A new condition variable.
    pub fn new() -> Self {
        Condvar {
            queue: Lock::new(WaitList::new()),
        }
    }

    /// Releases the mutex, parks until notified, and re-locks it.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_until_inner(guard, None).0
    }

    /// Waits while `condition` holds (re-checking it after each wake-up).
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Like [`wait`](Self::wait), giving up after `timeout`.
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        self.wait_until_inner(guard, Instant::now().checked_add(timeout))
    }

    /// Like [`wait_while`](Self::wait_while), giving up after `timeout`.
    pub fn wait_timeout_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let deadline = Instant::now().checked_add(timeout);
        while condition(&mut guard) {
            let (g, r) = self.wait_until_inner(guard, deadline);
            guard = g;
            if r.timed_out() {
                let still = condition(&mut guard);
                return (guard, WaitTimeoutResult(still));
            }
        }
        (guard, WaitTimeoutResult(false))
    }

    fn wait_until_inner<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let mutex = MutexGuard::mutex(&guard);
        let node = Node::new(());
        self.queue.lock().push_back(&node); // before unlocking: no lost notification
        drop(guard);
        let token = waitq::wait(
            &node,
            deadline,
            &self.queue,
            |q| q,
            |token| {
                if token.is_some() {
                    // Notified while unwinding: hand the notification to someone who can use it.
                    self.notify_one();
                }
            },
        );
        (mutex.lock(), WaitTimeoutResult(token.is_none()))
    }

    /// Wakes the longest-waiting waiter, if any.
    pub fn notify_one(&self) {
        let waiter = self.queue.lock().notify_one(NOTIFIED);
        if let Some(w) = waiter {
            w.wake();
        }
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        let mut wakes = Vec::new();
        self.queue.lock().notify_all(NOTIFIED, &mut wakes);
        waitq::wake_all(wakes);
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Condvar { .. }")
    }
}
