//! A runtime's counters: [`Handle::metrics`](crate::Handle::metrics) returns a
//! [`RuntimeMetrics`] snapshot. Modelled on tokio's `RuntimeMetrics`, but a plain struct of
//! values: take two snapshots and subtract to get rates.
//!
//! Reading costs one relaxed load per counter and a lock of the blocking pool's state; the
//! workers are not stopped, so the values of different counters may be a few operations
//! apart. Keeping them costs the workers a plain store to a cache line of their own per
//! scheduling point (no read-modify-write on the hot path); a wake from another thread adds
//! one relaxed `fetch_add`.

pub use corio_coroutine::stack::StackStats;

use crate::rt::Shared;

/// A snapshot of a runtime's counters (see the [module docs](self)).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// The number of worker threads.
    pub workers: usize,
    /// Coroutines started and not yet finished (parked, runnable or running). Tasks that
    /// are spawned but not started yet are not counted here: see [`queued`](Self::queued).
    pub live_coroutines: u64,
    /// Tasks spawned so far (by coroutines, handles and `block_on`'s main task; not
    /// [`spawn_blocking`](crate::spawn_blocking) jobs).
    pub spawned: u64,
    /// Spawned tasks waiting for a worker to start them (in the shared injector and the
    /// workers' stealable queues).
    pub queued: u64,
    /// Calls to `epoll_wait` so far, by all workers (busy workers poll without blocking
    /// every few dozen scheduling points, idle ones block in it).
    pub reactor_polls: u64,
    /// Threads in the blocking pool now (running a job or idle).
    pub blocking_threads: usize,
    /// Tasks that could not start because no coroutine stack could be mapped; each was
    /// cancelled with that error.
    pub start_failures: usize,
    /// Each worker's counters, by worker index.
    pub per_worker: Vec<WorkerMetrics>,
    /// The process's coroutine stacks (shared by every runtime): kernel mappings, reserved
    /// address space, stacks in use or kept for reuse, and those in the process-wide cache.
    pub stacks: StackStats,
}

/// One worker's counters (see [`RuntimeMetrics::per_worker`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Coroutines started on this worker and not finished: they live here for good.
    pub live_coroutines: u64,
    /// Coroutines started (created) on this worker so far.
    pub started: u64,
    /// Tasks spawned by coroutines running on this worker so far.
    pub spawned: u64,
    /// Scheduling points so far: each resume of a coroutine and each finish. A count that
    /// stops moving while the worker is busy is what the stall detector looks for.
    pub scheduling_points: u64,
    /// Runnable tasks waiting for this worker: started coroutines (sampled every 32
    /// scheduling points, and 0 when the worker sleeps), wakes from other threads in its
    /// inbox, and unstarted tasks in its stealable queue.
    pub queue_depth: u64,
    /// Times this worker stole a batch of unstarted tasks from another worker.
    pub steals: u64,
    /// Times this worker went to sleep for lack of work.
    pub parks: u64,
    /// Wakes of this worker's coroutines that came from other threads.
    pub remote_wakes: u64,
    /// Timers pending on this worker's wheel: sleeps, timeouts and timed waits of its
    /// coroutines, and `time::after`/`tick` timers made on it. (Not counted while the
    /// worker's thread unwinds: the runtime's own retries of a cancellation or timeout that
    /// the unwind holds back.)
    pub timers: u64,
}

impl RuntimeMetrics {
    /// Reads `shared`'s counters.
    pub(crate) fn read(shared: &Shared) -> RuntimeMetrics {
        let stats = &shared.stats;
        let per_worker: Vec<WorkerMetrics> = (0..stats.len())
            .map(|i| {
                let s = stats.worker(i).snapshot();
                let remote = &shared.remotes[i];
                WorkerMetrics {
                    live_coroutines: s.live,
                    started: s.started,
                    spawned: s.spawned,
                    scheduling_points: s.scheduling_points,
                    queue_depth: (s.ready_depth + remote.inbox.len() + remote.stealer.len()) as u64,
                    steals: s.steals,
                    parks: s.parks,
                    remote_wakes: s.remote_wakes,
                    timers: shared.sources.timers(i) as u64,
                }
            })
            .collect();
        RuntimeMetrics {
            workers: per_worker.len(),
            live_coroutines: per_worker.iter().map(|w| w.live_coroutines).sum(),
            spawned: stats.injected_count() + per_worker.iter().map(|w| w.spawned).sum::<u64>(),
            queued: (shared.injector.len()
                + shared
                    .remotes
                    .iter()
                    .map(|r| r.stealer.len())
                    .sum::<usize>()) as u64,
            reactor_polls: shared.reactor.poll_count(),
            blocking_threads: shared.blocking.threads(),
            start_failures: shared.start_failure_count(),
            stacks: corio_coroutine::stack::stats(),
            per_worker,
        }
    }
}
