//! The work-stealing scheduler: the core of the kernel. `Shared` (one per runtime) and the
//! worker loop (`worker`) hold the queues; [`wake`]/[`schedule`] are where a woken coroutine
//! goes: to its home worker's `lifo` slot if woken on that worker, else to its `inbox`.
//!
//! # Queues
//!
//! Each worker owns:
//! - `fresh`: a bounded FIFO of tasks that have **not started** yet. Other workers steal half
//!   of it when idle; overflow goes to the global injector.
//! - `lifo`: one slot for the task most recently woken by this worker (a message's receiver
//!   runs right after its sender). At most [`worker::LIFO_STREAK`] LIFO runs in a row, then the
//!   slot's task goes to the back of `ready`, so a ping-pong pair cannot starve the queue.
//! - `ready`: a private FIFO of **started** coroutines that are runnable (woken, or yielded).
//! - `inbox` (in [`Remote`], shared): wakes of its started coroutines from other threads.
//!
//! and all share the `injector` (spawns from outside, overflow).
//!
//! # Soundness rule: started coroutines never migrate
//!
//! A coroutine is created by the worker that first runs its task, and lives in that worker's
//! storage until it finishes. Only `fresh` and the injector are ever stolen from, and they hold
//! tasks whose coroutine does not exist yet: all that crosses threads is the `Send` closure.
//! Hence a coroutine may hold thread-locals, `Rc`s or `MutexGuard`s across a suspension — they
//! stay on the thread that made them — and `spawn` can be safe with only `F: Send`. A wake from
//! another thread goes to the home worker's `inbox`, never to a queue another worker pops.
//!
//! The cost is that a coroutine stuck in a CPU loop holds up the *started* coroutines of its
//! worker (not the others, and not unstarted tasks, which are stolen).

pub(crate) mod idle;
pub(crate) mod queue;
pub(crate) mod sleeper;
pub(crate) mod worker;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector as Inbox, Steal};

use crate::reactor::Reactor;
use crate::rt::blocking::Pool;
use crate::rt::capture::{Captured, Requests};
use crate::rt::context;
use crate::rt::deadlock::WakeSources;
use crate::rt::stats::Stats;
use crate::rt::task::cell::TaskRef;
use crate::rt::task::harness::cancel_unstarted;
use idle::Idle;
use queue::{Fresh, Injector, Stealer};
use sleeper::Sleeper;

/// What one worker shares with the others.
pub(crate) struct Remote {
    /// Wakes of this worker's started coroutines, from other threads.
    pub(crate) inbox: Inbox<TaskRef>,
    /// The steal end of this worker's `fresh` queue.
    pub(crate) stealer: Stealer<TaskRef>,
    /// Where the worker thread sleeps when idle.
    pub(crate) sleeper: Sleeper,
}

/// Runtime configuration, fixed at build time.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Worker threads (at least 1).
    pub(crate) workers: usize,
    /// Coroutine stack size in bytes (0: the default).
    pub(crate) stack_size: usize,
    /// Thread name prefix.
    pub(crate) thread_name: String,
    /// Most blocking-pool threads at once.
    pub(crate) max_blocking_threads: usize,
    /// How long an idle blocking thread lives.
    pub(crate) blocking_keep_alive: Duration,
}

/// State shared by every worker and handle of one runtime.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) config: Config,
    pub(crate) remotes: Box<[Remote]>,
    pub(crate) injector: Injector<TaskRef>,
    pub(crate) idle: Idle,
    pub(crate) shutdown: AtomicBool,
    pub(crate) blocking: Pool,
    /// Every wake-up source outside the queues, for the deadlock check (see `rt::deadlock`).
    pub(crate) sources: Arc<WakeSources>,
    /// The task `block_on` waits for; taken by the deadlock detector when it reports.
    pub(crate) main: Mutex<Option<TaskRef>>,
    /// The I/O reactor, polled by idle workers (see `reactor`).
    pub(crate) reactor: Arc<Reactor>,
    /// Workers that have unwound their coroutines at shutdown and run what that woke.
    pub(crate) shutdown_drained: AtomicUsize,
    /// Tasks that could not start (no stack), and when that was last reported.
    pub(crate) start_failures: StartFailures,
    /// Counters for `Handle::metrics` and the stall monitor (see `rt::stats`).
    pub(crate) stats: Stats,
    /// Per worker: dump requests waiting for it (see `rt::capture`).
    pub(crate) captures: Box<[Requests]>,
    /// Every coroutine's backtrace, taken when the deadlock was found (for the report).
    pub(crate) deadlock_captures: Mutex<Option<Vec<Captured>>>,
}

/// Tasks that could not get a coroutine. Each one's join gets the error; the process hears
/// of them on stderr at most once a second, with the running count, so that detached tasks
/// do not vanish silently.
#[derive(Default)]
pub(crate) struct StartFailures {
    count: AtomicUsize,
    last_report: Mutex<Option<Instant>>,
}

impl Shared {
    /// A runtime's shared state, registered under a fresh id, and the local ends of its
    /// workers' `fresh` queues (one per worker, to hand to `worker::Local::new`).
    pub(crate) fn new(config: Config) -> io::Result<(Arc<Shared>, Vec<Fresh<TaskRef>>)> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let n = config.workers;
        let sources = Arc::new(WakeSources::new(n));
        let reactor = Arc::new(Reactor::new(sources.clone())?);
        let (fresh, remotes): (Vec<_>, Vec<_>) = (0..n)
            .map(|_| {
                let (fresh, stealer) = queue::ring();
                let remote = Remote {
                    inbox: Inbox::new(),
                    stealer,
                    sleeper: Sleeper::with_interrupt(reactor.waker()),
                };
                (fresh, remote)
            })
            .unzip();
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            blocking: Pool::new(config.max_blocking_threads, config.blocking_keep_alive),
            config,
            remotes: remotes.into_boxed_slice(),
            injector: Injector::default(),
            idle: Idle::new(n),
            shutdown: AtomicBool::new(false),
            sources,
            main: Mutex::new(None),
            reactor,
            shutdown_drained: AtomicUsize::new(0),
            start_failures: StartFailures::default(),
            stats: Stats::new(n),
            captures: (0..n).map(|_| Requests::default()).collect(),
            deadlock_captures: Mutex::new(None),
        });
        context::register_runtime(&shared);
        Ok((shared, fresh))
    }

    /// Starts shutting down: no coroutine runs again, and every worker is roused to unwind
    /// its coroutines and exit its loop.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for r in self.remotes.iter() {
            r.sleeper.rouse();
        }
    }

    /// Finishes shutting down once the worker threads have exited: waits for the blocking
    /// pool, cancels what is left in the shared queues, and forgets the runtime's id.
    pub(crate) fn shutdown(&self) {
        self.blocking.shutdown();
        self.cancel_injected();
        let mut left: Vec<TaskRef> = Vec::new();
        for r in self.remotes.iter() {
            while let Some(t) = r.stealer.steal_one() {
                left.push(t);
            }
            while let Steal::Success(t) = r.inbox.steal() {
                left.push(t);
            }
        }
        for t in left {
            cancel_unstarted(t);
        }
        context::deregister_runtime(self.id);
    }

    /// Whether the calling thread is one of this runtime's own (a worker or a blocking-pool
    /// thread), which its shutdown would wait for.
    pub(crate) fn on_own_thread(&self) -> bool {
        context::is_own_thread(self.id)
    }

    /// Queues a new (unstarted) task from a thread that is not one of our workers.
    ///
    /// After shutdown no worker takes it: it is cancelled at once (its join reports
    /// `Cancelled`) instead of waiting forever. The push comes before the look at `shutdown`,
    /// and [`shutdown`](Self::shutdown) empties the injector after `begin_shutdown` set the
    /// flag (both SeqCst), so one of the two always sees the task.
    pub(crate) fn inject(&self, task: TaskRef) {
        self.stats.injected();
        self.injector.push(task);
        if self.shutdown.load(Ordering::SeqCst) {
            self.cancel_injected();
            return;
        }
        self.notify_idle();
    }

    /// Cancels every task in the injector (they never started).
    fn cancel_injected(&self) {
        while let Some(t) = self.injector.pop() {
            cancel_unstarted(t);
        }
    }

    /// Asks every worker for the backtraces of its suspended coroutines; each calls `reply`
    /// with them, between two resumes (a worker stuck in a coroutine answers only when it
    /// suspends).
    pub(crate) fn request_captures(&self, reply: impl Fn(Vec<Captured>) + Send + Sync + 'static) {
        let reply = Arc::new(reply);
        for (w, r) in self.captures.iter().enumerate() {
            let reply = reply.clone();
            r.push(Box::new(move |list| reply(list)));
            self.remotes[w].sleeper.rouse();
        }
    }

    /// Tasks that could not start so far.
    pub(crate) fn start_failure_count(&self) -> usize {
        self.start_failures.count.load(Ordering::Relaxed)
    }

    /// Counts a task that could not start and reports it (rate-limited) on stderr.
    pub(crate) fn report_start_failure(&self, msg: &str) {
        let n = self.start_failures.count.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let mut last = self.start_failures.last_report.lock().unwrap();
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            return;
        }
        *last = Some(now);
        eprintln!(
            "{msg} ({n} task(s) could not start so far; each was cancelled with this error, \
             reported at most once a second)"
        );
    }

    /// Wakes one sleeping worker, if any, after work became visible (idle protocol P2–P3).
    pub(crate) fn notify_idle(&self) {
        if let Some(w) = self.idle.pop_sleeper() {
            self.remotes[w].sleeper.rouse();
        }
    }

    /// Queues a woken started coroutine on its home worker from another thread.
    pub(crate) fn push_remote(&self, home: usize, task: TaskRef) {
        let remote = &self.remotes[home];
        self.stats.worker(home).remote_wake();
        remote.inbox.push(task);
        // Always unpark: the home worker may be between its last inbox check and its futex
        // wait; the sleeper's token covers that window (see `sleeper`).
        remote.sleeper.rouse();
    }

    /// Whether any worker-visible queue holds work (idle protocol W3, deadlock check).
    pub(crate) fn has_visible_work(&self) -> bool {
        !self.injector.is_empty()
            || self
                .remotes
                .iter()
                .any(|r| !r.inbox.is_empty() || !r.stealer.is_empty())
    }

    /// Called with every worker registered asleep (under the idle lock): if nothing can
    /// ever wake anything, make the main coroutine panic with the deadlock report.
    fn check_deadlock(&self) {
        if self.has_visible_work() || self.sources.any() || self.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let mut main = self.main.lock().unwrap();
        // Only a parked main coroutine is deadlocked. `block_on` publishes its task just
        // before injecting it, so the check can meet it queued and not yet started (or
        // already complete): leave it alone then.
        let parked = main
            .as_ref()
            .is_some_and(|m| m.header().state.notify_deadlocked());
        if !parked {
            return;
        }
        if let Some(main) = main.take() {
            // Parked means started: `home` is set.
            let home = main.header().home.load(Ordering::Acquire) as usize;
            self.capture_then_report(home, main);
        }
    }

    /// Asks every worker for its coroutines' backtraces (for the report, as Go prints its
    /// goroutines), then sends the main coroutine its deadlock report. The workers are all
    /// asleep: the request rouses them, and the last to answer wakes main.
    fn capture_then_report(&self, home: usize, main: TaskRef) {
        let id = self.id;
        let left = AtomicUsize::new(self.remotes.len());
        let collected = Mutex::new(Vec::new());
        let main = Mutex::new(Some(main));
        self.request_captures(move |list| {
            collected.lock().unwrap().extend(list);
            if left.fetch_sub(1, Ordering::AcqRel) != 1 {
                return;
            }
            let Some(shared) = context::runtime(id) else {
                return; // gone: its shutdown cancels main
            };
            *shared.deadlock_captures.lock().unwrap() =
                Some(std::mem::take(&mut *collected.lock().unwrap()));
            if let Some(main) = main.lock().unwrap().take() {
                shared.push_remote(home, main);
            }
        });
    }
}

/// Wakes `task` (consuming the reference): schedules it unless a wake is already pending,
/// it is running (its worker will see the wake), or it completed.
pub(crate) fn wake(task: TaskRef) {
    if task.header().state.notify(0) {
        schedule(task);
    }
}

/// Puts a task that `State::notify` said must be scheduled on its home worker's queue.
#[inline]
pub(crate) fn schedule(task: TaskRef) {
    let (rt, home) = {
        let h = task.header();
        // Acquire pairs with the home worker's release of RUNNING: `home` is set.
        (h.rt, h.home.load(Ordering::Acquire))
    };
    debug_assert_ne!(
        home,
        crate::rt::task::cell::UNSET,
        "only started tasks can be idle"
    );
    // The hot case, a wake on the task's own worker, stays small enough to inline; the rest
    // is out of line so this path spills no registers for it.
    let task = context::worker(move |w| match w {
        Some(w) if w.shared.id == rt && w.index == home as usize => {
            w.push_woken(task);
            None
        }
        _ => Some(task),
    });
    if let Some(task) = task {
        schedule_elsewhere(task, rt, home as usize);
    }
}

/// [`schedule`] from another worker, or from a thread outside the task's runtime (a plain
/// thread, a blocking thread, another runtime).
#[cold]
#[inline(never)]
fn schedule_elsewhere(task: TaskRef, rt: u64, home: usize) {
    let task = context::worker(move |w| match w {
        Some(w) if w.shared.id == rt => {
            w.shared.push_remote(home, task);
            None
        }
        _ => Some(task),
    });
    if let Some(task) = task {
        if let Some(shared) = context::handle_for(rt).or_else(|| context::runtime(rt)) {
            shared.push_remote(home, task);
        }
        // else: the runtime is gone; its shutdown cancelled the task.
    }
}

/// Queues a new task on the runtime this thread belongs to.
///
/// # Panics
/// Outside a runtime.
pub(crate) fn spawn(make: impl FnOnce(u64) -> TaskRef) {
    let make = context::worker(move |w| match w {
        Some(w) => {
            w.push_fresh(make(w.shared.id));
            None
        }
        None => Some(make),
    });
    if let Some(make) = make {
        let shared = context::shared().expect(
            "corio::spawn called outside a corio runtime (use corio::run, Runtime::block_on or Handle::spawn)",
        );
        shared.inject(make(shared.id));
    }
}
