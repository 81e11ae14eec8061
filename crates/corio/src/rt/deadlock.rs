//! Deadlock accounting: every source of wake-ups the runtime cannot see in its queues is
//! counted here, in one place, so the deadlock check (run by the last worker to fall asleep,
//! see `sched::Shared::check_deadlock`) asks one question: "is anything left that could wake
//! a coroutine?"
//!
//! The sources: pending timers (per worker; not the retries of what an ongoing unwind holds
//! back, see `Worker::publish_timers`), blocking jobs, live I/O registrations, and
//! [`ExternalWait`]s (foreign futures in `block_on`, live [`Handle`](crate::Handle)s).
//! This module depends on nothing else in the crate: the reactor (below the scheduler) and
//! the public API (above it) both count through it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

/// The panic message of a deadlocked main coroutine.
pub(crate) const DEADLOCK_REPORT: &str = "corio: all coroutines are asleep - deadlock! \
(the main coroutine is waiting, and no runnable coroutine, timer, blocking job, \
foreign-future wait or outside Handle is left that could wake anything)";

/// Counts of the wake-up sources of one runtime (see the module docs).
pub(crate) struct WakeSources {
    /// Timers pending in each worker's wheel (each written by its worker alone).
    timers: Box<[CachePadded<AtomicUsize>]>,
    /// Blocking jobs queued or running (each may wake a coroutine when it finishes).
    blocking_jobs: AtomicUsize,
    /// Live socket registrations (a peer may send at any time).
    io: AtomicUsize,
    /// Waits that something outside the runtime may end: foreign futures in `block_on`, and
    /// live `Handle`s.
    external: AtomicUsize,
}

impl WakeSources {
    /// No sources yet, for a runtime of `workers` workers.
    pub(crate) fn new(workers: usize) -> Self {
        WakeSources {
            timers: (0..workers).map(|_| CachePadded::default()).collect(),
            blocking_jobs: AtomicUsize::new(0),
            io: AtomicUsize::new(0),
            external: AtomicUsize::new(0),
        }
    }

    /// Whether any counted source is left (the deadlock check stays silent then).
    pub(crate) fn any(&self) -> bool {
        self.blocking_jobs.load(Ordering::SeqCst) != 0
            || self.io.load(Ordering::SeqCst) != 0
            || self.external.load(Ordering::SeqCst) != 0
            || self.timers.iter().any(|t| t.load(Ordering::SeqCst) != 0)
    }

    /// Publishes how many timers worker `index` has pending.
    #[inline]
    pub(crate) fn set_timers(&self, index: usize, pending: usize) {
        self.timers[index].store(pending, Ordering::SeqCst);
    }

    /// Timers worker `index` has pending (as last published).
    pub(crate) fn timers(&self, index: usize) -> usize {
        self.timers[index].load(Ordering::Relaxed)
    }

    /// A blocking job was queued (counted until [`blocking_job_done`](Self::blocking_job_done)).
    pub(crate) fn blocking_job_queued(&self) {
        self.blocking_jobs.fetch_add(1, Ordering::SeqCst);
    }

    /// A blocking job finished (or was cancelled).
    pub(crate) fn blocking_job_done(&self) {
        self.blocking_jobs.fetch_sub(1, Ordering::SeqCst);
    }

    /// A socket was registered with the reactor.
    pub(crate) fn io_registered(&self) {
        self.io.fetch_add(1, Ordering::SeqCst);
    }

    /// A socket was deregistered.
    pub(crate) fn io_deregistered(&self) {
        self.io.fetch_sub(1, Ordering::SeqCst);
    }

    /// Live socket registrations (the reactor need not be polled while there are none).
    #[inline]
    pub(crate) fn io_registrations(&self) -> usize {
        self.io.load(Ordering::SeqCst)
    }
}

/// Counts a wait that something outside the runtime may end, for as long as it lives.
pub(crate) struct ExternalWait(Arc<WakeSources>);

impl ExternalWait {
    /// Starts counting a wait on the runtime whose sources are `sources`.
    pub(crate) fn new(sources: Arc<WakeSources>) -> Self {
        sources.external.fetch_add(1, Ordering::SeqCst);
        ExternalWait(sources)
    }
}

impl Drop for ExternalWait {
    fn drop(&mut self) {
        self.0.external.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_counts_until_it_ends() {
        let sources = Arc::new(WakeSources::new(2));
        assert!(!sources.any());
        sources.set_timers(1, 3);
        assert!(sources.any());
        sources.set_timers(1, 0);
        sources.blocking_job_queued();
        assert!(sources.any());
        sources.blocking_job_done();
        sources.io_registered();
        assert_eq!(sources.io_registrations(), 1);
        sources.io_deregistered();
        let wait = ExternalWait::new(sources.clone());
        assert!(sources.any());
        drop(wait);
        assert!(!sources.any());
    }
}
