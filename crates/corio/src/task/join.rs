//! `JoinHandle`: waits for a task's output, cancels it, or detaches it on drop.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use super::{JoinError, TaskId};
use crate::rt::capture::WaitTarget;
use crate::rt::{self, TaskRef, COMPLETE, JOIN_WAKER};

/// An owned permission to join a task: wait for it and take its output.
///
/// Dropping the handle *detaches* the task: it keeps running and its output is dropped.
/// `JoinHandle<T>` is also a [`Future`] with output `Result<T, JoinError>`, so async code
/// (and [`block_on`](crate::block_on)) can await a coroutine.
///
/// ```
/// let sum = corio::run(|| {
///     let h = corio::spawn(|| (1..=10).sum::<u32>());
///     h.join().unwrap()
/// });
/// assert_eq!(sum, 55);
/// ```
pub struct JoinHandle<T> {
    task: TaskRef,
    _output: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    /// The task must have output type `T` (checked by construction: `Task<F, T>`).
    pub(crate) fn new(task: TaskRef) -> Self {
        JoinHandle {
            task,
            _output: PhantomData,
        }
    }

    /// Waits for the task and returns its output, or a [`JoinError`] saying whether it was
    /// cancelled or panicked (with the panic's payload).
    ///
    /// Inside a coroutine this parks only the coroutine; elsewhere it blocks the thread.
    pub fn join(self) -> Result<T, JoinError> {
        let foreign = rt::context::runtime_id() != Some(self.task.header().rt);
        let _note = rt::context::note_wait(WaitTarget::Task(self.task.header().id));
        rt::wait(self, foreign)
    }

    /// [`join`](Self::join) with a time limit: `Ok` with the join's result if the task
    /// finishes within `timeout`, else `Err` with the handle back (to wait again, cancel the
    /// task, or drop the handle to detach it). The task itself is not touched by the timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// corio::run(|| {
    ///     let h = corio::spawn(|| corio::time::sleep(Duration::from_secs(3600)));
    ///     let h = h.join_timeout(Duration::from_millis(5)).unwrap_err();
    ///     h.cancel();
    ///     assert!(h.join().unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn join_timeout(self, timeout: Duration) -> Result<Result<T, JoinError>, JoinHandle<T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.join_deadline(deadline),
            None => Ok(self.join()),
        }
    }

    /// [`join_timeout`](Self::join_timeout) with the deadline as an instant.
    pub fn join_deadline(
        mut self,
        deadline: Instant,
    ) -> Result<Result<T, JoinError>, JoinHandle<T>> {
        let foreign = rt::context::runtime_id() != Some(self.task.header().rt);
        let _note = rt::context::note_wait(WaitTarget::Task(self.task.header().id));
        match rt::wait::wait_until(&mut self, foreign, Some(deadline)) {
            Some(out) => Ok(out),
            None => Err(self),
        }
    }

    /// Whether the task has finished (returned, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.task.header().state.load() & COMPLETE != 0
    }

    /// Cancels the task. If it has not started, it never will (its closure is dropped); if it
    /// is suspended, it is woken and unwinds (running its destructors) from that suspension
    /// point; if it is running, it unwinds at its next suspension point. A task that completes
    /// first keeps its output. Cancelling a finished task does nothing. See
    /// [the cancellation contract](crate::task#cancellation) for what each operation
    /// guarantees when it is the one cancelled.
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::spawn(|| corio::time::sleep(std::time::Duration::from_secs(3600)));
    ///     h.cancel();
    ///     assert!(h.join().unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn cancel(&self) {
        if self.task.header().state.cancel() {
            rt::schedule(self.task.clone());
        }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        TaskId(self.task.header().id)
    }

    /// The task's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.task.header().name.as_deref()
    }

    fn take_output(&self) -> Result<T, JoinError> {
        let mut out: Option<thread::Result<T>> = None;
        // SAFETY: COMPLETE was seen; `out` has this task's output type (see `new`).
        unsafe { self.task.take_output(&mut out as *mut _ as *mut ()) };
        out.expect("output written")
            .map_err(|payload| JoinError::new(self.id(), payload))
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let h = self.task.header();
        let s = h.state.load();
        if s & COMPLETE != 0 {
            return Poll::Ready(self.take_output());
        }
        // Take the waker slot back before writing it (state rule 3).
        if s & JOIN_WAKER != 0 && !h.state.unset_join_waker() {
            return Poll::Ready(self.take_output());
        }
        // SAFETY: JOIN_WAKER is clear, so the slot is ours (state rule 3).
        unsafe { *h.join_waker() = Some(cx.waker().clone()) };
        if !h.state.set_join_waker() {
            // Completed meanwhile; the completer saw no waker. The slot is still ours.
            // SAFETY: as above.
            unsafe { *h.join_waker() = None };
            return Poll::Ready(self.take_output());
        }
        Poll::Pending
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let h = self.task.header();
        let s = h.state.load();
        if s & JOIN_WAKER != 0 && s & COMPLETE == 0 && h.state.unset_join_waker() {
            // SAFETY: JOIN_WAKER is clear again: the slot is ours (state rule 3).
            unsafe { *h.join_waker() = None };
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}
