//! `Runtime`, its `Builder`, and `Handle`s to it: public API above the kernel. Building a
//! runtime is `rt::sched::Shared::new` plus one thread per worker; dropping it is
//! `Shared::begin_shutdown`, joining the threads, then `Shared::shutdown`.

use std::fmt;
use std::io;
use std::panic;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::metrics::RuntimeMetrics;
use crate::rt::monitor::{Monitor, DEFAULT_STALL_THRESHOLD};
use crate::rt::sched::worker::Local;
use crate::rt::{context, Config, ExternalWait, Shared, TaskCell, TaskRef};
use crate::task::JoinHandle;

/// Runs `f` as the main coroutine of a new runtime with default settings, and returns its
/// result once it finishes; the runtime is then dropped (see [`Runtime`]'s `Drop`).
///
/// ```
/// let n = corio::run(|| {
///     let hs: Vec<_> = (0..10u64).map(|i| corio::spawn(move || i * i)).collect();
///     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
/// });
/// assert_eq!(n, 285);
/// ```
///
/// # Panics
/// If the runtime cannot start, if `f` panics (with its payload), or if the main coroutine
/// waits for something that can never happen: then it panics with
/// `"corio: all coroutines are asleep - deadlock! ..."` (like Go's fatal error), unwinding
/// the main coroutine so its destructors run.
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Runtime::new()
        .expect("corio: cannot start the runtime")
        .block_on(f)
}

/// Usable stack of the main coroutine of [`Runtime::block_on`] and [`run`]: 8 MiB, a
/// thread's default, so large locals in `main` code work as they do on a thread.
pub(crate) const MAIN_STACK_SIZE: usize = 8 << 20;

/// Configures and builds a [`Runtime`].
///
/// ```
/// let rt = corio::Builder::new().workers(2).thread_name("app").build().unwrap();
/// assert_eq!(rt.block_on(|| 1 + 1), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    workers: Option<usize>,
    stack_size: usize,
    thread_name: String,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    stall_threshold: Option<Duration>,
    dump_on_sigquit: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            workers: None,
            stack_size: 0,
            thread_name: "corio".into(),
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            stall_threshold: Some(DEFAULT_STALL_THRESHOLD),
            dump_on_sigquit: false,
        }
    }
}

impl Builder {
    /// Default settings: workers from `CORIO_WORKERS` (like `GOMAXPROCS`) or the available
    /// parallelism, default coroutine stacks, threads named `corio-N`.
    pub fn new() -> Self {
        Builder::default()
    }

    /// The number of worker threads (at least 1).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n.max(1));
        self
    }

    /// The stack size of coroutines, in bytes (rounded up to pages by the stack allocator;
    /// default 256 KiB). One task can have its own with
    /// [`task::Builder::stack_size`](crate::task::Builder::stack_size); the main coroutine
    /// of [`block_on`](Runtime::block_on) gets at least 8 MiB. Freed stacks of every size
    /// are reused, through per-thread pools and a bounded process-wide cache
    /// (`corio_coroutine::stack::set_cache_capacity`).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// The worker threads' name prefix (`NAME-0`, `NAME-1`, … and `NAME-blocking`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// The most threads the blocking pool runs at once (default 512).
    pub fn max_blocking_threads(mut self, n: usize) -> Self {
        self.max_blocking_threads = n.max(1);
        self
    }

    /// How long an idle blocking thread waits for work before exiting (default 10 s).
    pub fn blocking_keep_alive(mut self, d: Duration) -> Self {
        self.blocking_keep_alive = d;
        self
    }

    /// The stall detector's threshold (default 100 ms; `None` turns it off).
    ///
    /// A coroutine is never preempted, so one that runs longer than this without reaching a
    /// scheduling point (a wait, a `yield_now`, a finish) holds up the other started
    /// coroutines of its worker. A monitor thread notices it within about 1.25 times the
    /// threshold and writes once to stderr which coroutine it is and on which worker
    /// (`corio: coroutine 12 "name" has run for 100 ms on worker 0 without suspending`),
    /// and once more when it suspends, with how long it ran. The workers pay nothing extra:
    /// the monitor samples the scheduling-point count they keep anyway
    /// ([`WorkerMetrics::scheduling_points`](crate::metrics::WorkerMetrics::scheduling_points)),
    /// every quarter threshold.
    pub fn stall_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.stall_threshold = threshold;
        self
    }

    /// On SIGQUIT (Ctrl-\), write a dump of this runtime's coroutines to stderr
    /// ([`debug::dump`](crate::debug::dump)) and keep running (default off). Installs a
    /// process-wide SIGQUIT handler when the runtime is built, replacing the default action
    /// (quit with a core dump) for the rest of the process.
    pub fn dump_on_sigquit(mut self, on: bool) -> Self {
        self.dump_on_sigquit = on;
        self
    }

    /// Starts the worker threads.
    pub fn build(self) -> io::Result<Runtime> {
        corio_coroutine::set_overflow_hint(
            "corio::Builder::stack_size, or corio::task::Builder::stack_size for one task",
        );
        let n = self.workers.unwrap_or_else(default_workers);
        let (shared, deques) = Shared::new(Config {
            workers: n,
            stack_size: self.stack_size,
            thread_name: self.thread_name.clone(),
            max_blocking_threads: self.max_blocking_threads,
            blocking_keep_alive: self.blocking_keep_alive,
        })?;
        let mut rt = Runtime {
            shared: shared.clone(),
            threads: Vec::with_capacity(n),
            monitor: None,
        };
        for (index, deque) in deques.into_iter().enumerate() {
            let s = shared.clone();
            let t = thread::Builder::new()
                .name(format!("{}-{index}", self.thread_name))
                .spawn(move || Local::new(index, s, deque).run())?; // `rt`'s drop cleans up
            rt.threads.push(t);
        }
        if self.dump_on_sigquit {
            crate::sigquit::enable(shared.id)?;
        }
        if let Some(threshold) = self.stall_threshold {
            rt.monitor = Some(Monitor::start(shared, threshold)?);
        }
        Ok(rt)
    }
}

fn default_workers() -> usize {
    workers_from_env(std::env::var("CORIO_WORKERS").ok().as_deref())
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `CORIO_WORKERS`, if it holds a positive number.
fn workers_from_env(value: Option<&str>) -> Option<usize> {
    value
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
}

/// A corio runtime: worker threads running coroutines, their timers, and a blocking pool.
///
/// # Drop
/// Dropping the runtime stops it: every parked or runnable coroutine is unwound on its own
/// worker (its destructors run), unstarted tasks are dropped, their `JoinHandle`s report
/// [`Cancelled`](crate::task::Cancelled); then the worker threads are joined, the blocking
/// pool waits for its running jobs, and every coroutine stack is freed: handed to the
/// process-wide stack cache for the next runtime, up to its bound (see
/// `corio_coroutine::stack::set_cache_capacity`), and unmapped beyond it.
pub struct Runtime {
    shared: Arc<Shared>,
    threads: Vec<thread::JoinHandle<()>>,
    /// The stall detector, if on.
    monitor: Option<Monitor>,
}

impl Runtime {
    /// A runtime with default settings (see [`Builder::new`]).
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `f` as the main coroutine and blocks this thread until it returns. If the main
    /// coroutine panics, so does `block_on`, with the same payload; see [`run`] for the
    /// deadlock report.
    ///
    /// # Panics
    /// When called inside a coroutine (join a spawned task instead).
    #[track_caller]
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        assert!(
            !context::in_coroutine(),
            "Runtime::block_on called inside a coroutine; spawn and join instead"
        );
        // Like a thread's `main`: room for large locals, committed only as touched.
        let stack_size = MAIN_STACK_SIZE.max(self.shared.config.stack_size);
        let at = std::panic::Location::caller();
        let task: TaskRef =
            TaskCell::with_stack_size(f, self.shared.id, Some("main".into()), at, stack_size);
        crate::task::traced_spawn(&task);
        let handle = JoinHandle::<T>::new(task.clone());
        *self.shared.main.lock().unwrap() = Some(task.clone());
        self.shared.inject(task);
        let out = handle.join();
        *self.shared.main.lock().unwrap() = None;
        match out {
            Ok(v) => v,
            Err(e) => panic::resume_unwind(crate::debug::add_deadlock_dump(
                &self.shared,
                e.into_payload(),
            )),
        }
    }

    /// Spawns a coroutine on this runtime from any thread.
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_on(&self.shared, f)
    }

    /// A handle that can spawn on this runtime from other threads.
    pub fn handle(&self) -> Handle {
        Handle::new(self.shared.clone())
    }

    /// Makes `corio::spawn` and `spawn_blocking` work on this thread (for this runtime)
    /// until the guard drops.
    pub fn enter(&self) -> EnterGuard {
        EnterGuard {
            _inner: context::enter_handle(self.shared.clone()),
        }
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.shared.remotes.len()
    }

    /// A snapshot of the runtime's counters (see [`RuntimeMetrics`]); the workers keep
    /// running.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::read(&self.shared)
    }

    /// A dump of every live coroutine of the runtime, with backtraces (see
    /// [`debug`](crate::debug)); the workers keep running.
    pub fn dump(&self) -> crate::debug::Dump {
        crate::debug::take(&self.shared)
    }
}

impl Drop for Runtime {
    /// Shuts the runtime down: every coroutine is cancelled and unwound (as by
    /// [`JoinHandle::cancel`]), unstarted tasks are cancelled without running, and the worker
    /// threads are joined. The blocking pool finishes the jobs already running.
    ///
    /// Destructors run by the unwinding run as their coroutine and may wait for what other
    /// unwinding coroutines release. A wait that nothing can end any more does not hang the
    /// drop: it panics with a message naming the shutdown; or, where a panic would abort the
    /// process (in a destructor that runs during an unwind), its coroutine is left behind:
    /// its stack is leaked with the rest of its destructors unrun, its join reports a panic
    /// that says so, and so does a line on stderr.
    ///
    /// # Panics
    /// When dropped from inside one of its own coroutines or blocking jobs, whose thread the
    /// shutdown would wait for: the runtime then shuts down on a new thread once that
    /// coroutine has unwound, and the drop panics to name the mistake.
    fn drop(&mut self) {
        if self.shared.on_own_thread() {
            let rt = Runtime {
                shared: self.shared.clone(),
                threads: std::mem::take(&mut self.threads),
                monitor: self.monitor.take(),
            };
            let _ = thread::Builder::new()
                .name("corio-shutdown".into())
                .spawn(move || drop(rt));
            if !thread::panicking() {
                panic!(
                    "corio: a Runtime was dropped inside one of its own coroutines or blocking \
                     jobs; it shuts down on another thread. Drop a runtime from outside it."
                );
            }
            return;
        }
        if let Some(mut m) = self.monitor.take() {
            m.stop();
        }
        self.shared.begin_shutdown();
        let mut worker_panic = None;
        for t in self.threads.drain(..) {
            if let Err(p) = t.join() {
                worker_panic = Some(p);
            }
        }
        // Nothing runs any more: the pool drains and the shared queues are cancelled.
        self.shared.shutdown();
        if let Some(p) = worker_panic {
            if !thread::panicking() {
                panic::resume_unwind(p);
            }
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.workers())
            .finish_non_exhaustive()
    }
}

#[track_caller]
fn spawn_on<F, T>(shared: &Arc<Shared>, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let task: TaskRef = TaskCell::new(f, shared.id, None, std::panic::Location::caller());
    crate::task::traced_spawn(&task);
    let handle = JoinHandle::new(task.clone());
    shared.inject(task);
    handle
}

/// Returned by [`Runtime::enter`].
pub struct EnterGuard {
    _inner: context::HandleGuard,
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnterGuard")
    }
}

/// A cloneable handle to a runtime, usable from any thread.
///
/// A live `Handle` counts as an outside source of wake-ups: while one exists the deadlock
/// report stays silent (the thread holding it may still spawn or unpark). A plain thread that
/// keeps an [`Unparker`](crate::task::Unparker) should hold one too.
pub struct Handle {
    shared: Arc<Shared>,
    /// A live handle is a wake-up source for the deadlock check.
    _external: ExternalWait,
}

impl Handle {
    fn new(shared: Arc<Shared>) -> Self {
        Handle {
            _external: ExternalWait::new(shared.sources.clone()),
            shared,
        }
    }

    /// The handle of the runtime this thread belongs to (inside a coroutine, a blocking job,
    /// or under [`Runtime::enter`]).
    ///
    /// # Panics
    /// Outside a runtime; see [`try_current`](Self::try_current).
    pub fn current() -> Handle {
        Self::try_current().expect("corio::Handle::current called outside a corio runtime")
    }

    /// Like [`current`](Self::current), or `None` outside a runtime.
    pub fn try_current() -> Option<Handle> {
        context::shared().map(Handle::new)
    }

    /// Spawns a coroutine on the runtime.
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_on(&self.shared, f)
    }

    /// A snapshot of the runtime's counters (see [`RuntimeMetrics`]); the workers keep
    /// running.
    ///
    /// ```
    /// let rt = corio::Builder::new().workers(2).build().unwrap();
    /// let h = rt.handle();
    /// rt.block_on(|| corio::spawn(|| ()).join().unwrap());
    /// let m = h.metrics();
    /// assert_eq!(m.workers, 2);
    /// assert_eq!(m.spawned, 2); // the main task and the one it spawned
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::read(&self.shared)
    }

    /// A dump of every live coroutine of the runtime, with backtraces (see
    /// [`debug`](crate::debug)); the workers keep running.
    pub fn dump(&self) -> crate::debug::Dump {
        crate::debug::take(&self.shared)
    }

    /// Runs `f` on the runtime's blocking pool.
    #[track_caller]
    pub fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _enter = context::enter_handle(self.shared.clone());
        crate::blocking::spawn_blocking(f)
    }
}

impl Clone for Handle {
    fn clone(&self) -> Self {
        Handle::new(self.shared.clone())
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corio_workers_parsing() {
        assert_eq!(workers_from_env(Some("3")), Some(3));
        assert_eq!(workers_from_env(Some(" 8\n")), Some(8));
        assert_eq!(workers_from_env(Some("0")), None);
        assert_eq!(workers_from_env(Some("many")), None);
        assert_eq!(workers_from_env(None), None);
    }
}
