//! Time: `sleep`, `sleep_until`, deadline-bounded parking, timer channels for `select!`
//! ([`after`], [`tick`], [`never()`]) and [`interval`].
//!
//! Timers live in a per-worker hierarchical timer wheel (1 ms resolution), next to the
//! coroutines they wake; a timer never fires early.

pub(crate) mod wheel;

pub use crate::interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use crate::timer_channel::{after, never, tick};

use std::time::{Duration, Instant};

use crate::context;
use crate::coro::Suspend;
use wheel::TimerKey;

/// Suspends the current coroutine for at least `duration` (other coroutines run meanwhile).
/// Outside a coroutine it is [`std::thread::sleep`].
///
/// ```
/// use std::time::{Duration, Instant};
/// corio::run(|| {
///     let t = Instant::now();
///     corio::time::sleep(Duration::from_millis(5));
///     assert!(t.elapsed() >= Duration::from_millis(5));
/// });
/// ```
pub fn sleep(duration: Duration) {
    match Instant::now().checked_add(duration) {
        Some(deadline) => sleep_until(deadline),
        None => loop {
            sleep(Duration::from_secs(365 * 24 * 3600));
        },
    }
}

/// Suspends the current coroutine until `deadline` has passed.
/// Outside a coroutine it blocks the thread.
pub fn sleep_until(deadline: Instant) {
    if !context::in_coroutine() {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    }
    while !park_until(deadline) {}
}

/// Parks the current coroutine until it is woken or `deadline` passes; returns whether the
/// deadline has passed. The building block for per-operation timeouts.
///
/// Must be called inside a coroutine.
pub(crate) fn park_until(deadline: Instant) -> bool {
    if Instant::now() >= deadline {
        return true;
    }
    let timer = Timer::register(deadline);
    context::suspend(Suspend::Park);
    drop(timer);
    Instant::now() >= deadline
}

/// A pending timer of the current coroutine on its worker's wheel; removed on drop (also
/// when the coroutine unwinds), so cancelled coroutines leave no timers behind.
struct Timer {
    key: Option<TimerKey>,
}

impl Timer {
    fn register(deadline: Instant) -> Timer {
        let task = context::coroutine(|c| c.map(|c| c.task_ref()));
        let key = context::worker(|w| {
            let (w, task) = (w?, task?);
            let mut wheel = w.wheel.borrow_mut();
            let key = wheel.insert(deadline, task);
            w.publish_timers(&wheel);
            Some(key)
        });
        Timer { key }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            context::worker(|w| {
                if let Some(w) = w {
                    // During shutdown the wheel may already be borrowed for teardown.
                    if let Ok(mut wheel) = w.wheel.try_borrow_mut() {
                        if wheel.remove(key) {
                            w.publish_timers(&wheel);
                        }
                    }
                }
            });
        }
    }
}
