//! Plain `send` and `recv` (not part of a select): the hottest paths of a channel, written
//! out flat rather than through the select machinery of `ops`.
//!
//! They follow the same protocol (one critical section either completes the operation or
//! links its entry, see `chan`'s invariants), and their entries are ordinary [`QueuedOp`]s, so
//! a plain operation and a `select` pair up with each other as usual. What they save is the
//! select loop's generality: no operation objects behind `dyn`, no registration results
//! passed up through layers, and nobody but the channel can choose their selector.

use std::ptr::NonNull;
use std::time::Instant;

use super::chan::{claim, Chan, MsgSlot, QueuedOp};
use super::selector::Selector;
use crate::rt::coop;
use crate::sync::wake_handle::{interrupted, wait_for_wake};

/// Why a plain operation did not complete.
pub(crate) enum Failed {
    /// The other side is gone.
    Disconnected,
    /// The deadline passed first.
    TimedOut,
}

impl<T> Chan<T> {
    /// Sends `msg`, waiting for room or a receiver (until `deadline`, if any). On failure
    /// the message comes back.
    pub(crate) fn send_wait(&self, msg: T, deadline: Option<Instant>) -> Result<(), (T, Failed)> {
        coop::consume(); // a loop of ready sends must not starve its worker
        let mut inner = self.inner.lock();
        if inner.receivers_gone {
            return Err((msg, Failed::Disconnected));
        }
        // A waiting receiver implies an empty buffer (invariant 1): hand the message over.
        if let Some(e) = claim(&mut inner.receivers, std::ptr::null()) {
            // SAFETY: claimed just now, and we hold the lock.
            let waiter = unsafe { e.give(msg) };
            drop(inner);
            waiter.wake();
            return Ok(());
        }
        if inner.buf.len() < self.cap {
            inner.buf.push_back(msg);
            return Ok(());
        }
        if past(deadline) {
            return Err((msg, Failed::TimedOut));
        }
        // Nothing to do now: link our entry in this same critical section (no lost wake-up).
        let sel = Selector::plain();
        let mut slot = MsgSlot::new(Some(msg));
        inner.senders.push_back(QueuedOp {
            sel: NonNull::from(&sel),
            op: 0,
            slot: slot.ptr(),
        });
        drop(inner);
        let chosen = Waiting::new(self, &sel, Side::Send, slot.ptr()).wait(deadline);
        match (chosen, slot.take()) {
            (true, None) => Ok(()), // a receiver took it
            (true, Some(m)) => Err((m, Failed::Disconnected)),
            (false, Some(m)) => Err((m, Failed::TimedOut)),
            (false, None) => unreachable!("an unchosen send keeps its message"),
        }
    }

    /// Receives a message, waiting for one (until `deadline`, if any).
    pub(crate) fn recv_wait(&self, deadline: Option<Instant>) -> Result<T, Failed> {
        coop::consume(); // as in `send_wait`
        let mut inner = self.inner.lock();
        if let Some(msg) = inner.buf.pop_front() {
            // Room was made (below `cap`: chan invariant 4): the first waiting sender's
            // message moves into the buffer.
            if inner.buf.len() < self.cap {
                if let Some(e) = claim(&mut inner.senders, std::ptr::null()) {
                    // SAFETY: claimed just now, and we hold the lock.
                    let (m, waiter) = unsafe { e.take() };
                    inner.buf.extend(m);
                    drop(inner);
                    waiter.wake();
                }
            }
            return Ok(msg);
        }
        // Empty buffer: a waiting sender hands its message straight over (rendezvous).
        if let Some(e) = claim(&mut inner.senders, std::ptr::null()) {
            // SAFETY: claimed just now, and we hold the lock.
            let (m, waiter) = unsafe { e.take() };
            drop(inner);
            waiter.wake();
            return Ok(m.expect("a waiting sender's slot holds its message"));
        }
        if inner.senders_gone {
            return Err(Failed::Disconnected);
        }
        if past(deadline) {
            return Err(Failed::TimedOut);
        }
        let sel = Selector::plain();
        let mut slot = MsgSlot::new(None);
        inner.receivers.push_back(QueuedOp {
            sel: NonNull::from(&sel),
            op: 0,
            slot: slot.ptr(),
        });
        drop(inner);
        let chosen = Waiting::new(self, &sel, Side::Recv, slot.ptr()).wait(deadline);
        match (chosen, slot.take()) {
            (true, Some(m)) => Ok(m),
            (true, None) => Err(Failed::Disconnected), // chosen by the last sender leaving
            (false, _) => Err(Failed::TimedOut),
        }
    }
}

fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

#[derive(Clone, Copy)]
enum Side {
    Send,
    Recv,
}

/// A linked plain operation waiting to be chosen. If the wait unwinds (a cancelled
/// coroutine), dropping it unlinks the entry — selector rule 3 forbids leaving while linked —
/// and, if a sender had already handed a message to this receiver, passes the message on:
/// the send returned `Ok`, so the message must stay receivable.
struct Waiting<'a, T> {
    chan: &'a Chan<T>,
    sel: &'a Selector,
    side: Side,
    /// The entry's message slot (it outlives this guard).
    slot: NonNull<Option<T>>,
}

impl<'a, T> Waiting<'a, T> {
    fn new(chan: &'a Chan<T>, sel: &'a Selector, side: Side, slot: NonNull<Option<T>>) -> Self {
        Waiting {
            chan,
            sel,
            side,
            slot,
        }
    }

    /// Parks until chosen (`true`: the partner unlinked the entry and moved the data), or
    /// until `deadline` passes with the entry still linked (`false`: it is unlinked now).
    /// A cancellation or elapsed scope met while waiting (`interrupted`) gives up like the
    /// deadline, and unwinds only if the entry was still linked: a partner that chose it
    /// first completed the operation, which keeps its result.
    fn wait(self, deadline: Option<Instant>) -> bool {
        let mut woke = false;
        let chosen = loop {
            if self.sel.is_done() {
                break true;
            }
            if let Some(interrupt) = interrupted(woke) {
                if self.give_up() {
                    std::mem::forget(self); // unlinked, the slot untouched by any partner
                    interrupt.deliver();
                }
                break true;
            }
            if wait_for_wake(deadline) && self.give_up() {
                break false;
            }
            woke = true;
        };
        std::mem::forget(self); // unlinked either way: nothing left for `drop`
        chosen
    }

    /// Unlinks the entry if no partner has chosen it yet (`true`). Otherwise the partner
    /// finished inside the critical section in which it unlinked us, so the data has moved
    /// (selector rule 4).
    fn give_up(&self) -> bool {
        let unlinked = match self.side {
            Side::Send => self.chan.unregister_send(self.sel),
            Side::Recv => self.chan.unregister_recv(self.sel),
        };
        debug_assert!(unlinked || self.sel.is_done());
        unlinked
    }
}

impl<T> Drop for Waiting<'_, T> {
    /// Only on the unwind path (`wait` forgets the guard when it returns).
    fn drop(&mut self) {
        if self.give_up() {
            return;
        }
        if let Side::Recv = self.side {
            // SAFETY: the entry is unlinked and its completer finished (selector rules 3
            // and 4), so nobody else touches the slot, which lives in our caller's frame.
            if let Some(msg) = unsafe { (*self.slot.as_ptr()).take() } {
                self.chan.pass_on(msg);
            }
        }
    }
}
