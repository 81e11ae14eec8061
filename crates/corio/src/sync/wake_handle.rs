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
pub(crate) use rt::{interrupted, spin_yield, wait_for_wake, WakeHandle};

#[cfg(not(loom))]
mod rt {
    use super::*;
    use crate::rt::context::Interrupt;
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
        // Every wait here asks `interrupted` before it parks again.
        let _settles = crate::rt::context::settle_interrupts();
        match deadline {
            None => {
                task::park();
                false
            }
            Some(d) => task::park_deadline(d),
        }
    }

    /// A cancellation or elapsed timeout scope the running coroutine must deliver. Every
    /// wait asks before it parks (the first time too): it then gives up under its lock as on
    /// a timeout, and calls [`Interrupt::deliver`] only if giving up succeeded (else the
    /// operation completed and keeps its result). `woke`: the wait has parked and woken
    /// since it began, so no code of the coroutine's own ran since it was resumed. See
    /// `rt::context::pending_interrupt`.
    #[inline]
    pub(crate) fn interrupted(woke: bool) -> Option<Interrupt> {
        crate::rt::context::pending_interrupt(woke)
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
pub(crate) use model::{interrupted, spin_yield, wait_for_wake, WakeHandle};

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
    /// running [`cancellable`] whose token is set takes it as the runtime does: a park
    /// returns as from a spurious wake and arms the cancellation ([`interrupted`] reports
    /// it), and the park after that unwinds (`Resume::CancelNow`).
    pub(crate) fn wait_for_wake(_deadline: Option<Instant>) -> bool {
        #[cfg(test)]
        if arm_or_unwind() {
            return false;
        }
        loom::thread::park();
        #[cfg(test)]
        arm_or_unwind();
        false
    }

    /// A modelled cancellation the running thread must deliver (see the runtime's; models
    /// do not unwind, so `woke` changes nothing).
    pub(crate) fn interrupted(_woke: bool) -> Option<Interrupt> {
        #[cfg(test)]
        if ARMED.with(|a| a.get() == Armed::Armed) {
            return Some(Interrupt);
        }
        None
    }

    /// See the runtime's `Interrupt`.
    #[derive(Debug)]
    pub(crate) struct Interrupt;

    impl Interrupt {
        pub(crate) fn deliver(self) -> ! {
            #[cfg(test)]
            {
                ARMED.with(|a| a.set(Armed::Delivered));
                std::panic::resume_unwind(Box::new(Cancelled))
            }
            #[cfg(not(test))]
            unreachable!("no interrupts without the test models")
        }
    }

    /// See the non-loom `spin_yield`; loom must be told, or it would spin forever.
    pub(crate) fn spin_yield() {
        loom::thread::yield_now();
    }

    /// The panic payload of a modelled cancellation.
    #[cfg(test)]
    pub(crate) struct Cancelled;

    /// Where a model thread's cancellation stands (the runtime's `cancel_armed` and
    /// `cancel_unwinding`).
    #[cfg(test)]
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Armed {
        No,
        Armed,
        Delivered,
    }

    #[cfg(test)]
    loom::thread_local! {
        static TOKEN: std::cell::RefCell<Option<Arc<AtomicBool>>> = std::cell::RefCell::new(None);
        static ARMED: std::cell::Cell<Armed> = std::cell::Cell::new(Armed::No);
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

    /// Runs `f` on this model thread; once `token` is set, its next `wait_for_wake` returns
    /// as from a spurious wake with the cancellation armed, and the one after that unwinds
    /// with [`Cancelled`] (unless the wait delivered it itself, through [`interrupted`]),
    /// running the same unwind guards a cancelled coroutine runs. Returns `None` if it was
    /// cancelled.
    #[cfg(test)]
    pub(crate) fn cancellable<R>(token: Arc<AtomicBool>, f: impl FnOnce() -> R) -> Option<R> {
        TOKEN.with(|t| *t.borrow_mut() = Some(token));
        ARMED.with(|a| a.set(Armed::No));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        TOKEN.with(|t| *t.borrow_mut() = None);
        match r {
            Ok(v) => Some(v),
            Err(e) if e.is::<Cancelled>() => None,
            Err(e) => std::panic::resume_unwind(e),
        }
    }

    /// At a park: an armed cancellation unwinds (`CancelNow`); a requested one is armed and
    /// the park returns at once (`true`), as the runtime's `Resume::Cancel` does.
    #[cfg(test)]
    fn arm_or_unwind() -> bool {
        if std::thread::panicking() {
            return false;
        }
        match ARMED.with(|a| a.get()) {
            Armed::Armed => Interrupt.deliver(),
            Armed::Delivered => false,
            Armed::No => {
                let requested = TOKEN.with(|t| {
                    t.borrow()
                        .as_ref()
                        .is_some_and(|tok| tok.load(Ordering::SeqCst))
                });
                if requested {
                    ARMED.with(|a| a.set(Armed::Armed));
                }
                requested
            }
        }
    }
}
