//! [`WakeHandle`]: who is waiting — a coroutine (woken through its [`Unparker`]) or a plain
//! thread (woken through its [`Thread`]) — and [`wait_for_wake`], which suspends whichever of
//! the two is running. (Named apart from the kernel's `task::park` and `Parker`, which this
//! builds on.)
//!
//! This is the seam between the `sync` core and the runtime: every primitive parks and wakes
//! only through this file. Under `cfg(loom)` a waiter is a loom thread, so the model checker
//! drives the same channel and lock code with threads and no runtime at all.
//!
//! [`Unparker`]: crate::task::Unparker
//! [`Thread`]: std::thread::Thread

use std::time::Instant;

#[cfg(not(loom))]
pub(crate) use rt::{spin_yield, wait_for_wake, WakeHandle};

#[cfg(not(loom))]
mod rt {
    use super::*;
    use crate::task::{self, Unparker};
    use std::thread::{self, Thread};

    /// A handle that wakes one parked coroutine or thread. Cloning it is one reference-count
    /// increment; waking it never blocks.
    #[derive(Clone)]
    pub(crate) enum WakeHandle {
        /// A coroutine, parked with `corio::task::park`.
        Coroutine(Unparker),
        /// A plain thread, parked with `std::thread::park`.
        Thread(Thread),
    }

    impl WakeHandle {
        /// The waiter for the code running now.
        #[inline]
        pub(crate) fn current() -> WakeHandle {
            match task::current_unparker() {
                Some(unparker) => WakeHandle::Coroutine(unparker),
                None => WakeHandle::Thread(thread::current()),
            }
        }

        /// Wakes it (or makes its next `wait_for_wake` return at once: one-token memory).
        #[inline]
        pub(crate) fn wake(self) {
            match self {
                WakeHandle::Coroutine(u) => u.unpark_owned(),
                WakeHandle::Thread(t) => t.unpark(),
            }
        }
    }

    /// Parks the running coroutine (or thread) until it is woken or `deadline` passes.
    /// Returns `true` if the deadline has passed. May return spuriously.
    #[inline]
    pub(crate) fn wait_for_wake(deadline: Option<Instant>) -> bool {
        match deadline {
            None => {
                task::park();
                false
            }
            Some(d) => task::park_deadline(d),
        }
    }

    /// Lets another thread run while we spin on something it is about to finish (an
    /// unwinding coroutine may not suspend, so it yields the thread).
    pub(crate) fn spin_yield() {
        thread::yield_now();
    }
}

#[cfg(all(loom, test))]
pub(crate) use model::{cancel_token, cancellable};
#[cfg(loom)]
pub(crate) use model::{spin_yield, wait_for_wake, WakeHandle};

#[cfg(loom)]
mod model {
    use super::*;
    #[cfg(test)]
    use loom::sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    };

    /// Under loom every waiter is a loom thread.
    #[derive(Clone)]
    pub(crate) struct WakeHandle(loom::thread::Thread);

    impl WakeHandle {
        pub(crate) fn current() -> WakeHandle {
            WakeHandle(loom::thread::current())
        }

        pub(crate) fn wake(self) {
            self.0.unpark();
        }
    }

    /// loom has no clock: a deadline is ignored (the models use no timeouts). A model thread
    /// running [`cancellable`] unwinds here once its token is set, as a cancelled coroutine
    /// unwinds at its next suspension point.
    pub(crate) fn wait_for_wake(_deadline: Option<Instant>) -> bool {
        #[cfg(test)]
        unwind_if_cancelled();
        loom::thread::park();
        #[cfg(test)]
        unwind_if_cancelled();
        false
    }

    /// See the non-loom `spin_yield`; loom must be told, or it would spin forever.
    pub(crate) fn spin_yield() {
        loom::thread::yield_now();
    }

    /// The panic payload of a modelled cancellation.
    #[cfg(test)]
    pub(crate) struct Cancelled;

    #[cfg(test)]
    loom::thread_local! {
        static TOKEN: std::cell::RefCell<Option<Arc<AtomicBool>>> = std::cell::RefCell::new(None);
    }

    /// A cancellation token for [`cancellable`], and the function that cancels it: like
    /// `JoinHandle::cancel`, it marks the thread and wakes it.
    #[cfg(test)]
    pub(crate) fn cancel_token() -> (Arc<AtomicBool>, impl Fn(&loom::thread::Thread)) {
        let token = Arc::new(AtomicBool::new(false));
        let t = token.clone();
        (token, move |thread: &loom::thread::Thread| {
            t.store(true, Ordering::SeqCst);
            thread.unpark();
        })
    }

    /// Runs `f` on this model thread; once `token` is set, its next `wait_for_wake` unwinds
    /// (once)
    /// with [`Cancelled`], running the same unwind guards a cancelled coroutine runs.
    /// Returns `None` if it was cancelled.
    #[cfg(test)]
    pub(crate) fn cancellable<R>(token: Arc<AtomicBool>, f: impl FnOnce() -> R) -> Option<R> {
        TOKEN.with(|t| *t.borrow_mut() = Some(token));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        TOKEN.with(|t| *t.borrow_mut() = None);
        match r {
            Ok(v) => Some(v),
            Err(e) if e.is::<Cancelled>() => None,
            Err(e) => std::panic::resume_unwind(e),
        }
    }

    #[cfg(test)]
    fn unwind_if_cancelled() {
        let cancelled = TOKEN.with(|t| {
            t.borrow()
                .as_ref()
                .is_some_and(|tok| tok.swap(false, Ordering::SeqCst))
        });
        if cancelled {
            std::panic::resume_unwind(Box::new(Cancelled));
        }
    }
}
