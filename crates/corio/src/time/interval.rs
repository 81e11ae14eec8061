//! `Interval`: a blocking-style periodic timer (tokio's `Interval` without `.await`).
//! Re-exported from [`crate::time`].

use std::time::{Duration, Instant};

use crate::time::sleep_until;

/// What [`Interval::tick`] does when ticks were missed (the caller came back late).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Return the missed ticks at once, one per call, until caught up (tokio's default).
    #[default]
    Burst,
    /// Start over: the next tick is one period after the late one.
    Delay,
    /// Drop the missed ticks: the next tick is the next one on the original schedule.
    Skip,
}

/// A timer that ticks every `period`, the first tick at once — tokio's `interval`.
///
/// ```
/// use std::time::Duration;
///
/// corio::run(|| {
///     let mut every = corio::time::interval(Duration::from_millis(2));
///     let first = every.tick(); // at once
///     let second = every.tick(); // parks this coroutine until first + 2 ms
///     assert_eq!(second - first, Duration::from_millis(2));
/// });
/// ```
///
/// # Panics
/// If `period` is zero.
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Like [`interval`], with the first tick at `start`.
///
/// # Panics
/// If `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "corio::time::interval: the period must not be zero"
    );
    Interval {
        next: start,
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// The periodic timer made by [`interval`]; it costs nothing between ticks (no coroutine, no
/// registered timer: `tick` sleeps like [`sleep_until`]).
#[derive(Debug)]
pub struct Interval {
    next: Instant,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick (parking only the coroutine) and returns when it was due.
    pub fn tick(&mut self) -> Instant {
        sleep_until(self.next);
        let due = self.next;
        let now = Instant::now();
        let on_time = due + self.period;
        self.next = if now < on_time {
            on_time
        } else {
            match self.missed {
                MissedTickBehavior::Burst => on_time,
                MissedTickBehavior::Delay => now + self.period,
                MissedTickBehavior::Skip => {
                    let late = (now - due).as_nanos() % self.period.as_nanos();
                    now + (self.period - Duration::from_nanos(late as u64))
                }
            }
        };
        due
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.next = Instant::now() + self.period;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What happens to missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }
}
