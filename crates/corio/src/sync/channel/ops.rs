//! Operations (one send or one receive on one channel) and the loop that runs one of them,
//! or the first ready of several (`select`), blocking through a [`Selector`].
//!
//! # The select loop (after crossbeam-channel's)
//!
//! 1. **Try** every operation without blocking, in a random order (fairness: each ready arm
//!    is equally likely to be chosen). We are linked nowhere yet, so an attempt only
//!    claims *partners*, never our own selector.
//! 2. **Register** every operation in its channel's wait queue. If one turns out ready while
//!    we register, abort our selector (or, if a partner chose us meanwhile, take that) and go
//!    back to 1: we cannot complete it ourselves, because a partner on another channel may be
//!    choosing us concurrently.
//! 3. **Wait** until a partner chooses one operation (its data has then moved, see
//!    `selector`), or the deadline passes and we abort. A select that may not wait (or whose
//!    deadline has passed) still registers, then aborts at once: that makes "nothing was
//!    ready" a linearizable answer (see [`run_select`]).
//! 4. **Unlink** the other entries; a guard does this also when the wait unwinds.
//!
//! A single operation (plain `send`/`recv`) skips the abort dance: nobody else can choose
//! its selector, so step 2 completes it in place when it is ready (one critical section for
//! "look, then link": no lost wake-up).

use std::marker::PhantomData;
use std::ops::DerefMut;
use std::time::Instant;

use super::chan::{Chan, MsgSlot, Received, RegisterOutcome, Sent};
use super::error::{RecvError, SendError};
use super::selector::Selector;
use crate::sync::wake_handle::wait_for_wake;

/// The outcome of [`Operation::register`].
pub(crate) enum Registered {
    /// Completed at once (only when registering alone); the result is stored.
    Done,
    /// Ready; nothing linked.
    Ready,
    /// Linked into the channel's wait queue.
    Linked,
}

/// One channel operation of a select (or of a plain `send`/`recv`).
pub(crate) trait Operation {
    /// Attempts it without blocking; on success stores the result and returns `true`.
    fn try_op(&mut self) -> bool;
    /// Links it as operation `op` of `sel` (see [`Chan::register_send`]). The operation must
    /// not move until [`unregister`](Self::unregister) or completion.
    fn register(&mut self, sel: &Selector, op: usize, alone: bool) -> Registered;
    /// Unlinks it, if still linked.
    fn unregister(&mut self, sel: &Selector);
    /// Stores the result after a partner chose it.
    fn complete(&mut self);
    /// A partner chose it but the owner is unwinding (cancelled) instead of completing:
    /// pass on whatever the partner handed over. Called after [`unregister`](Self::unregister).
    fn pass_on(&mut self) {}
    /// The channel's address and whether this is a send, to check `SelectedOperation` use.
    fn id(&self) -> (*const (), bool);
    /// Points at the `Option<Result<..>>` result field (typed by [`id`](Self::id)'s channel).
    fn result_ptr(&mut self) -> *mut ();
}

/// A receive on a `Chan<T>`.
pub(crate) struct RecvOp<'a, T> {
    chan: &'a Chan<T>,
    slot: MsgSlot<T>,
    pub(crate) result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvOp<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>) -> Self {
        RecvOp {
            chan,
            slot: MsgSlot::new(None),
            result: None,
        }
    }
}

impl<T> Operation for RecvOp<'_, T> {
    fn try_op(&mut self) -> bool {
        match self.chan.try_recv(std::ptr::null()) {
            Received::Done(m, wake) => {
                self.result = Some(Ok(m));
                wake_opt(wake);
                true
            }
            Received::Disconnected => {
                self.result = Some(Err(RecvError));
                true
            }
            Received::Empty => false,
        }
    }

    fn register(&mut self, sel: &Selector, op: usize, alone: bool) -> Registered {
        // SAFETY: the slot is ours and empty, and the trait contract keeps `self` (and so
        // the slot) in place until it is unlinked or chosen.
        match unsafe { self.chan.register_recv(sel, op, self.slot.ptr(), alone) } {
            RegisterOutcome::Done(m, wake) => {
                self.result = Some(Ok(m));
                wake_opt(wake);
                Registered::Done
            }
            RegisterOutcome::Ready if alone => {
                self.result = Some(Err(RecvError)); // alone, "ready" means disconnected
                Registered::Done
            }
            RegisterOutcome::Ready => Registered::Ready,
            RegisterOutcome::Linked => Registered::Linked,
        }
    }

    fn unregister(&mut self, sel: &Selector) {
        self.chan.unregister_recv(sel);
    }

    fn complete(&mut self) {
        // A partner filled the slot, or disconnection left it empty.
        self.result = Some(self.slot.take().ok_or(RecvError));
    }

    fn pass_on(&mut self) {
        // A sender's `Ok` means the message stays receivable: give it to another receiver.
        if let Some(msg) = self.slot.take() {
            self.chan.pass_on(msg);
        }
    }

    fn id(&self) -> (*const (), bool) {
        (self.chan as *const Chan<T> as *const (), false)
    }

    fn result_ptr(&mut self) -> *mut () {
        &mut self.result as *mut Option<Result<T, RecvError>> as *mut ()
    }
}

/// A send on a `Chan<T>`.
pub(crate) struct SendOp<'a, T> {
    chan: &'a Chan<T>,
    slot: MsgSlot<T>,
    pub(crate) result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendOp<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>, msg: T) -> Self {
        SendOp {
            chan,
            slot: MsgSlot::new(Some(msg)),
            result: None,
        }
    }
}

impl<T> Operation for SendOp<'_, T> {
    fn try_op(&mut self) -> bool {
        let Some(msg) = self.slot.take() else {
            return true; // already done
        };
        match self.chan.try_send(msg, std::ptr::null()) {
            Sent::Done(wake) => {
                self.result = Some(Ok(()));
                wake_opt(wake);
                true
            }
            Sent::Disconnected(m) => {
                self.result = Some(Err(SendError(m)));
                true
            }
            Sent::Full(m) => {
                self.slot.put(m);
                false
            }
        }
    }

    fn register(&mut self, sel: &Selector, op: usize, alone: bool) -> Registered {
        // SAFETY: the slot holds our message, and the trait contract keeps `self` in place
        // until it is unlinked or chosen.
        match unsafe { self.chan.register_send(sel, op, self.slot.ptr(), alone) } {
            RegisterOutcome::Done((), wake) => {
                self.result = Some(Ok(()));
                wake_opt(wake);
                Registered::Done
            }
            RegisterOutcome::Ready if alone => {
                let m = self.slot.take().expect("unsent message is in the slot");
                self.result = Some(Err(SendError(m))); // alone, "ready" means disconnected
                Registered::Done
            }
            RegisterOutcome::Ready => Registered::Ready,
            RegisterOutcome::Linked => Registered::Linked,
        }
    }

    fn unregister(&mut self, sel: &Selector) {
        self.chan.unregister_send(sel);
    }

    fn complete(&mut self) {
        // A partner took the message, or disconnection left it in the slot.
        self.result = Some(match self.slot.take() {
            None => Ok(()),
            Some(m) => Err(SendError(m)),
        });
    }

    fn id(&self) -> (*const (), bool) {
        (self.chan as *const Chan<T> as *const (), true)
    }

    fn result_ptr(&mut self) -> *mut () {
        &mut self.result as *mut Option<Result<(), SendError<T>>> as *mut ()
    }
}

/// Runs one operation until it completes (`true`) or `deadline` passes (`false`).
pub(crate) fn run_one(op: &mut dyn Operation, deadline: Option<Instant>) -> bool {
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return op.try_op();
    }
    // One critical section either completes the operation or links it; the waiter handle
    // is only taken in the second case (`Selector::prepare`).
    let sel = Selector::lazy();
    match op.register(&sel, 0, true) {
        Registered::Done => return true,
        Registered::Ready => unreachable!("registering alone completes ready operations"),
        Registered::Linked => {}
    }
    let mut op = op;
    let mut guard = Unlink {
        ops: std::slice::from_mut(&mut op),
        sel: &sel,
        armed: true,
        _ops: PhantomData,
    };
    let chosen = sel.wait(deadline);
    guard.armed = false;
    drop(guard);
    match chosen {
        // The partner unlinked our only entry when it claimed it.
        Some(_) => {
            op.complete();
            true
        }
        None => {
            op.unregister(&sel);
            false
        }
    }
}

/// How long a select may wait.
#[derive(Clone, Copy)]
pub(crate) enum Timeout {
    /// Until an operation is performed.
    Never,
    /// Until this instant.
    At(Instant),
    /// Not at all (`try_select`, `select!` with `default`).
    Now,
}

impl Timeout {
    fn deadline(self) -> Option<Instant> {
        match self {
            Timeout::Never => None,
            Timeout::At(d) => Some(d),
            Timeout::Now => Some(Instant::now()),
        }
    }

    fn passed(self) -> bool {
        match self {
            Timeout::Never => false,
            Timeout::At(d) => Instant::now() >= d,
            Timeout::Now => true,
        }
    }
}

/// Runs the first ready of `ops` (step list in the module docs), or returns `None` once
/// `timeout` passes.
///
/// Giving up is linearizable: `None` means there was one instant at which no operation was
/// ready — the moment the selector was aborted with every operation linked (a linked
/// operation that becomes ready chooses the selector instead, so each stayed not ready from
/// its registration until the abort). A single pass of attempts could not promise that: each
/// attempt sees its channel at a different instant.
#[inline]
pub(crate) fn run_select<'o, O>(ops: &mut [O], timeout: Timeout) -> Option<usize>
where
    O: DerefMut<Target = dyn Operation + 'o>,
{
    match ops.len() {
        0 => {
            // Nothing can ever be ready: sleep until the deadline (forever without one).
            if let Timeout::Now = timeout {
                return None;
            }
            while !wait_for_wake(timeout.deadline()) {}
            None
        }
        // One attempt is one critical section: linearizable by itself.
        1 if matches!(timeout, Timeout::Now) => ops[0].try_op().then_some(0),
        1 => run_one(&mut *ops[0], timeout.deadline()).then_some(0),
        _ => try_select(ops).or_else(|| select_slow(ops, timeout)),
    }
}

/// [`run_select`] for several operations once a first pass found none ready: steps 2-4,
/// and back to 1 when an operation turns out ready while registering.
#[inline(never)]
fn select_slow<'o, O>(ops: &mut [O], timeout: Timeout) -> Option<usize>
where
    O: DerefMut<Target = dyn Operation + 'o>,
{
    let n = ops.len();
    loop {
        let sel = Selector::new();
        let start = random(n);
        let mut guard = Unlink {
            ops: &mut *ops,
            sel: &sel,
            armed: true,
            _ops: PhantomData,
        };
        let mut ready = false;
        for k in 0..n {
            let i = (start + k) % n;
            match guard.ops[i].register(&sel, i, false) {
                Registered::Linked => {}
                Registered::Ready => {
                    ready = true;
                    break;
                }
                Registered::Done => unreachable!("only `alone` registration completes in place"),
            }
        }
        let chosen = if ready || timeout.passed() {
            match sel.abort() {
                Ok(()) => None,
                Err(_) => sel.wait(None), // a partner chose us meanwhile
            }
        } else {
            sel.wait(timeout.deadline())
        };
        guard.armed = false;
        for (i, op) in guard.ops.iter_mut().enumerate() {
            if Some(i) != chosen {
                op.unregister(&sel);
            }
        }
        match chosen {
            Some(i) => {
                guard.ops[i].complete();
                return Some(i);
            }
            None if !ready => return None, // timed out
            None => {}
        }
        drop(guard); // disarmed: nothing to do
        if let Some(i) = try_select(ops) {
            return Some(i);
        }
    }
}

/// Step 1 alone: attempts the operations in a uniformly random order (a lazy Fisher-Yates
/// shuffle: each step draws the next operation among those not tried yet) and performs the
/// first ready one, without blocking. So among the operations ready during the pass each is
/// equally likely to be chosen, as in Go and crossbeam (starting at a random index and going
/// round would favour an operation that follows a run of unready ones).
pub(crate) fn try_select<'o, O>(ops: &mut [O]) -> Option<usize>
where
    O: DerefMut<Target = dyn Operation + 'o>,
{
    let n = ops.len();
    if n > 32 {
        return try_select_many(ops);
    }
    // The order lives on the stack (a `Select` is often built for one call, so a Vec would
    // be an allocation per select); 32 `u8`s are two stores to clear.
    let mut order = [0u8; 32];
    for (i, slot) in order[..n].iter_mut().enumerate() {
        *slot = i as u8;
    }
    for k in 0..n {
        order.swap(k, k + random(n - k));
        let i = order[k] as usize;
        if ops[i].try_op() {
            return Some(i);
        }
    }
    None
}

/// [`try_select`] beyond 32 operations.
#[cold]
fn try_select_many<'o, O>(ops: &mut [O]) -> Option<usize>
where
    O: DerefMut<Target = dyn Operation + 'o>,
{
    let n = ops.len();
    let mut order: Vec<usize> = (0..n).collect();
    for k in 0..n {
        order.swap(k, k + random(n - k));
        let i = order[k];
        if ops[i].try_op() {
            return Some(i);
        }
    }
    None
}

/// Unlinks every operation (after aborting or finishing the selector) if the wait unwinds.
struct Unlink<'s, 'o, O: DerefMut<Target = dyn Operation + 'o>> {
    ops: &'s mut [O],
    sel: &'s Selector,
    armed: bool,
    _ops: PhantomData<&'o ()>,
}

impl<'o, O: DerefMut<Target = dyn Operation + 'o>> Drop for Unlink<'_, 'o, O> {
    fn drop(&mut self) {
        if self.armed {
            // Unwinding out of the wait (a cancelled coroutine): selector rule 3 says we may
            // not leave while linked, nor while a completer is still moving our data.
            let chosen = self.sel.abort_or_wait_done();
            for op in self.ops.iter_mut() {
                op.unregister(self.sel);
            }
            if let Some(i) = chosen {
                self.ops[i].pass_on(); // a partner handed us something: not ours to drop
            }
        }
    }
}

/// A random index below `n` (xorshift per thread): select's order of attempts.
#[cfg(not(loom))]
fn random(n: usize) -> usize {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x9E37_79B9_7F4A_7C15);
            h.finish() | 1
        });
    }
    if n <= 1 {
        return 0;
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (((x >> 32) * n as u64) >> 32) as usize
    })
}

/// Under loom every execution of a model must make the same choices: no randomness.
#[cfg(loom)]
fn random(_n: usize) -> usize {
    0
}

/// Wakes the partner an operation handed a message to (after the channel lock is released).
fn wake_opt(wake: Option<crate::sync::wake_handle::WakeHandle>) {
    if let Some(w) = wake {
        w.wake();
    }
}
