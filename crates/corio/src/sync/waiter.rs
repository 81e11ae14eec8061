//! `Waiter`: who is waiting — a coroutine (woken through its [`Unparker`]) or a plain thread
//! (woken through its [`Thread`]) — and [`park`], which suspends whichever of the two is
//! running.
//!
//! This is the seam between the `sync` core and the runtime: every primitive parks and wakes
//! only through this file. Under `cfg(loom)` a waiter is a loom thread, so the model checker
//! drives the same channel and lock code with threads and no runtime at all.
//!
//! [`Unparker`]: crate::task::Unparker
//! [`Thread`]: std::thread::Thread

use std::time::Instant;

#[cfg(not(loom))]
pub(crate) use rt::{park, Waiter};

#[cfg(not(loom))]
mod rt {
    use super::*;
    use crate::task::{self, Unparker};
    use std::thread::{self, Thread};

    /// A handle that wakes one parked coroutine or thread. Cloning it is one reference-count
    /// increment; waking it never blocks.
    #[derive(Clone)]
    pub(crate) enum Waiter {
        /// A coroutine, parked with `corio::task::park`.
        Coroutine(Unparker),
        /// A plain thread, parked with `std::thread::park`.
        Thread(Thread),
    }

    impl Waiter {
        /// The waiter for the code running now.
        #[inline]
        pub(crate) fn current() -> Waiter {
            match task::current_unparker() {
                Some(unparker) => Waiter::Coroutine(unparker),
                None => Waiter::Thread(thread::current()),
            }
        }

        /// Wakes it (or makes its next `park` return at once: one-token memory).
        #[inline]
        pub(crate) fn wake(self) {
            match self {
                Waiter::Coroutine(u) => u.unpark(),
                Waiter::Thread(t) => t.unpark(),
            }
        }
    }

    /// Parks the running coroutine (or thread) until it is woken or `deadline` passes.
    /// Returns `true` if the deadline has passed. May return spuriously.
    #[inline]
    pub(crate) fn park(deadline: Option<Instant>) -> bool {
        match deadline {
            None => {
                task::park();
                false
            }
            Some(d) => task::park_deadline(d),
        }
    }
}

#[cfg(loom)]
pub(crate) use model::{park, Waiter};

#[cfg(loom)]
mod model {
    use super::*;

    /// Under loom every waiter is a loom thread.
    #[derive(Clone)]
    pub(crate) struct Waiter(loom::thread::Thread);

    impl Waiter {
        pub(crate) fn current() -> Waiter {
            Waiter(loom::thread::current())
        }

        pub(crate) fn wake(self) {
            self.0.unpark();
        }
    }

    /// loom has no clock: a deadline is ignored (the models use no timeouts).
    pub(crate) fn park(_deadline: Option<Instant>) -> bool {
        loom::thread::park();
        false
    }
}
