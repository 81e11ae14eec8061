//! Time: `sleep`, `sleep_until`, deadline-bounded parking, timer channels for `select!`
//! ([`after`], [`tick`], [`never()`]), [`interval()`], and timeout scopes ([`timeout()`],
//! [`timeout_at`]) that put a deadline on any piece of blocking-style code.
//!
//! Public API above the kernel: timers live in a per-worker hierarchical timer wheel (1 ms
//! resolution, `rt::timer`), next to the coroutines they wake; a timer never fires early.

mod channel;
mod interval;
mod timeout;

pub use channel::{after, never, tick};
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};

use std::time::{Duration, Instant};

pub use timeout::{timeout, timeout_at, Elapsed};

use crate::rt::{self, park_until, park_until_from};

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
    let now = Instant::now();
    match now.checked_add(duration) {
        Some(deadline) => sleep_from(now, deadline),
        None => loop {
            sleep(Duration::from_secs(365 * 24 * 3600));
        },
    }
}

/// Suspends the current coroutine until `deadline` has passed.
/// Outside a coroutine it blocks the thread.
pub fn sleep_until(deadline: Instant) {
    sleep_from(Instant::now(), deadline)
}

/// Sleeps from `now`, just read from the clock, until `deadline` (the first check needs no
/// second read).
fn sleep_from(now: Instant, deadline: Instant) {
    if !rt::context::in_coroutine() {
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    }
    if !park_until_from(now, deadline) {
        while !park_until(deadline) {}
    }
}
