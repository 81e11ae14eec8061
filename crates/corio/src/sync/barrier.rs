//! `Barrier`: rounds of `n` parties.

use std::fmt;

use super::lock::Lock;
use super::waitq::{self, Node, WaitList};

/// Token: the round completed.
const RELEASED: usize = 1;

struct State {
    arrived: usize,
    waiters: WaitList<()>,
}

/// Lets `n` coroutines (or threads) wait until all of them reached the same point, round
/// after round, like [`std::sync::Barrier`]. One party per round is the leader.
///
/// A party that is cancelled while waiting still counts as arrived for that round.
///
/// ```
/// use corio::sync::Barrier;
/// use std::sync::Arc;
///
/// corio::run(|| {
///     let b = Arc::new(Barrier::new(3));
///     let hs: Vec<_> = (0..3)
///         .map(|_| {
///             let b = b.clone();
///             corio::spawn(move || b.wait().is_leader())
///         })
///         .collect();
///     let leaders = hs.into_iter().map(|h| h.join().unwrap()).filter(|&l| l);
///     assert_eq!(leaders.count(), 1);
/// });
/// ```
pub struct Barrier {
    n: usize,
    state: Lock<State>,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this party was the round's leader (the last to arrive).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` parties (`n == 0` behaves like 1).
    pub fn new(n: usize) -> Self {
        Barrier {
            n: n.max(1),
            state: Lock::new(State {
                arrived: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Waits until all `n` parties of this round have called `wait`.
    pub fn wait(&self) -> BarrierWaitResult {
        let node = Node::new(());
        let mut wakes = Vec::new();
        let leader = {
            let mut s = self.state.lock();
            s.arrived += 1;
            if s.arrived < self.n {
                s.waiters.push_back(&node);
                false
            } else {
                s.arrived = 0;
                s.waiters.notify_all(RELEASED, &mut wakes);
                true
            }
        };
        if leader {
            waitq::wake_all(wakes);
            return BarrierWaitResult(true);
        }
        // Cancelled: a release token confers nothing, and every waiter gets its own.
        waitq::wait(&node, None, &self.state, |s| &mut s.waiters, |_| {});
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}
