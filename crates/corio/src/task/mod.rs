//! Tasks: spawning coroutines, joining and cancelling them, the current task, yielding,
//! parking, and coroutine-local storage.
//!
//! # Cancellation
//!
//! [`JoinHandle::cancel`], and a runtime's shutdown, cancel a task. The contract:
//!
//! - **Where.** A started coroutine unwinds from its current suspension point if it is
//!   parked, else from its next one (any `park`, `yield_now`, `sleep`, lock, channel or socket
//!   wait). Code that never suspends is never interrupted. A task that never started is not
//!   run; its closure is dropped.
//! - **Completed operations stand.** If the operation the coroutine was parked in completes
//!   before the coroutine gives it up (a `send` whose message was taken, a `recv` that was
//!   handed a message, a lock handed over — even after the cancel, while the coroutine waited
//!   to run), the operation returns its result and the coroutine unwinds at its next
//!   suspension instead. The wait decides under the primitive's own lock, so the outcome is
//!   exact: a `send` returns `Ok` if and only if its value was delivered.
//! - **As whom.** The unwind runs *as the coroutine*, on its worker: its destructors see it as
//!   [`current()`], may use coroutine-locals, and may wait (lock a `Mutex` to give a
//!   connection back to a pool, send on a channel): a wait there parks the coroutine, and other
//!   coroutines of the worker run meanwhile.
//! - **Once.** The cancellation is delivered once. A coroutine that catches it
//!   (`std::panic::catch_unwind` sees a [`Cancelled`] payload) may wait again normally; if it
//!   then returns, its join gets the value.
//! - **Outcome.** The join reports [`Cancelled`] ([`is_cancelled`]) if the unwind reached the
//!   top of the coroutine. A panic raised while unwinding after catching the cancellation ends
//!   at the join like any panic; the worker and the other coroutines live on. A destructor
//!   that panics *while* the unwind runs it aborts the process: that is Rust's rule for a
//!   panic during unwinding, which no runtime can catch. A closure dropped unstarted whose
//!   destructor panics reports that panic at the join.
//! - **Nothing lost.** A wake or a value handed to a waiter that is then cancelled passes on:
//!   to the next waiter, or back into the channel (see [`crate::sync`]'s contract per
//!   operation). A `send` that returned `Ok` means a receiver got the value or it is still
//!   receivable.
//! - **Shutdown.** Dropping a [`Runtime`](crate::Runtime) cancels every task as above and
//!   runs what their destructors wake until nothing is runnable. A destructor that then still
//!   waits can never be woken: the wait panics, naming the shutdown, instead of hanging the
//!   drop. Inside an unwind, where that panic would abort the process, the coroutine is left
//!   behind instead: its stack leaked, its remaining destructors unrun, its join reporting a
//!   panic that says so (and a line on stderr). Spawning on a runtime that is gone gives a
//!   join that reports [`Cancelled`] at once.
//! - **Inside an unwind.** A cancellation that finds the coroutine already unwinding (a
//!   panic, or an elapsed timeout, whose destructors wait) is not delivered there: a second
//!   unwind started in a destructor that runs during one would abort the process. It is
//!   held until that unwind is over: if the unwind ends the coroutine, its join reports what
//!   started it; if a timeout scope stops it and the coroutine goes on, the cancellation is
//!   delivered at its next suspension. A destructor that waits *forever* there is a deadlock
//!   like any other: the deadlock report still comes (the runtime's retries of the held
//!   cancellation do not count as something that could wake a coroutine).
//! - **A limit of Rust's `std`: the panic count is per thread.** While a coroutine's
//!   destructor waits *during an unwind*, its worker thread counts as panicking for every
//!   coroutine of that worker: [`std::thread::panicking()`] returns `true` in all of them until
//!   that unwind ends, and a `std::sync::MutexGuard` taken before and dropped in that window
//!   poisons its mutex. corio cannot always tell whose unwind it is either: cancellations and
//!   [`time::timeout`](crate::time::timeout) expiries of coroutines of that worker that
//!   yield, or park, while it lasts are held back until it ends (then delivered, not lost);
//!   a coroutine parked before it began is cancelled at once. std gives no way to keep the
//!   count per coroutine, so keep waits in destructors short (give a connection back with
//!   `try_send`, or hand slow clean-up to a spawned task).
//! - **Not on a worker thread outside a coroutine.** Code that the worker itself runs outside
//!   any coroutine (the destructors of a never-started task's closure) may not wait: the wait
//!   panics rather than block every coroutine of the worker.
//!
//! Public API above the kernel: a task is one heap cell (header + closure + output slot, see
//! `rt::task`); its coroutine is created by the worker that first runs it and never leaves
//! that worker (see `rt::sched`).

pub(crate) mod join;
mod join_error;
pub(crate) mod local;

use std::any::Any;
use std::fmt;
use std::task::Waker;
use std::time::{Duration, Instant};

pub use join::JoinHandle;
pub use join_error::JoinError;
pub use local::{AccessError, LocalKey};

pub use crate::rt::task::harness::Cancelled;
use crate::rt::{self, context, Suspend, TaskCell, TaskRef};

/// Spawns a coroutine running `f` on the current runtime and returns its [`JoinHandle`].
///
/// `f` must be `Send` because the not-yet-started task may be stolen by another worker. Once
/// it runs, its coroutine stays on that worker for good, so the coroutine *may* hold `!Send`
/// values (an `Rc`, a thread-local's reference) across suspension points:
///
/// ```
/// use std::rc::Rc;
/// corio::run(|| {
///     corio::spawn(|| {
///         let rc = Rc::new(5); // created inside: never crosses a thread
///         corio::yield_now();
///         assert_eq!(*rc, 5);
///     })
///     .join()
///     .unwrap();
/// });
/// ```
///
/// A closure that captures a `!Send` value is rejected at compile time:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// corio::run(|| {
///     let rc = Rc::new(5);
///     corio::spawn(move || println!("{rc}")).join().unwrap();
/// });
/// ```
///
/// # Panics
/// Outside a runtime (a coroutine, a blocking job, or a thread inside
/// [`Runtime::enter`](crate::Runtime::enter)). Use [`Handle::spawn`](crate::Handle::spawn)
/// from other threads.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_named(f, None, 0)
}

/// Spawns `f` as a task named `name` on a `stack_size`-byte stack (0: the runtime's).
#[track_caller]
pub(crate) fn spawn_named<F, T>(f: F, name: Option<Box<str>>, stack_size: usize) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let at = std::panic::Location::caller();
    let mut handle = None;
    rt::spawn(|runtime| {
        let task: TaskRef = TaskCell::with_stack_size(f, runtime, name, at, stack_size);
        traced_spawn(&task);
        handle = Some(JoinHandle::new(task.clone()));
        task
    });
    handle.expect("spawned")
}

/// The `spawn` event (feature `tracing`; nothing otherwise).
#[inline(always)]
pub(crate) fn traced_spawn(task: &TaskRef) {
    if crate::trace::ENABLED {
        let h = task.header();
        let parent = try_current().map(|t| t.id().as_u64());
        crate::trace::spawn(h.id, h.name.as_deref(), parent);
    }
}

/// Configures a task before spawning it.
///
/// ```
/// corio::run(|| {
///     let h = corio::task::Builder::new()
///         .name("worker-1")
///         .spawn(|| corio::task::current().name().map(str::to_owned));
///     assert_eq!(h.join().unwrap().as_deref(), Some("worker-1"));
/// });
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<String>,
    stack_size: usize,
}

impl Builder {
    /// A builder with default settings.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Names the task (shown by [`current`] and [`JoinHandle::name`]).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The task's stack size in bytes (rounded up to pages, at least 16 KiB), instead of
    /// the runtime's [`Builder::stack_size`](crate::Builder::stack_size): for a task that
    /// needs a deep stack (large locals, deep recursion) or, smaller, for very many tasks.
    /// Stacks cost address space; only the pages a task touches cost memory.
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::task::Builder::new().stack_size(4 << 20).spawn(|| {
    ///         let big = [1u8; 1 << 20]; // 1 MiB local: too big for the default 256 KiB
    ///         std::hint::black_box(&big).len()
    ///     });
    ///     assert_eq!(h.join().unwrap(), 1 << 20);
    /// });
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Spawns the task like [`spawn`].
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_named(f, self.name.map(String::into_boxed_str), self.stack_size)
    }
}

/// A task's unique id (unique within the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub(crate) u64);

impl TaskId {
    /// The id as an integer.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A handle to a running task, from [`current`].
#[derive(Clone)]
pub struct Task {
    raw: TaskRef,
}

impl Task {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        TaskId(self.raw.header().id)
    }

    /// The task's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.raw.header().name.as_deref()
    }

    /// A handle that wakes this task from [`park`].
    pub fn unparker(&self) -> Unparker {
        Unparker {
            raw: self.raw.clone(),
        }
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("name", &self.name())
            .finish()
    }
}

/// The task whose coroutine is running.
///
/// # Panics
/// Outside a coroutine; see [`try_current`].
pub fn current() -> Task {
    try_current().expect("corio::task::current called outside a coroutine")
}

/// The task whose coroutine is running, or `None` outside a coroutine.
pub fn try_current() -> Option<Task> {
    context::coroutine(|c| c.map(|c| Task { raw: c.task_ref() }))
}

/// The running coroutine's [`Unparker`], or `None` outside a coroutine: one
/// reference-count increment (the `current().unparker()` route takes two and
/// gives one back).
#[inline]
pub(crate) fn current_unparker() -> Option<Unparker> {
    context::coroutine(|c| c.map(|c| Unparker { raw: c.task_ref() }))
}

/// Lets the other runnable coroutines of this worker run, then continues.
/// Outside a coroutine it yields the thread ([`std::thread::yield_now`]).
pub fn yield_now() {
    if !context::suspend(Suspend::Yield) {
        std::thread::yield_now();
    }
}

/// Parks the current coroutine until its [`Unparker`] (or its [`Waker`]) is used.
///
/// Like [`std::thread::park`] it has a one-token memory (an unpark that comes first makes the
/// next park return at once) and may return spuriously, so call it in a loop that checks a
/// condition. This is the primitive the runtime's own blocking operations are built on.
/// Outside a coroutine it is `std::thread::park`.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// corio::run(|| {
///     let flag = Arc::new(AtomicBool::new(false));
///     let me = corio::task::current().unparker();
///     let f = flag.clone();
///     corio::spawn(move || {
///         f.store(true, Ordering::Release);
///         me.unpark();
///     });
///     while !flag.load(Ordering::Acquire) {
///         corio::task::park();
///     }
/// });
/// ```
///
/// The deadlock report counts a coroutine parked here as woken only by other coroutines: a
/// plain thread that holds its `Unparker` should also hold a [`Handle`](crate::Handle).
pub fn park() {
    if !context::suspend(Suspend::Park) {
        context::assert_thread_may_block();
        std::thread::park();
    }
}

/// Like [`park`], but returns after `timeout` at the latest. Returns `true` if the timeout
/// passed.
pub fn park_timeout(timeout: Duration) -> bool {
    match Instant::now().checked_add(timeout) {
        Some(deadline) => park_deadline(deadline),
        None => {
            park();
            false
        }
    }
}

/// Like [`park`], but returns at `deadline` at the latest. Returns `true` if it has passed.
pub fn park_deadline(deadline: Instant) -> bool {
    if context::in_coroutine() {
        rt::park_until(deadline)
    } else {
        context::assert_thread_may_block();
        let now = Instant::now();
        if deadline > now {
            std::thread::park_timeout(deadline - now);
        }
        Instant::now() >= deadline
    }
}

/// Wakes a parked task. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct Unparker {
    raw: TaskRef,
}

impl Unparker {
    /// Wakes the task if it is parked, or makes its next [`park`] return at once.
    pub fn unpark(&self) {
        if self.raw.header().state.notify(0) {
            rt::schedule(self.raw.clone());
        }
    }

    /// Like [`unpark`](Self::unpark), consuming the handle: its task reference moves into
    /// the run queue instead of being cloned (two reference-count operations fewer).
    #[inline]
    pub(crate) fn unpark_owned(self) {
        rt::wake(self.raw);
    }

    /// The id of the task this handle wakes.
    pub(crate) fn task_id(&self) -> TaskId {
        TaskId(self.raw.header().id)
    }

    /// The same wake-up as a [`Waker`] (no allocation).
    pub fn into_waker(self) -> Waker {
        self.raw.waker()
    }
}

impl From<Unparker> for Waker {
    fn from(u: Unparker) -> Waker {
        u.into_waker()
    }
}

impl fmt::Debug for Unparker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unparker")
            .field("task", &TaskId(self.raw.header().id))
            .finish()
    }
}

/// Whether a panic payload is a cancellation's (by [`JoinHandle::cancel`] or by the runtime
/// shutting down): what a `catch_unwind` inside a coroutine sees while it is cancelled.
/// For a finished task use [`JoinError::is_cancelled`].
pub fn is_cancelled(payload: &(dyn Any + Send)) -> bool {
    payload.is::<Cancelled>()
}
