//! How code finds its runtime: thread-local pointers to the worker running on this thread,
//! the coroutine running on it, and (for threads that are not workers) the runtime they act
//! for; plus the process-wide registry of live runtimes by id. Also the per-coroutine
//! [`CoroutineCtx`], which lives on the coroutine's own stack, and [`suspend`]. What a
//! coroutine does when it is resumed with anything but `Resume::Run` is in [`interrupt`].

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic;
use std::ptr;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, Weak};

mod interrupt;

use interrupt::resumed_other;
pub(crate) use interrupt::{
    opening_during_unwind, parked_while_unwinding, pending_interrupt, settle_interrupts, Interrupt,
};

use crate::rt::capture::WaitTarget;
use crate::rt::coroutine::{CoYielder, Resume, Suspend};
use crate::rt::sched::worker::Local;
use crate::rt::sched::Shared;
use crate::rt::scope::ScopeStack;
use crate::rt::task::cell::{clone_raw, RawTask, TaskRef};

/// The per-coroutine context. It lives in the coroutine's first stack frame, so it is valid
/// exactly as long as the coroutine, and its `!Send` contents never leave the home thread.
pub(crate) struct CoroutineCtx {
    pub(crate) yielder: *const CoYielder,
    /// The task; its worker's coroutine slot owns a reference ([`RawRef`](crate::rt::task::cell::RawRef)) for as long as the
    /// coroutine exists.
    pub(crate) task: *const dyn RawTask,
    /// `coroutine_local!` values, by key index.
    pub(crate) locals: RefCell<Vec<Option<Box<dyn Any>>>>,
    pub(crate) locals_dead: Cell<bool>,
    /// A counted reference to `task` that the worker handed back when the coroutine parked
    /// (the run queue's reference, no longer needed there). The next [`task_ref`](Self::task_ref)
    /// takes it instead of counting a new one, so a park/wake cycle that goes through a waiter
    /// handle moves one reference around instead of incrementing and decrementing.
    spare: Cell<Option<TaskRef>>,
    /// Its open timeout scopes (see [`crate::rt::scope`]).
    pub(crate) scopes: ScopeStack,
    /// Its cancellation's unwind has begun (`Resume::CancelNow` then changes nothing).
    cancel_unwinding: Cell<bool>,
    /// How it last suspended (read only when resumed with something other than `Run`).
    suspended: Cell<Suspend>,
    /// What it waits for, where its frames cannot say (see [`note_wait`]).
    wait_note: Cell<Option<WaitTarget>>,
    /// A cancellation was taken by a park as a spurious wake: see [`pending_interrupt`].
    cancel_armed: Cell<bool>,
    /// It is parked in a wait that settles interrupts itself ([`settle_interrupts`]).
    settles: Cell<bool>,
    /// A cancellation came while the thread was unwinding and waits to be delivered (see
    /// `interrupt::cancel_or_hold`).
    cancel_held: Cell<bool>,
    /// Retries of a held-back unwind since the coroutine was last seen not unwinding (see
    /// `interrupt::retry_soon`).
    retries: Cell<u32>,
    /// The thread was unwinding when the coroutine parked (see `interrupt::may_be_unwinding`).
    parked_unwinding: Cell<bool>,
    /// A `Resume::Scope` was taken by a park as a spurious wake: see [`pending_interrupt`].
    scope_armed: Cell<bool>,
}

impl CoroutineCtx {
    /// The running coroutine's task.
    pub(crate) fn task(&self) -> &dyn RawTask {
        // SAFETY: the coroutine's slot holds a reference while the coroutine (and so this
        // context, which lives on its stack) exists.
        unsafe { &*self.task }
    }

    /// A counted reference to the running coroutine's task.
    pub(crate) fn task_ref(&self) -> TaskRef {
        match self.spare.take() {
            Some(t) => t,
            // SAFETY: the pointer came from the slot's RawRef, alive as above.
            None => unsafe { clone_raw(self.task) },
        }
    }

    /// A context for the coroutine of `task`, owned by its worker's slot.
    pub(crate) fn new(yielder: *const CoYielder, task: *const dyn RawTask) -> Self {
        CoroutineCtx {
            yielder,
            task,
            locals: RefCell::new(Vec::new()),
            locals_dead: Cell::new(false),
            spare: Cell::new(None),
            scopes: ScopeStack::default(),
            cancel_unwinding: Cell::new(false),
            suspended: Cell::new(Suspend::Yield),
            wait_note: Cell::new(None),
            cancel_armed: Cell::new(false),
            settles: Cell::new(false),
            cancel_held: Cell::new(false),
            retries: Cell::new(0),
            parked_unwinding: Cell::new(false),
            scope_armed: Cell::new(false),
        }
    }

    /// Keeps `task` (a reference to this coroutine's own task) for the next
    /// [`task_ref`](Self::task_ref); drops it if one is kept already.
    pub(crate) fn keep_spare(&self, task: TaskRef) {
        debug_assert!(std::ptr::addr_eq(&*task as *const dyn RawTask, self.task));
        self.spare.set(Some(task));
    }

    /// Drops the coroutine-locals (at the coroutine's end, or while it unwinds), then refuses
    /// new ones: a destructor that touches a coroutine-local gets `AccessError` instead of a
    /// half-dropped vector.
    pub(crate) fn destroy_locals(&self) {
        if self.locals.borrow().capacity() == 0 {
            // None was ever made (the usual case): no destructor to run, same end state.
            self.locals_dead.set(true);
            set_coroutine(ptr::null());
            return;
        }
        set_coroutine(self); // a forced unwind runs with CORO cleared; locals may look at it
        loop {
            let values = std::mem::take(&mut *self.locals.borrow_mut());
            if values.is_empty() {
                break;
            }
            drop(values);
        }
        self.locals_dead.set(true);
        set_coroutine(ptr::null());
    }
}

thread_local! {
    static WORKER: Cell<*const Local> = const { Cell::new(ptr::null()) };
    static CORO: Cell<*const CoroutineCtx> = const { Cell::new(ptr::null()) };
    static HANDLE: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
    /// The runtime whose blocking-pool thread this is (0: none).
    static BLOCKING_FOR: Cell<u64> = const { Cell::new(0) };
}

/// The worker on this thread, if any.
pub(crate) fn worker<R>(f: impl FnOnce(Option<&Local>) -> R) -> R {
    let p = WORKER.with(Cell::get);
    // SAFETY: a non-null pointer was set by `Local::run` for the duration of the worker loop,
    // and the `Local` it points to lives on that loop's stack frame.
    f(unsafe { p.as_ref() })
}

/// Marks this thread as running worker `local` until the guard drops.
pub(crate) fn enter_worker(local: &Local) -> impl Drop + '_ {
    struct Exit;
    impl Drop for Exit {
        fn drop(&mut self) {
            WORKER.with(|w| w.set(ptr::null()));
        }
    }
    WORKER.with(|w| w.set(local));
    Exit
}

/// Restores the previous runtime of a non-worker thread on drop (see [`enter_handle`]).
pub(crate) struct HandleGuard(Option<Arc<Shared>>);

impl Drop for HandleGuard {
    fn drop(&mut self) {
        HANDLE.with(|h| *h.borrow_mut() = self.0.take());
    }
}

/// Makes a non-worker thread act for `shared` (spawn goes to its injector).
pub(crate) fn enter_handle(shared: Arc<Shared>) -> HandleGuard {
    HandleGuard(HANDLE.with(|h| h.borrow_mut().replace(shared)))
}

/// The runtime this thread acts for: its worker's, or the one entered with `enter_handle`.
pub(crate) fn shared() -> Option<Arc<Shared>> {
    worker(|w| w.map(|w| w.shared.clone())).or_else(|| HANDLE.with(|h| h.borrow().clone()))
}

/// The runtime `id`, if this non-worker thread acts for it (a blocking thread, say).
pub(crate) fn handle_for(id: u64) -> Option<Arc<Shared>> {
    HANDLE.with(|h| h.borrow().as_ref().filter(|s| s.id == id).cloned())
}

/// Live runtimes by id, so a waker used on a thread outside a runtime can find the home
/// worker of its task without every task holding an `Arc` to its runtime (which would put a
/// contended reference count on the spawn path).
static LIVE: Mutex<Vec<(u64, Weak<Shared>)>> = Mutex::new(Vec::new());

/// Makes runtime `shared` findable by its id (see [`runtime`]).
pub(crate) fn register_runtime(shared: &Arc<Shared>) {
    LIVE.lock()
        .unwrap()
        .push((shared.id, Arc::downgrade(shared)));
}

/// Forgets runtime `id` (it shut down).
pub(crate) fn deregister_runtime(id: u64) {
    LIVE.lock().unwrap().retain(|(i, _)| *i != id);
}

/// The runtime with this id, if it is still alive.
pub(crate) fn runtime(id: u64) -> Option<Arc<Shared>> {
    let live = LIVE.lock().unwrap();
    live.iter()
        .find(|(i, _)| *i == id)
        .and_then(|(_, w)| w.upgrade())
}

/// Marks this thread as a blocking-pool thread of runtime `id`, for good.
pub(crate) fn mark_blocking_thread(id: u64) {
    BLOCKING_FOR.with(|b| b.set(id));
}

/// Whether this thread is one of runtime `id`'s own (a worker or a blocking-pool thread),
/// which its shutdown waits for.
pub(crate) fn is_own_thread(id: u64) -> bool {
    worker(|w| w.is_some_and(|w| w.shared.id == id)) || BLOCKING_FOR.with(Cell::get) == id
}

/// The id of the runtime this thread acts for, without touching reference counts.
pub(crate) fn runtime_id() -> Option<u64> {
    worker(|w| w.map(|w| w.shared.id))
        .or_else(|| HANDLE.with(|h| h.borrow().as_ref().map(|s| s.id)))
}

/// Called by a coroutine when it starts and after every suspension: it is the running one.
pub(crate) fn set_coroutine(ctx: *const CoroutineCtx) {
    CORO.with(|c| c.set(ctx));
}

/// Clears the running coroutine (its worker's `resume` returned) and returns its context.
///
/// After a suspension (not a return) the context is the suspended coroutine's own, still
/// alive on its stack: [`suspend`] is the only place a runtime coroutine suspends, and it
/// does so with `CORO` pointing at its context. See [`SuspendedCtx`].
pub(crate) fn take_coroutine() -> *const CoroutineCtx {
    CORO.with(|c| c.replace(ptr::null()))
}

/// The context of a coroutine that suspended and is still in its worker's storage: what
/// [`take_coroutine`] returned after a suspension.
pub(crate) struct SuspendedCtx(NonNull<CoroutineCtx>);

impl SuspendedCtx {
    /// # Safety
    /// `ctx` is what [`take_coroutine`] returned right after the coroutine *suspended* (not
    /// returned), and the handle is used before the coroutine is resumed or removed.
    pub(crate) unsafe fn new(ctx: *const CoroutineCtx) -> Self {
        SuspendedCtx(NonNull::new(ctx.cast_mut()).expect("a suspended coroutine has a context"))
    }

    /// [`CoroutineCtx::keep_spare`] on the suspended coroutine.
    #[inline]
    pub(crate) fn keep_spare(self, task: TaskRef) {
        // SAFETY: the context lives on the suspended coroutine's stack, which its worker keeps
        // until it resumes or removes the coroutine, which it has not done yet (`new`).
        unsafe { self.0.as_ref() }.keep_spare(task);
    }
}

/// The running coroutine's context, if this thread is running one.
pub(crate) fn coroutine<R>(f: impl FnOnce(Option<&CoroutineCtx>) -> R) -> R {
    let p = CORO.with(Cell::get);
    // SAFETY: CORO is non-null only while the coroutine whose first frame holds the CoroutineCtx is
    // running on this thread (set by it, cleared by the worker when `resume` returns).
    f(unsafe { p.as_ref() })
}

/// Sets one of the running coroutine's context cells to `value` until the guard drops, which
/// puts back the previous value (so such settings nest). Two stores; nothing outside a
/// coroutine.
#[inline]
fn set_until_drop<T: Copy, F: Fn(&CoroutineCtx) -> &Cell<T>>(cell: F, value: T) -> impl Drop {
    struct Restore<T: Copy, F: Fn(&CoroutineCtx) -> &Cell<T>>(Option<T>, F);
    impl<T: Copy, F: Fn(&CoroutineCtx) -> &Cell<T>> Drop for Restore<T, F> {
        #[inline]
        fn drop(&mut self) {
            if let Some(previous) = self.0 {
                coroutine(|c| c.map(|c| (self.1)(c).set(previous)));
            }
        }
    }
    Restore(coroutine(|c| c.map(|c| cell(c).replace(value))), cell)
}

/// Notes what the running coroutine is about to wait for (for `corio::debug::dump`: the
/// socket's fd, the task it joins, the deadline of its sleep), until the guard drops; waits
/// nest (a join with a deadline).
pub(crate) fn note_wait(target: WaitTarget) -> impl Drop {
    set_until_drop(|c| &c.wait_note, Some(target))
}

/// The panic message of a coroutine that waits while its runtime shuts down (outside an
/// unwind: one inside is left behind, see `Worker::abandon`).
pub(crate) const SHUTDOWN_WAIT: &str = "corio: a coroutine is waiting while its runtime is \
shutting down, and nothing can wake it any more (did it catch its cancellation and wait \
again?). Cancel or finish such coroutines before dropping the runtime.";

/// The panic message of a thread-blocking wait on a worker thread outside any coroutine.
const WORKER_THREAD_WAIT: &str = "corio: a wait on a worker thread outside any coroutine \
would block every coroutine of that worker (a destructor of a task that never started, run \
when it was cancelled?); hand the work to a coroutine or `spawn_blocking` instead";

/// Panics instead of letting a worker thread block outside a coroutine: only code run by the
/// worker loop itself gets there (e.g. the closure of a task cancelled before it started,
/// dropped by the worker), and blocking it would stall the worker's coroutines, or hang it
/// for good when the wake was to come from one of them.
#[track_caller]
pub(crate) fn assert_thread_may_block() {
    if !in_coroutine() && worker(|w| w.is_some()) {
        panic!("{WORKER_THREAD_WAIT}");
    }
}

/// Whether this thread is running a coroutine.
pub(crate) fn in_coroutine() -> bool {
    !CORO.with(Cell::get).is_null()
}

/// Suspends the running coroutine. Returns `false` (doing nothing) outside a coroutine.
///
/// A suspension point is also where a timeout scope whose deadline passed unwinds the
/// coroutine (resumed with `Resume::Scope`; see [`crate::rt::scope`]).
///
/// # Panics
/// With the deadlock report, if the runtime found that nothing can ever wake this coroutine.
pub(crate) fn suspend(msg: Suspend) -> bool {
    let ctx = CORO.with(Cell::get);
    if ctx.is_null() {
        return false;
    }
    // SAFETY: see `coroutine`: `ctx` is the running coroutine's own context.
    let c = unsafe { &*ctx };
    // SAFETY: the yielder lives in the same coroutine as the CoroutineCtx.
    let yielder = unsafe { &*c.yielder };
    c.suspended.set(msg);
    let input = yielder.suspend(msg);
    // Resumed: on the same thread (coroutines never migrate), so `ctx` is still ours.
    if input != Resume::Run {
        resumed_other(input, c);
    }
    CORO.with(|cell| cell.set(ctx));
    true
}
