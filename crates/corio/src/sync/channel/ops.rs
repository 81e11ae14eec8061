//! Operations (one send or one receive on one channel) and the loop that runs one of them,
//! or the first ready of several (`select`), blocking through a [`Selector`].
//!
//! # The select loop (after crossbeam-channel's)
//!
//! 1. **Try** every operation without blocking, starting at a random one (fairness: no arm
//!    is favoured when several are ready). We are linked nowhere yet, so an attempt only
//!    claims *partners*, never our own selector.
//! 2. **Register** every operation in its channel's wait queue. If one turns out ready while
//!    we register, abort our selector (or, if a partner chose us meanwhile, take that) and go
//!    back to 1: we cannot complete it ourselves, because a partner on another channel may be
//!    choosing us concurrently.
//! 3. **Wait** until a partner chooses one operation (its data has then moved, see
//!    `selector`), or the deadline passes and we abort.
//! 4. **Unlink** the other entries; a guard does this also when the wait unwinds.
//!
//! A single operation (plain `send`/`recv`) skips the abort dance: nobody else can choose
//! its selector, so step 2 completes it in place when it is ready (one critical section for
//! "look, then link": no lost wake-up).

use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::DerefMut;
use std::time::Instant;

use super::chan::{Chan, Received, Registration, Sent, Slot};
use super::error::{RecvError, SendError};
use super::selector::Selector;
use crate::rt::coop;
use crate::sync::waiter::park;

/// The outcome of [`Operation::register`].
pub(crate) enum Reg {
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
    fn register(&mut self, sel: &Selector, op: usize, alone: bool) -> Reg;
    /// Unlinks it, if still linked.
    fn unregister(&mut self, sel: &Selector);
    /// Stores the result after a partner chose it.
    fn complete(&mut self);
    /// The channel's address and whether this is a send, to check `SelectedOperation` use.
    fn id(&self) -> (*const (), bool);
    /// Points at the `Option<Result<..>>` result field (typed by [`id`](Self::id)'s channel).
    fn result_ptr(&mut self) -> *mut ();
}

/// A receive on a `Chan<T>`.
pub(crate) struct RecvOp<'a, T> {
    chan: &'a Chan<T>,
    slot: Slot<T>,
    pub(crate) result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvOp<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>) -> Self {
        RecvOp {
            chan,
            slot: Slot::new(None),
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

    fn register(&mut self, sel: &Selector, op: usize, alone: bool) -> Reg {
        // SAFETY: the slot is ours and empty, and the trait contract keeps `self` (and so
        // the slot) in place until it is unlinked or chosen.
        match unsafe { self.chan.register_recv(sel, op, self.slot.ptr(), alone) } {
            Registration::Done(m, wake) => {
                self.result = Some(Ok(m));
                wake_opt(wake);
                Reg::Done
            }
            Registration::Ready if alone => {
                self.result = Some(Err(RecvError)); // alone, "ready" means disconnected
                Reg::Done
            }
            Registration::Ready => Reg::Ready,
            Registration::Linked => Reg::Linked,
        }
    }

    fn unregister(&mut self, sel: &Selector) {
        self.chan.unregister_recv(sel);
    }

    fn complete(&mut self) {
        // A partner filled the slot, or disconnection left it empty.
        self.result = Some(self.slot.take().ok_or(RecvError));
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
    slot: Slot<T>,
    pub(crate) result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendOp<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>, msg: T) -> Self {
        SendOp {
            chan,
            slot: Slot::new(Some(msg)),
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

    fn register(&mut self, sel: &Selector, op: usize, alone: bool) -> Reg {
        // SAFETY: the slot holds our message, and the trait contract keeps `self` in place
        // until it is unlinked or chosen.
        match unsafe { self.chan.register_send(sel, op, self.slot.ptr(), alone) } {
            Registration::Done((), wake) => {
                self.result = Some(Ok(()));
                wake_opt(wake);
                Reg::Done
            }
            Registration::Ready if alone => {
                let m = self.slot.take().expect("unsent message is in the slot");
                self.result = Some(Err(SendError(m))); // alone, "ready" means disconnected
                Reg::Done
            }
            Registration::Ready => Reg::Ready,
            Registration::Linked => Reg::Linked,
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
        Reg::Done => return true,
        Reg::Ready => unreachable!("registering alone completes ready operations"),
        Reg::Linked => {}
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

/// Runs the first ready of `ops` (step list in the module docs), or returns `None` once
/// `deadline` passes.
pub(crate) fn run_select<'o, O>(ops: &mut [O], deadline: Option<Instant>) -> Option<usize>
where
    O: DerefMut<Target = dyn Operation + 'o>,
{
    coop::consume(); // a loop of ready selects must not starve its worker
    let n = ops.len();
    match n {
        0 => {
            // Nothing can ever be ready: sleep until the deadline (forever without one).
            while !park(deadline) {}
            return None;
        }
        1 => return run_one(&mut *ops[0], deadline).then_some(0),
        _ => {}
    }
    loop {
        if let Some(i) = try_select(ops) {
            return Some(i);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
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
                Reg::Linked => {}
                Reg::Ready => {
                    ready = true;
                    break;
                }
                Reg::Done => unreachable!("only `alone` registration completes in place"),
            }
        }
        let chosen = if ready {
            match sel.abort() {
                Ok(()) => None,
                Err(_) => sel.wait(None), // a partner chose us meanwhile
            }
        } else {
            sel.wait(deadline)
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
            None if ready => continue,
            None => return None, // timed out
        }
    }
}

/// Step 1 alone: the first ready operation from a random start, without blocking.
pub(crate) fn try_select<'o, O>(ops: &mut [O]) -> Option<usize>
where
    O: DerefMut<Target = dyn Operation + 'o>,
{
    coop::consume(); // as in `run_select`
    let n = ops.len();
    let start = random(n);
    (0..n).map(|k| (start + k) % n).find(|&i| ops[i].try_op())
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
            self.sel.abort_or_wait_done();
            for op in self.ops.iter_mut() {
                op.unregister(self.sel);
            }
        }
    }
}

/// A random index below `n` (xorshift per thread): where select starts looking.
fn random(n: usize) -> usize {
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

/// Wakes the partner an operation handed a message to (after the channel lock is released).
fn wake_opt(wake: Option<crate::sync::waiter::Waiter>) {
    if let Some(w) = wake {
        w.wake();
    }
}
