//! `Selector`: one blocked channel operation, or one blocked `select` over several.
//!
//! A selector lives on the waiting coroutine's (or thread's) stack. Its operations are linked
//! into the channels' wait queues as [`QueuedOp`](super::chan::QueuedOp)s pointing at it. Exactly
//! one party wins it, by CAS on `state`:
//!
//! ```text
//!            a completer claims op i (under op i's channel lock)
//!   WAITING ─────────────────────────────────────────────▶ SELECTED(i) ──▶ done = true
//!      │                                                       (data moved, then `finish`)
//!      │ the owner gives up (timeout, unwinding, or "an op became ready while registering")
//!      ▼
//!   ABORTED
//! ```
//!
//! # Rules (cited as "selector rule N")
//!
//! 1. Only the winner of the CAS out of `WAITING` may touch the owner's message slots, and
//!    only while holding the lock of the channel whose entry it claimed.
//! 2. A completer moves the message, takes the waiter, then stores `done` (Release); after
//!    that store it never touches the selector or the slots again.
//! 3. The owner reads its slots only after seeing `done` (Acquire) or after unlinking its
//!    entries under their channels' locks; it leaves (and frees the selector) only after
//!    unlinking every entry: a linked entry always points at a live selector.
//! 4. A *plain* selector (one plain `send`/`recv`, see `plain`) is linked in one channel
//!    only, and its owner never aborts it by CAS: it gives up by unlinking its entry under
//!    that channel's lock. So every claim of it happens under that lock with no competitor,
//!    and is a plain store; and since a completer claims and finishes in one critical
//!    section, an owner that finds its entry gone (under the lock) finds `done` set.

use std::cell::UnsafeCell;
use std::time::Instant;

use crate::loom::{AtomicBool, AtomicUsize, Ordering};
use crate::sync::wake_handle::{interrupted, spin_yield, wait_for_wake, WakeHandle};

const WAITING: usize = 0;
const ABORTED: usize = 1;
/// `state` of a selector whose operation `i` was chosen is `i + SELECTED`.
const SELECTED: usize = 2;

/// See the module docs.
pub(crate) struct Selector {
    /// Who to wake. Written only by the owner before the selector is first linked
    /// ([`prepare`](Self::prepare)); read by a completer only after it claimed a linked
    /// entry. So the write happens-before every read (through the channel lock).
    waiter: UnsafeCell<Option<WakeHandle>>,
    state: AtomicUsize,
    done: AtomicBool,
    /// Selector rule 4.
    plain: bool,
}

impl Selector {
    /// A selector for the running coroutine or thread.
    pub(crate) fn new() -> Self {
        Selector {
            waiter: UnsafeCell::new(Some(WakeHandle::current())),
            state: AtomicUsize::new(WAITING),
            done: AtomicBool::new(false),
            plain: false,
        }
    }

    /// A selector for one plain `send`/`recv` of the running coroutine or thread (selector
    /// rule 4: the owner must never [`abort`](Self::abort) it).
    pub(crate) fn plain() -> Self {
        Selector {
            plain: true,
            ..Selector::new()
        }
    }

    /// A selector whose waiter handle is taken only if it must really wait
    /// ([`prepare`](Self::prepare)): a plain `send`/`recv` that completes at once never
    /// touches the task's reference count.
    pub(crate) fn lazy() -> Self {
        Selector {
            waiter: UnsafeCell::new(None),
            state: AtomicUsize::new(WAITING),
            done: AtomicBool::new(false),
            plain: false,
        }
    }

    /// Fills in the waiter handle. Must be called by the owner before the selector is linked
    /// into any channel.
    pub(crate) fn prepare(&self) {
        // SAFETY: only the owner calls this, before the first link: no completer can reach
        // the selector yet, so nobody else reads or writes `waiter` (field invariant).
        let w = unsafe { &mut *self.waiter.get() };
        if w.is_none() {
            *w = Some(WakeHandle::current());
        }
    }

    /// Whether nobody has won the selector yet (a hint: it may change right after).
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Relaxed) == WAITING
    }

    /// Tries to choose operation `op` for the owner. On success the caller must move the
    /// data and then call [`finish`](Self::finish) (selector rules 1 and 2).
    pub(crate) fn try_claim(&self, op: usize) -> bool {
        if self.plain {
            // Selector rule 4: we hold the only lock it is linked under, and its owner does
            // not race us with a CAS.
            debug_assert_eq!(self.state.load(Ordering::Relaxed), WAITING);
            self.state.store(op + SELECTED, Ordering::Relaxed);
            return true;
        }
        // Relaxed is enough for the claim itself: the data it guards is reached under the
        // channel lock, and published to the owner by the Release store of `done`. The CAS
        // only has to be atomic against other claimers and `abort`.
        self.state
            .compare_exchange(WAITING, op + SELECTED, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Marks a claimed selector done; returns its waiter to wake once the channel lock is
    /// released. The last touch of the selector by the completer (selector rule 2).
    pub(crate) fn finish(&self) -> WakeHandle {
        // SAFETY: we claimed a linked entry, so `prepare` ran before the link and the owner
        // never touches `waiter` again (field invariant); the channel lock orders the two.
        // Only one completer can claim, so taking the handle (rather than cloning it and
        // leaving the owner to drop its copy) saves two reference-count operations.
        let waiter = unsafe { (*self.waiter.get()).take() }.expect("a linked selector is prepared");
        // Release: the owner's Acquire load of `done` then sees the moved message.
        self.done.store(true, Ordering::Release);
        waiter
    }

    /// The owner gives up. `Err(op)` if a completer chose `op` first: then wait for `done`.
    /// Aborting again is `Ok` (a wait that aborted to deliver an interrupt is aborted again
    /// by the unwind guard of its caller).
    pub(crate) fn abort(&self) -> Result<(), usize> {
        debug_assert!(
            !self.plain,
            "a plain selector is abandoned by unlinking (rule 4)"
        );
        // Acquire on failure: nothing to see yet (the data comes with `done`); Relaxed works.
        match self
            .state
            .compare_exchange(WAITING, ABORTED, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) | Err(ABORTED) => Ok(()),
            Err(s) => Err(s - SELECTED),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        // Acquire: pairs with the Release in `finish` (selector rule 3).
        self.done.load(Ordering::Acquire)
    }

    fn selected(&self) -> usize {
        self.state.load(Ordering::Relaxed) - SELECTED
    }

    /// Parks until an operation is chosen and done (returns it), or `deadline` passes and the
    /// owner aborts first (returns `None`).
    ///
    /// A cancellation or elapsed scope met while waiting (`interrupted`) aborts like the
    /// deadline, and unwinds only if the abort won: an operation chosen first completed, and
    /// the select returns it.
    #[inline]
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Option<usize> {
        let mut woke = false;
        loop {
            if self.is_done() {
                return Some(self.selected());
            }
            let interrupt = interrupted(woke);
            if interrupt.is_some() || wait_for_wake(deadline) {
                return match self.abort() {
                    Ok(()) => {
                        if let Some(interrupt) = interrupt {
                            interrupt.deliver();
                        }
                        None
                    }
                    Err(op) => {
                        // Claimed just in time: the completer is inside its critical section
                        // and will set `done` and wake us (a pending interrupt would unwind
                        // a park now, so spin instead: the section is short).
                        while !self.is_done() {
                            if interrupted(woke).is_some() {
                                spin_yield();
                            } else {
                                wait_for_wake(None);
                                woke = true;
                            }
                        }
                        Some(op)
                    }
                };
            }
            woke = true;
        }
    }

    /// Used while unwinding (we must not suspend): abort (`None`), or wait for a completer
    /// that already claimed us and return its operation. It is inside a short critical
    /// section on another thread (a completer never suspends between claim and `finish`), so
    /// spinning ends quickly.
    pub(crate) fn abort_or_wait_done(&self) -> Option<usize> {
        let op = self.abort().err()?;
        while !self.is_done() {
            spin_yield();
        }
        Some(op)
    }
}
