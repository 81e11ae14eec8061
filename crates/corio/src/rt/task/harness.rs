//! Task completion: storing the outcome, setting `COMPLETE`, waking the joiner, and
//! cancelling tasks that never started. Used by whoever ran (or gave up on) a task: the
//! worker, the blocking pool, and the scheduler's shutdown.

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use super::cell::{RawTask, TaskRef, UNSET};
use super::state::{CANCELLED, COMPLETE, JOIN_WAKER};

/// The panic payload a cancelled task's [`JoinHandle::join`](crate::JoinHandle::join) returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task cancelled")
    }
}

/// Stores the outcome, sets `COMPLETE` and wakes the joiner. The caller holds `RUNNING`.
pub(crate) fn finish(task: &dyn RawTask, out: Result<(), Box<dyn Any + Send>>) {
    if let Err(payload) = out {
        // SAFETY: the caller holds RUNNING and COMPLETE is clear (state rule 1).
        unsafe { task.set_error(payload) };
    }
    let h = task.header();
    let prev = h.state.complete();
    if prev & JOIN_WAKER != 0 {
        // SAFETY: COMPLETE and JOIN_WAKER are both set: we own the slot (state rule 3).
        if let Some(w) = unsafe { h.join_waker() }.take() {
            w.wake();
        }
    }
}

/// Completes a task the caller just took `RUNNING` on (`snap` is what `to_running` returned)
/// if it was cancelled before it started: drops its closure and reports [`Cancelled`].
/// Returns whether it did.
#[inline]
pub(crate) fn cancel_if_requested(task: &dyn RawTask, snap: usize) -> bool {
    if snap & CANCELLED == 0 {
        return false;
    }
    // SAFETY: the caller holds RUNNING (state rule 1); a started task's worker does not
    // call this.
    finish(task, Err(unsafe { drop_closure(task) }));
    true
}

/// Drops a cancelled task's closure and returns the join's error: `Cancelled`, or the panic
/// of a destructor the closure held (caught, so it cannot take the worker down).
///
/// # Safety
/// The caller holds `RUNNING` and the task has not started (state rule 1).
#[cold]
unsafe fn drop_closure(task: &dyn RawTask) -> Box<dyn Any + Send> {
    // SAFETY: as the caller promises.
    let dropped = panic::catch_unwind(AssertUnwindSafe(|| unsafe { task.drop_closure() }));
    match dropped {
        Ok(()) => Box::new(Cancelled),
        Err(payload) => payload,
    }
}

/// Cancels a task that is still unstarted; a reference to a started one is just dropped.
pub(crate) fn cancel_unstarted(task: TaskRef) {
    let h = task.header();
    if h.slot.load(Ordering::Relaxed) != UNSET || h.state.load() & COMPLETE != 0 {
        return;
    }
    h.state.to_running();
    // SAFETY: we hold RUNNING now (state rule 1), and the task never started.
    finish(&*task, Err(unsafe { drop_closure(&*task) }));
}
