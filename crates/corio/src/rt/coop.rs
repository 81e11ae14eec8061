//! The cooperative budget: runtime operations that complete without suspending (a send or
//! receive on a ready channel, an uncontended lock, a socket read that finds data, `try_*`
//! calls) each spend one unit of the running coroutine's budget, which starts at
//! [`COOP_BUDGET`](super::sched::worker::COOP_BUDGET) (128) at every resume. When it is used
//! up and another coroutine of the same worker is runnable (or a timer there is due), the
//! operation yields first, so a loop over operations that never block (`for msg in rx` fed
//! by a faster producer on another worker) cannot starve its worker. With nothing else to
//! run the budget starts over and the loop carries on without suspending.
//!
//! A leaf above the scheduler: `sync` and `net` call [`consume`] at the top of their fast
//! paths; nothing in the kernel imports it.
//!
//! Cost: a thread-local read and a counter decrement per operation; every 128th operation a
//! look at the worker's queues and timers.
//!
//! The yield is a suspension point like any other: a cancelled coroutine unwinds there.

use crate::rt::context;
use crate::rt::Suspend;

/// Spends one unit of the running coroutine's budget, yielding first when it is used up and
/// others are waiting. Outside a coroutine (plain or blocking threads) it does nothing.
#[inline]
pub(crate) fn consume() {
    if context::worker(|w| w.is_some_and(|w| w.spend_budget())) {
        context::suspend(Suspend::Yield);
    }
}
