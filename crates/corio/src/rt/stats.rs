//! Per-worker counters the workers bump and any thread reads (`Handle::metrics`, the stall
//! monitor), without stopping anyone. A leaf of the kernel: the worker loop writes them, the
//! public `metrics` module and `rt::monitor` read them.
//!
//! Each worker's counters are written by that worker only (plain load + store, no
//! read-modify-write on the hot path), except `remote_wakes`, which wakers on other threads
//! add to. Readers see relaxed, possibly slightly stale values.
//!
//! # What the stall monitor may read
//!
//! From the resume of a coroutine until the next one (or until the worker sleeps),
//! `current` points at that task's header and `ticks` holds the scheduling point it entered
//! at; both are plain stores. The monitor may dereference
//! `current` only under the *pin* protocol ([`WorkerStats::inspect`]): it announces itself in
//! `pin`, then checks that `ticks` did not move. The one place a worker can free a task it
//! ran (a coroutine that returned, [`WorkerStats::finished`]) first moves `ticks` and then
//! waits while a pin is set; both sides use SeqCst, so either the monitor sees the new ticks
//! and backs off, or the worker sees the pin and waits for the monitor to let go.

use std::hint;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

use crate::rt::task::cell::Header;

/// Adds one to a counter that only the calling thread writes.
#[inline]
fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

/// One worker's counters.
#[derive(Default)]
pub(crate) struct WorkerStats {
    /// Scheduling points: coroutine resumes and finishes.
    ticks: AtomicU64,
    /// The task last resumed, until it finishes or the worker goes to sleep (null then).
    /// Not cleared when a coroutine merely suspends: that would be one more store per resume,
    /// and a worker that runs nothing soon sleeps.
    current: AtomicPtr<Header>,
    /// Set by the monitor while it reads `*current` (see the module docs).
    pin: AtomicBool,
    /// Started coroutines living on this worker.
    live: AtomicU64,
    /// Tasks spawned from this worker (onto its `fresh` queue).
    spawned: AtomicU64,
    /// Coroutines created (tasks started) on this worker.
    started: AtomicU64,
    /// Successful steals of a batch of unstarted tasks from another worker.
    steals: AtomicU64,
    /// Times the worker went to sleep for lack of work.
    parks: AtomicU64,
    /// Wakes of this worker's coroutines that came from other threads (through its inbox).
    remote_wakes: AtomicU64,
    /// Runnable started coroutines, sampled at the worker's periodic duties and when it
    /// sleeps (the queue itself is private to the worker).
    ready_depth: AtomicUsize,
}

/// What the monitor learnt about the coroutine a worker is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Running {
    /// The task's id.
    pub(crate) id: u64,
    /// The task's name, if it has one.
    pub(crate) name: Option<String>,
    /// Where it was spawned.
    pub(crate) spawned_at: &'static std::panic::Location<'static>,
}

impl WorkerStats {
    /// The worker is about to resume the coroutine of `header`.
    #[inline]
    pub(crate) fn enter(&self, header: *const Header) {
        bump(&self.ticks);
        self.current.store(header as *mut Header, Ordering::Relaxed);
    }

    /// The coroutine that last left returned; its task may be freed once this returns.
    pub(crate) fn finished(&self) {
        self.current.store(ptr::null_mut(), Ordering::Relaxed);
        let t = self.ticks.load(Ordering::Relaxed).wrapping_add(1);
        self.ticks.store(t, Ordering::SeqCst);
        while self.pin.load(Ordering::SeqCst) {
            hint::spin_loop(); // the monitor copies a name: a few instructions
        }
        let live = self.live.load(Ordering::Relaxed);
        self.live.store(live.saturating_sub(1), Ordering::Relaxed);
    }

    /// A coroutine was created on this worker.
    #[inline]
    pub(crate) fn started(&self) {
        bump(&self.started);
        bump(&self.live);
    }

    /// A task was spawned from this worker.
    #[inline]
    pub(crate) fn spawned(&self) {
        bump(&self.spawned);
    }

    /// This worker stole a batch of unstarted tasks.
    pub(crate) fn stole(&self) {
        bump(&self.steals);
    }

    /// This worker goes to sleep.
    pub(crate) fn parked(&self) {
        self.current.store(ptr::null_mut(), Ordering::Relaxed); // idle: nothing runs
        bump(&self.parks);
        self.ready_depth.store(0, Ordering::Relaxed);
    }

    /// Another thread woke one of this worker's coroutines (any thread may call this).
    pub(crate) fn remote_wake(&self) {
        self.remote_wakes.fetch_add(1, Ordering::Relaxed);
    }

    /// Publishes the length of the worker's private run queue.
    pub(crate) fn set_ready_depth(&self, n: usize) {
        self.ready_depth.store(n, Ordering::Relaxed);
    }

    /// The scheduling point count and whether the worker is busy (a coroutine resumed since
    /// it last slept).
    pub(crate) fn tick(&self) -> (u64, bool) {
        let t = self.ticks.load(Ordering::SeqCst);
        (t, !self.current.load(Ordering::Relaxed).is_null())
    }

    /// The coroutine the worker is running, if it is still the one it entered at scheduling
    /// point `ticks` (the pin protocol of the module docs; the monitor is the only caller).
    pub(crate) fn inspect(&self, ticks: u64) -> Option<Running> {
        self.pin.store(true, Ordering::SeqCst);
        let out = if self.ticks.load(Ordering::SeqCst) == ticks {
            let h = self.current.load(Ordering::Relaxed);
            // SAFETY: a non-null `current` is the header of a task the worker resumed at or
            // after `ticks`; the worker frees a task it ran only after `finished`, which waits
            // while `pin` is set, and `ticks` was still unmoved after the pin went up (SeqCst
            // on both sides), so the task is alive until the pin comes down below.
            unsafe { h.as_ref() }.map(|h| Running {
                id: h.id,
                name: h.name.as_deref().map(str::to_owned),
                spawned_at: h.spawned_at,
            })
        } else {
            None
        };
        self.pin.store(false, Ordering::SeqCst);
        out
    }

    /// A consistent-enough copy of the counters.
    pub(crate) fn snapshot(&self) -> WorkerSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerSnapshot {
            scheduling_points: r(&self.ticks),
            live: r(&self.live),
            spawned: r(&self.spawned),
            started: r(&self.started),
            steals: r(&self.steals),
            parks: r(&self.parks),
            remote_wakes: r(&self.remote_wakes),
            ready_depth: self.ready_depth.load(Ordering::Relaxed),
        }
    }
}

/// The values of one worker's counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WorkerSnapshot {
    pub(crate) scheduling_points: u64,
    pub(crate) live: u64,
    pub(crate) spawned: u64,
    pub(crate) started: u64,
    pub(crate) steals: u64,
    pub(crate) parks: u64,
    pub(crate) remote_wakes: u64,
    pub(crate) ready_depth: usize,
}

/// Every worker's counters, plus the runtime-wide ones.
pub(crate) struct Stats {
    workers: Box<[CachePadded<WorkerStats>]>,
    /// Tasks spawned from outside the workers (`Handle::spawn`, `block_on`, blocking threads).
    injected: AtomicU64,
    /// A coarse clock: milliseconds since `origin`, as last stored by the stall monitor (each
    /// sample), a worker firing timers or waking from sleep, or a dump. A worker stamps a
    /// parking coroutine with it (one relaxed load), so the dump can say how long each has
    /// waited without a clock read on the park path.
    clock_ms: CachePadded<AtomicU64>,
    origin: std::time::Instant,
}

impl Stats {
    /// Counters for `workers` workers, all zero.
    pub(crate) fn new(workers: usize) -> Self {
        Stats {
            workers: (0..workers).map(|_| CachePadded::default()).collect(),
            injected: AtomicU64::new(0),
            clock_ms: CachePadded::new(AtomicU64::new(0)),
            origin: std::time::Instant::now(),
        }
    }

    /// The coarse clock (see `clock_ms`): cheap, and behind by up to the time since its last
    /// update.
    #[inline]
    pub(crate) fn coarse_ms(&self) -> u64 {
        self.clock_ms.load(Ordering::Relaxed)
    }

    /// Moves the coarse clock to `now` (never backwards).
    pub(crate) fn update_clock(&self, now: std::time::Instant) {
        let ms = now.saturating_duration_since(self.origin).as_millis() as u64;
        // Mostly a load: the clock moves once a millisecond, and workers share the line.
        if ms > self.clock_ms.load(Ordering::Relaxed) {
            self.clock_ms.fetch_max(ms, Ordering::Relaxed);
        }
    }

    /// Worker `i`'s counters.
    #[inline]
    pub(crate) fn worker(&self, i: usize) -> &WorkerStats {
        &self.workers[i]
    }

    /// The number of workers.
    pub(crate) fn len(&self) -> usize {
        self.workers.len()
    }

    /// A task was spawned from a thread that is not a worker (any thread may call this).
    pub(crate) fn injected(&self) {
        self.injected.fetch_add(1, Ordering::Relaxed);
    }

    /// Tasks spawned from outside the workers so far.
    pub(crate) fn injected_count(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_count_and_live_goes_down_on_finish() {
        let s = WorkerStats::default();
        s.started();
        s.started();
        s.enter(ptr::null());
        s.finished();
        s.stole();
        s.parked();
        s.remote_wake();
        let snap = s.snapshot();
        assert_eq!((snap.started, snap.live), (2, 1));
        assert_eq!(snap.scheduling_points, 2);
        assert_eq!((snap.steals, snap.parks, snap.remote_wakes), (1, 1, 1));
    }

    #[test]
    fn inspect_backs_off_when_the_worker_moved_on() {
        let s = WorkerStats::default();
        s.enter(ptr::null());
        let (t, running) = s.tick();
        assert!(!running, "a null header is not a running coroutine");
        s.enter(ptr::null());
        assert_eq!(s.inspect(t), None);
    }
}
