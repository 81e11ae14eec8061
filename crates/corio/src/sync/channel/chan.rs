//! `Chan<T>`: the shared state of one channel, and the operations on it that the public
//! `Sender`/`Receiver`/`Select` APIs are built from.
//!
//! One [`Lock`] guards a ring buffer (`cap` slots; `cap == 0` is a rendezvous, `usize::MAX`
//! unbounded) and two FIFO queues of blocked operations: senders waiting for room or a
//! receiver, receivers waiting for a message. Blocked operations are [`QueuedOp`]s pointing at
//! a [`Selector`] and a message slot on the waiter's stack, so blocking allocates nothing.
//!
//! # Invariants
//!
//! 1. A receiver waits only while `buf` is empty, a sender only while `buf` is full: any
//!    operation first pairs with a waiting partner, so a message never sits in `buf` while a
//!    claimable receiver waits, and FIFO order is kept (a receive refills `buf` from the
//!    first waiting sender).
//! 2. Entries are linked, claimed and unlinked only under the lock (selector rules 1 and 3):
//!    while an entry is linked and we hold the lock, its selector and slot are alive.
//! 3. An entry whose selector is no longer `WAITING` is stale (its owner aborted or was
//!    chosen by another channel): whoever meets it while claiming unlinks it; the owner's own
//!    unlink then finds nothing, which is fine.
//!
//! 4. `buf` holds at most `cap` messages, plus those [`Chan::pass_on`] put back (a cancelled
//!    receiver's); a receive refills the buffer from a waiting sender only below `cap`, so
//!    the excess drains first.
//!
//! No wake-up is lost: an operation that finds nothing to do links its entry in the *same*
//! critical section in which it looked, so whoever later changes the channel sees the entry.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ptr::NonNull;

use super::selector::Selector;
use crate::loom::AtomicUsize;
use crate::sync::lock::Lock;
use crate::sync::wake_handle::WakeHandle;

/// A blocked operation of a selector (see the module docs).
pub(crate) struct QueuedOp<T> {
    pub(super) sel: NonNull<Selector>,
    /// The operation's index within its selector.
    pub(super) op: usize,
    /// A sender's message (`Some`), or a receiver's empty slot (`None`) to fill.
    pub(super) slot: NonNull<Option<T>>,
}

// SAFETY: an entry is a pair of pointers used only under the channel lock (invariant 2); it
// carries a `T` across threads (hence `T: Send`) and touches the `Selector`, which is `Sync`.
unsafe impl<T: Send> Send for QueuedOp<T> {}

impl<T> QueuedOp<T> {
    /// Completes a claimed receive with `msg`; returns the waiter to wake once the lock is
    /// released.
    ///
    /// # Safety
    /// The caller claimed this receiver entry and still holds the channel lock (selector
    /// rule 1, invariant 2): its selector and slot are alive and nobody else touches them.
    #[inline]
    pub(super) unsafe fn give(self, msg: T) -> WakeHandle {
        // SAFETY: the caller's contract.
        unsafe {
            *self.slot.as_ptr() = Some(msg);
            self.sel.as_ref().finish() // our last touch of the selector (selector rule 2)
        }
    }

    /// Completes a claimed send by taking its message (always `Some`: a waiting sender's
    /// slot holds it); returns it with the waiter to wake once the lock is released.
    ///
    /// # Safety
    /// As for [`give`](Self::give), for a sender entry (whose slot holds its message).
    #[inline]
    pub(super) unsafe fn take(self) -> (Option<T>, WakeHandle) {
        // SAFETY: the caller's contract.
        unsafe { ((*self.slot.as_ptr()).take(), self.sel.as_ref().finish()) }
    }
}

/// The locked part of a channel.
pub(crate) struct Inner<T> {
    pub(super) buf: VecDeque<T>,
    pub(super) senders: VecDeque<QueuedOp<T>>,
    pub(super) receivers: VecDeque<QueuedOp<T>>,
    /// The last `Sender` is gone.
    pub(super) senders_gone: bool,
    /// The last `Receiver` is gone.
    pub(super) receivers_gone: bool,
    /// Run once the last `Receiver` is gone (see [`Chan::when_receivers_gone`]).
    pub(super) receivers_gone_hook: Option<Box<dyn FnOnce() + Send>>,
}

/// The shared state of a channel.
pub(crate) struct Chan<T> {
    pub(super) inner: Lock<Inner<T>>,
    pub(super) cap: usize,
    /// Live `Sender`s; the one that takes it to 0 disconnects.
    pub(crate) sender_count: AtomicUsize,
    /// Live `Receiver`s; the one that takes it to 0 disconnects.
    pub(crate) receiver_count: AtomicUsize,
}

/// What a send attempt did.
pub(crate) enum Sent<T> {
    /// Sent; wake this waiter (a receiver it was handed to) after unlocking.
    Done(Option<WakeHandle>),
    /// No room and no receiver waiting: the message comes back.
    Full(T),
    /// Every receiver is gone: the message comes back.
    Disconnected(T),
}

/// What a receive attempt did.
pub(crate) enum Received<T> {
    /// Got a message; wake this waiter (a sender whose message moved) after unlocking.
    Done(T, Option<WakeHandle>),
    /// Nothing there.
    Empty,
    /// Empty, and every sender is gone.
    Disconnected,
}

/// Links of blocked operations to skip while claiming: the selector running the operation
/// (a `select` may wait to send and to receive on the same channel; it must not pair with
/// itself).
type Me = *const Selector;

impl<T> Chan<T> {
    /// A channel of capacity `cap` (`usize::MAX`: unbounded), with one sender and receiver.
    pub(crate) fn new(cap: usize) -> Self {
        // Bounded channels get their whole ring up front (up to a sane size), so sending
        // never allocates; larger ones grow to `cap` once, then stay.
        let buf = if cap == usize::MAX {
            VecDeque::new()
        } else {
            VecDeque::with_capacity(cap.min(4096))
        };
        Chan {
            inner: Lock::new(Inner {
                buf,
                senders: VecDeque::new(),
                receivers: VecDeque::new(),
                senders_gone: false,
                receivers_gone: false,
                receivers_gone_hook: None,
            }),
            cap,
            sender_count: AtomicUsize::new(1),
            receiver_count: AtomicUsize::new(1),
        }
    }

    /// The capacity, `None` if unbounded.
    pub(crate) fn capacity(&self) -> Option<usize> {
        (self.cap != usize::MAX).then_some(self.cap)
    }

    /// Messages in the buffer now.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().buf.len()
    }

    /// Tries to send `msg` without blocking. `me`: see [`Me`] (null outside a select).
    pub(crate) fn try_send(&self, msg: T, me: Me) -> Sent<T> {
        let mut inner = self.inner.lock();
        self.send_locked(&mut inner, msg, me)
    }

    /// Tries to receive without blocking.
    pub(crate) fn try_recv(&self, me: Me) -> Received<T> {
        let mut inner = self.inner.lock();
        self.recv_locked(&mut inner, me)
    }

    fn send_locked(&self, inner: &mut Inner<T>, msg: T, me: Me) -> Sent<T> {
        if inner.receivers_gone {
            return Sent::Disconnected(msg);
        }
        // A waiting receiver implies an empty buffer (invariant 1): hand the message over.
        if let Some(e) = claim(&mut inner.receivers, me) {
            // SAFETY: claimed just now, and we hold the lock.
            return Sent::Done(Some(unsafe { e.give(msg) }));
        }
        if inner.buf.len() < self.cap {
            inner.buf.push_back(msg);
            return Sent::Done(None);
        }
        Sent::Full(msg)
    }

    fn recv_locked(&self, inner: &mut Inner<T>, me: Me) -> Received<T> {
        if let Some(msg) = inner.buf.pop_front() {
            // Room was made (below `cap`: invariant 4): the first waiting sender's message
            // moves into the buffer.
            let mut wake = None;
            if inner.buf.len() < self.cap {
                if let Some(e) = claim(&mut inner.senders, me) {
                    // SAFETY: claimed just now, and we hold the lock.
                    let (m, w) = unsafe { e.take() };
                    inner.buf.extend(m);
                    wake = Some(w);
                }
            }
            return Received::Done(msg, wake);
        }
        // Empty buffer: a waiting sender hands its message straight over (rendezvous).
        if let Some(e) = claim(&mut inner.senders, me) {
            // SAFETY: claimed just now, and we hold the lock.
            let (m, w) = unsafe { e.take() };
            match m {
                Some(m) => return Received::Done(m, Some(w)),
                None => unreachable!("a waiting sender's slot is empty"),
            }
        }
        if inner.senders_gone {
            Received::Disconnected
        } else {
            Received::Empty
        }
    }

    /// Whether a send would complete (or fail with `Disconnected`) right now.
    fn send_ready(&self, inner: &Inner<T>, me: Me) -> bool {
        inner.receivers_gone || inner.buf.len() < self.cap || has_partner(&inner.receivers, me)
    }

    /// Whether a receive would complete (or fail with `Disconnected`) right now.
    fn recv_ready(&self, inner: &Inner<T>, me: Me) -> bool {
        !inner.buf.is_empty() || inner.senders_gone || has_partner(&inner.senders, me)
    }

    /// Registers a blocked send of the message in `slot` for operation `op` of `sel`.
    ///
    /// With `alone` (the selector has no other operation, so nobody else can claim it) a
    /// send that can proceed is done right here, in the same critical section. Otherwise
    /// nothing is changed when the send is ready: the caller aborts and retries.
    ///
    /// # Safety
    /// `slot` holds the message and, with `sel`, stays alive and untouched by the caller
    /// until the entry is unlinked (selector rule 3).
    pub(crate) unsafe fn register_send(
        &self,
        sel: &Selector,
        op: usize,
        slot: NonNull<Option<T>>,
        alone: bool,
    ) -> RegisterOutcome<()> {
        let mut inner = self.inner.lock();
        let me: Me = sel;
        if alone {
            // SAFETY: the caller owns the slot until it is linked (contract above).
            let msg = unsafe { (*slot.as_ptr()).take() }.expect("send slot holds the message");
            match self.send_locked(&mut inner, msg, me) {
                Sent::Done(w) => return RegisterOutcome::Done((), w),
                Sent::Disconnected(m) => {
                    // SAFETY: as above.
                    unsafe { *slot.as_ptr() = Some(m) };
                    return RegisterOutcome::Ready;
                }
                // SAFETY: as above.
                Sent::Full(m) => unsafe { *slot.as_ptr() = Some(m) },
            }
        } else if self.send_ready(&inner, me) {
            return RegisterOutcome::Ready;
        }
        sel.prepare();
        inner.senders.push_back(QueuedOp {
            sel: NonNull::from(sel),
            op,
            slot,
        });
        RegisterOutcome::Linked
    }

    /// Registers a blocked receive into the empty `slot`; see [`register_send`](Self::register_send).
    ///
    /// # Safety
    /// As for `register_send`; `slot` is empty.
    pub(crate) unsafe fn register_recv(
        &self,
        sel: &Selector,
        op: usize,
        slot: NonNull<Option<T>>,
        alone: bool,
    ) -> RegisterOutcome<T> {
        let mut inner = self.inner.lock();
        let me: Me = sel;
        if alone {
            match self.recv_locked(&mut inner, me) {
                Received::Done(m, w) => return RegisterOutcome::Done(m, w),
                Received::Disconnected => return RegisterOutcome::Ready,
                Received::Empty => {}
            }
        } else if self.recv_ready(&inner, me) {
            return RegisterOutcome::Ready;
        }
        sel.prepare();
        inner.receivers.push_back(QueuedOp {
            sel: NonNull::from(sel),
            op,
            slot,
        });
        RegisterOutcome::Linked
    }

    /// Unlinks `sel`'s blocked send, if it is still linked (returns whether it was).
    pub(crate) fn unregister_send(&self, sel: &Selector) -> bool {
        unlink(&mut self.inner.lock().senders, sel)
    }

    /// Unlinks `sel`'s blocked receive, if it is still linked (returns whether it was).
    pub(crate) fn unregister_recv(&self, sel: &Selector) -> bool {
        unlink(&mut self.inner.lock().receivers, sel)
    }

    /// A receiver that was handed `msg` is unwinding (its coroutine was cancelled) before it
    /// could return it: give it to the next waiting receiver, or else put it back at the front
    /// of the buffer — even past the capacity (invariant 4) — so that a send that returned
    /// `Ok` stays receivable. Only on the unwind path.
    #[cold]
    pub(crate) fn pass_on(&self, msg: T) {
        let mut inner = self.inner.lock();
        if inner.receivers_gone {
            drop(inner);
            drop(msg); // nobody can receive it any more
            return;
        }
        // Our own entries, if any, are stale (our selector is chosen): `claim` drops them.
        if let Some(e) = claim(&mut inner.receivers, std::ptr::null()) {
            // SAFETY: claimed just now, and we hold the lock.
            let waiter = unsafe { e.give(msg) };
            drop(inner);
            waiter.wake();
            return;
        }
        // It was the oldest message (handed over only while the buffer was empty): FIFO.
        inner.buf.push_front(msg);
    }

    /// The last sender is gone: every waiting receiver is chosen, with its slot left empty
    /// (it reports `Disconnected`).
    pub(crate) fn disconnect_senders(&self) {
        let wakes = {
            let mut inner = self.inner.lock();
            inner.senders_gone = true;
            claim_all(&mut inner.receivers)
        };
        wakes.into_iter().for_each(WakeHandle::wake);
    }

    /// The last receiver is gone: every waiting sender is chosen, keeping its message (it
    /// reports `Disconnected` with the message), and buffered messages are dropped.
    ///
    /// The senders are woken first and the messages dropped last, outside the lock: their
    /// destructors may do anything, panicking included (see [`drop_messages`]).
    pub(crate) fn disconnect_receivers(&self) {
        let (wakes, dropped, hook) = {
            let mut inner = self.inner.lock();
            inner.receivers_gone = true;
            (
                claim_all(&mut inner.senders),
                std::mem::take(&mut inner.buf),
                inner.receivers_gone_hook.take(),
            )
        };
        wakes.into_iter().for_each(WakeHandle::wake);
        if let Some(hook) = hook {
            hook();
        }
        drop_messages(dropped);
    }

    /// Runs `hook` when the last receiver is gone (at once if it is already), outside the
    /// channel's lock. One hook per channel: a second replaces the first.
    pub(crate) fn when_receivers_gone(&self, hook: Box<dyn FnOnce() + Send>) {
        let hook = {
            let mut inner = self.inner.lock();
            if !inner.receivers_gone {
                inner.receivers_gone_hook = Some(hook);
                return;
            }
            hook
        };
        hook();
    }
}

/// Drops `msgs` in order. If a destructor panics, the panic propagates and the remaining
/// messages are leaked (the ring itself is freed) rather than dropped while unwinding, which
/// would abort the process if a second one panicked — as crossbeam-channel does.
fn drop_messages<T>(mut msgs: VecDeque<T>) {
    /// Leaks what is left if a destructor unwinds out of the loop below.
    struct LeakRest<'a, T>(&'a mut VecDeque<T>);
    impl<T> Drop for LeakRest<'_, T> {
        fn drop(&mut self) {
            // Forgetting runs no user code, so this is safe while unwinding.
            self.0.drain(..).for_each(std::mem::forget);
        }
    }
    let rest = LeakRest(&mut msgs);
    while let Some(msg) = rest.0.pop_front() {
        drop(msg);
    }
}

/// The outcome of registering a blocked operation.
pub(crate) enum RegisterOutcome<R> {
    /// (`alone` only) The operation completed at once; wake the waiter after unlocking.
    Done(R, Option<WakeHandle>),
    /// The operation can proceed (or fail with `Disconnected`); nothing was linked.
    Ready,
    /// Linked: park.
    Linked,
}

/// Unlinks and claims the first waiting entry that is not `me`, dropping stale ones
/// (invariant 3). Caller holds the lock.
pub(super) fn claim<T>(q: &mut VecDeque<QueuedOp<T>>, me: Me) -> Option<QueuedOp<T>> {
    // The common case is a queue whose first entry is claimable: take it from the front,
    // without `VecDeque::remove`'s general shifting.
    while let Some(e) = q.front() {
        if std::ptr::eq(e.sel.as_ptr(), me) {
            return claim_behind_me(q, me);
        }
        // SAFETY: linked, and we hold the lock: the selector is alive (invariant 2).
        let won = unsafe { e.sel.as_ref() }.try_claim(e.op);
        let e = q.pop_front();
        if won {
            return e;
        }
    }
    None
}

/// [`claim`] when `me` heads the queue (a select waiting on both ends of one channel).
#[cold]
fn claim_behind_me<T>(q: &mut VecDeque<QueuedOp<T>>, me: Me) -> Option<QueuedOp<T>> {
    let mut i = 0;
    while i < q.len() {
        let e = &q[i];
        if std::ptr::eq(e.sel.as_ptr(), me) {
            i += 1;
            continue;
        }
        // SAFETY: linked, and we hold the lock: the selector is alive (invariant 2).
        let won = unsafe { e.sel.as_ref() }.try_claim(e.op);
        let e = q.remove(i);
        if won {
            return e;
        }
    }
    None
}

/// Removes `sel`'s entries from `q`; returns whether there were any. Caller holds the lock.
fn unlink<T>(q: &mut VecDeque<QueuedOp<T>>, sel: &Selector) -> bool {
    let p = NonNull::from(sel);
    let before = q.len();
    q.retain(|e| e.sel != p);
    q.len() != before
}

/// Claims every claimable entry (disconnection), returning the waiters to wake.
fn claim_all<T>(q: &mut VecDeque<QueuedOp<T>>) -> Vec<WakeHandle> {
    let mut wakes = Vec::new();
    while let Some(e) = claim(q, std::ptr::null()) {
        // SAFETY: claimed under the lock: alive and ours until `finish` (selector rule 2).
        wakes.push(unsafe { e.sel.as_ref() }.finish());
    }
    wakes
}

/// Whether `q` has an entry, not `me`, whose selector is still waiting.
fn has_partner<T>(q: &VecDeque<QueuedOp<T>>, me: Me) -> bool {
    q.iter().any(|e| {
        // SAFETY: linked, and we hold the lock: the selector is alive (invariant 2).
        !std::ptr::eq(e.sel.as_ptr(), me) && unsafe { e.sel.as_ref() }.is_waiting()
    })
}

/// A message slot on a waiter's stack (see [`QueuedOp::slot`]).
pub(crate) struct MsgSlot<T>(UnsafeCell<Option<T>>);

impl<T> MsgSlot<T> {
    pub(crate) fn new(v: Option<T>) -> Self {
        MsgSlot(UnsafeCell::new(v))
    }

    pub(crate) fn ptr(&self) -> NonNull<Option<T>> {
        // SAFETY: `UnsafeCell::get` is never null.
        unsafe { NonNull::new_unchecked(self.0.get()) }
    }

    /// Takes the content. Only once no entry links the slot (selector rule 3).
    pub(crate) fn take(&mut self) -> Option<T> {
        self.0.get_mut().take()
    }

    /// Puts a message back. Only once no entry links the slot.
    pub(crate) fn put(&mut self, v: T) {
        *self.0.get_mut() = Some(v);
    }
}
