//! Timers in the kernel: the per-worker [`wheel`] and [`park_until`], the one way a
//! coroutine waits for a deadline, and timeout [`scope`]s, the one way code is unwound at
//! one. The public `crate::time` (`sleep`, `sleep_until`, `timeout`) and
//! `task::park_deadline` sit above; the worker (`rt::sched::worker`) owns each wheel and
//! fires it.

pub(crate) mod scope;
pub(crate) mod wheel;

use std::panic::Location;
use std::time::Instant;

use crate::rt::capture::WaitTarget;
use crate::rt::context;
use crate::rt::coroutine::Suspend;
use crate::rt::scope::Mark;
use crate::rt::task::cell::{TaskCell, TaskRef};
use wheel::TimerKey;

/// Parks the current coroutine until it is woken or `deadline` passes; returns whether the
/// deadline has passed. The building block for per-operation timeouts.
///
/// Must be called inside a coroutine.
pub(crate) fn park_until(deadline: Instant) -> bool {
    park_until_from(Instant::now(), deadline)
}

/// [`park_until`] for a caller that has just read the clock as `now`: one read fewer (perf
/// of a burst of 100k `sleep`s, three clock reads each, put `clock_gettime` at about a
/// fifth of the workers' time).
pub(crate) fn park_until_from(now: Instant, deadline: Instant) -> bool {
    if now >= deadline {
        return true;
    }
    let timer = TimerGuard::register(deadline, None);
    let note = context::note_wait(WaitTarget::Until(deadline));
    context::suspend(Suspend::Park);
    drop(note);
    match timer.cancel() {
        // It fired, and a timer never fires early: no need to read the clock.
        Some(false) => true,
        // Woken by something else (or it cannot tell): the clock decides.
        _ => Instant::now() >= deadline,
    }
}

/// Runs `f` as a task of this worker once `deadline` has passed. Until then the task waits
/// in the worker's wheel unstarted: no coroutine and no stack, only the task cell and a wheel
/// entry; when the timer fires, the task is scheduled like any woken one and gets a
/// coroutine to run in. Gives `f` back on a thread that is not a worker, which has no
/// wheel. At shutdown, while the worker tears its wheel down, the task is dropped instead
/// (and `f` with it, unrun). The returned [`RunAt`] takes the timer back.
#[track_caller]
pub(crate) fn run_at<F>(deadline: Instant, f: F) -> Result<RunAt, F>
where
    F: FnOnce() + Send + 'static,
{
    context::worker(|w| {
        let Some(w) = w else {
            return Err(f);
        };
        let task: TaskRef = TaskCell::unscheduled(f, w.shared.id, Location::caller());
        Ok(RunAt {
            runtime: w.shared.id,
            worker: w.index,
            key: w.try_insert_timer(deadline, task).ok(),
        })
    })
}

/// A timer set by [`run_at`].
pub(crate) struct RunAt {
    runtime: u64,
    worker: usize,
    /// `None` if the task was dropped at once (the wheel was being torn down).
    key: Option<TimerKey>,
}

impl RunAt {
    /// Removes the timer and drops its task unrun, if it has not fired and this thread is the
    /// worker whose wheel holds it; anywhere else this does nothing, and the timer fires as
    /// set. (A wheel belongs to its worker's thread, like the coroutines that set timers.)
    pub(crate) fn cancel(self) {
        let Some(key) = self.key else {
            return;
        };
        let task = context::worker(|w| {
            let w = w.filter(|w| w.shared.id == self.runtime && w.index == self.worker)?;
            w.take_timer(key).flatten()
        });
        drop(task); // with the wheel no longer borrowed: the closure's destructors may use it
    }
}

/// Whether this thread is a worker, so [`run_at`] has a wheel to wait in.
pub(crate) fn has_wheel() -> bool {
    context::worker(|w| w.is_some())
}

/// A pending timer of the current coroutine on its worker's wheel; removed on drop (also
/// when the coroutine unwinds), so cancelled coroutines leave no timers behind.
struct TimerGuard {
    key: Option<TimerKey>,
}

impl TimerGuard {
    /// A timer that wakes the running coroutine at `deadline`, setting `mark` first.
    fn register(deadline: Instant, mark: Option<Mark>) -> TimerGuard {
        let task = context::coroutine(|c| c.map(|c| c.task_ref()));
        let key = context::worker(|w| {
            let (w, task) = (w?, task?);
            Some(w.insert_timer(deadline, task, mark))
        });
        TimerGuard { key }
    }

    /// Removes the timer if it is still pending: `Some(true)` if it was, `Some(false)` if it
    /// had fired, `None` if that cannot be told (no timer or no worker here, or the wheel is
    /// being torn down at shutdown).
    fn cancel(mut self) -> Option<bool> {
        self.remove()
    }

    /// [`cancel`](Self::cancel) through `&mut`, once: the key is taken.
    fn remove(&mut self) -> Option<bool> {
        let key = self.key.take()?;
        context::worker(|w| w?.remove_timer(key))
    }
}

impl Drop for TimerGuard {
    fn drop(&mut self) {
        self.remove();
    }
}
