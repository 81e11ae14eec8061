//! `WaitGroup`: Go's `sync.WaitGroup`.

use std::fmt;
use std::time::{Duration, Instant};

use super::lock::Lock;
use super::waitq::{self, Node, WaitList};

/// Token: the counter reached zero.
const ZERO: usize = 1;

struct State {
    count: usize,
    waiters: WaitList<()>,
}

/// Waits for a collection of tasks to finish, with Go's semantics: [`add`](Self::add)
/// before starting work, [`done`](Self::done) when each piece finishes, [`wait`](Self::wait)
/// until the counter is back to zero. It can be reused once the counter is zero.
///
/// ```
/// use corio::sync::WaitGroup;
/// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
/// use std::sync::Arc;
///
/// corio::run(|| {
///     let wg = Arc::new(WaitGroup::new());
///     let n = Arc::new(AtomicUsize::new(0));
///     for _ in 0..10 {
///         wg.add(1);
///         let (wg, n) = (wg.clone(), n.clone());
///         corio::spawn(move || {
///             n.fetch_add(1, SeqCst);
///             wg.done();
///         });
///     }
///     wg.wait();
///     assert_eq!(n.load(SeqCst), 10);
/// });
/// ```
pub struct WaitGroup {
    state: Lock<State>,
}

impl WaitGroup {
    /// A wait group with counter 0.
    pub fn new() -> Self {
        WaitGroup {
            state: Lock::new(State {
                count: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Adds `delta` (which may be negative) to the counter; when it reaches zero every
    /// waiter is released.
    ///
    /// # Panics
    /// If the counter would go negative (like Go).
    pub fn add(&self, delta: isize) {
        let mut wakes = Vec::new();
        {
            let mut s = self.state.lock();
            let count = s
                .count
                .checked_add_signed(delta)
                .expect("corio::sync::WaitGroup: negative counter");
            s.count = count;
            if count == 0 {
                s.waiters.notify_all(ZERO, &mut wakes);
            }
        }
        waitq::wake_all(wakes);
    }

    /// Decrements the counter by one.
    pub fn done(&self) {
        self.add(-1);
    }

    /// Waits until the counter is zero.
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Waits until the counter is zero or `timeout` passes; returns whether it reached zero.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Instant::now().checked_add(timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let node = Node::new(());
        {
            let mut s = self.state.lock();
            if s.count == 0 {
                return true;
            }
            s.waiters.push_back(&node);
        }
        // Cancelled: nothing to pass on, every waiter gets its own token.
        waitq::wait(&node, deadline, &self.state, |s| &mut s.waiters, |_| {}).is_some()
    }

    /// The counter now.
    pub fn count(&self) -> usize {
        self.state.lock().count
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}
