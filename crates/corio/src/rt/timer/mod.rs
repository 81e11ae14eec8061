//! Timers in the kernel: the per-worker [`wheel`] and [`park_until`], the one way a
//! coroutine waits for a deadline. The public `crate::time` (`sleep`, `sleep_until`) and
//! `task::park_deadline` sit above and call [`park_until`]; the worker (`rt::sched::worker`)
//! owns each wheel and fires it.

pub(crate) mod wheel;

use std::time::Instant;

use crate::rt::context;
use crate::rt::coroutine::Suspend;
use wheel::TimerKey;

/// Parks the current coroutine until it is woken or `deadline` passes; returns whether the
/// deadline has passed. The building block for per-operation timeouts.
///
/// Must be called inside a coroutine.
pub(crate) fn park_until(deadline: Instant) -> bool {
    if Instant::now() >= deadline {
        return true;
    }
    let timer = TimerGuard::register(deadline);
    context::suspend(Suspend::Park);
    drop(timer);
    Instant::now() >= deadline
}

/// A pending timer of the current coroutine on its worker's wheel; removed on drop (also
/// when the coroutine unwinds), so cancelled coroutines leave no timers behind.
struct TimerGuard {
    key: Option<TimerKey>,
}

impl TimerGuard {
    fn register(deadline: Instant) -> TimerGuard {
        let task = context::coroutine(|c| c.map(|c| c.task_ref()));
        let key = context::worker(|w| {
            let (w, task) = (w?, task?);
            Some(w.insert_timer(deadline, task))
        });
        TimerGuard { key }
    }
}

impl Drop for TimerGuard {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            context::worker(|w| {
                if let Some(w) = w {
                    w.remove_timer(key);
                }
            });
        }
    }
}
