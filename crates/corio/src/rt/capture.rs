//! Backtraces of suspended coroutines, for `corio::debug::dump`. A leaf of the kernel.
//!
//! A coroutine's stack is `!Send` territory: only its home worker may touch it. So a dump
//! asks every worker (a [`Requests`] entry, then a rouse); each worker, between two
//! resumes, resumes each of its suspended coroutines once with `Resume::Capture`. The
//! coroutine, still inside `context::suspend`, takes a backtrace there ([`take_here`]) and
//! suspends again at once with the same message, so nothing is woken, requeued or run: the
//! task's state word is not touched, and a wake that arrives meanwhile is handled as usual.
//!
//! Cost: per coroutine two context switches and an unwinder walk of its stack (tens of
//! microseconds), paid by its worker while the dump runs; symbolizing happens later, off the
//! workers (the first time it loads the binary's debug info: can take a second).
//! Nothing is paid while no dump is asked for beyond a relaxed load every 61 scheduling
//! points and before a worker sleeps.

use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What a parked coroutine waits for, where its frames cannot say (re-exported as
/// `corio::debug::WaitTarget`). A wait notes it in its coroutine's context
/// (`context::note_wait`); a capture takes it with the backtrace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitTarget {
    /// File descriptor `.0` to become readable (a socket read or accept, say).
    Read(i32),
    /// File descriptor `.0` to become writable (a socket write or connect).
    Write(i32),
    /// The task with this id to finish (a `join`).
    Task(u64),
    /// This deadline (a `sleep`, or a wait with a timeout).
    Until(std::time::Instant),
}

thread_local! {
    /// What the coroutine just resumed with `Resume::Capture` took: its backtrace and what
    /// it noted it waits for.
    static TAKEN: RefCell<Option<(Backtrace, Option<WaitTarget>)>> = const { RefCell::new(None) };
}

/// Called by a coroutine resumed with `Resume::Capture`, at its suspension point, with what
/// it noted it waits for.
#[cold]
#[inline(never)]
pub(crate) fn take_here(note: Option<WaitTarget>) {
    let bt = Backtrace::force_capture();
    TAKEN.with(|t| *t.borrow_mut() = Some((bt, note)));
}

/// What the last capture on this thread took.
pub(crate) fn taken() -> Option<(Backtrace, Option<WaitTarget>)> {
    TAKEN.with(|t| t.borrow_mut().take())
}

/// What a worker reports of one of its coroutines.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    pub(crate) id: u64,
    pub(crate) name: Option<String>,
    pub(crate) spawned_at: &'static std::panic::Location<'static>,
    pub(crate) worker: usize,
    /// Woken or yielded, waiting for its turn (else parked).
    pub(crate) runnable: bool,
    /// From its suspension point (the frames of the capture itself included).
    pub(crate) backtrace: Option<Arc<Backtrace>>,
    /// What it noted it waits for (`context::note_wait`).
    pub(crate) note: Option<WaitTarget>,
    /// How long it has been parked (to the coarse clock's resolution), if parked.
    pub(crate) parked_for: Option<std::time::Duration>,
}

/// Where a worker sends what it captured.
pub(crate) type Reply = Box<dyn FnOnce(Vec<Captured>) + Send>;

/// One worker's pending dump requests.
#[derive(Default)]
pub(crate) struct Requests {
    pending: AtomicBool,
    replies: Mutex<Vec<Reply>>,
}

impl Requests {
    /// Queues a request (the caller then rouses the worker).
    pub(crate) fn push(&self, reply: Reply) {
        self.replies.lock().unwrap().push(reply);
        self.pending.store(true, Ordering::SeqCst);
    }

    /// Whether a request waits (cheap: the worker looks often).
    #[inline]
    pub(crate) fn pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    /// The waiting requests.
    pub(crate) fn take(&self) -> Vec<Reply> {
        self.pending.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.replies.lock().unwrap())
    }
}
