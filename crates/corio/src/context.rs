//! Thread-local pointers: the worker running on this thread, the coroutine running on it,
//! and (for threads that are not workers) the runtime they act for.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::Arc;

use crate::coro::{CoYielder, Resume, Suspend};
use crate::sched::worker::Local;
use crate::sched::Shared;
use crate::task::raw::{clone_raw, RawTask, TaskRef};

/// The per-coroutine context. It lives in the coroutine's first stack frame, so it is valid
/// exactly as long as the coroutine, and its `!Send` contents never leave the home thread.
pub(crate) struct CoCtx {
    pub(crate) yielder: *const CoYielder,
    /// The task; its worker's coroutine slot owns a reference ([`RawRef`]) for as long as the
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
}

impl CoCtx {
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
        CoCtx {
            yielder,
            task,
            locals: RefCell::new(Vec::new()),
            locals_dead: Cell::new(false),
            spare: Cell::new(None),
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
    static CORO: Cell<*const CoCtx> = const { Cell::new(ptr::null()) };
    static HANDLE: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
    static FORCE_UNWINDING: Cell<bool> = const { Cell::new(false) };
}

/// Drops a suspended coroutine, which unwinds its stack (running its destructors) with the
/// coroutine crate's private panic; the coroutine's entry lets that panic pass.
pub(crate) fn force_unwind(co: crate::coro::Co) {
    let was = FORCE_UNWINDING.with(|f| f.replace(true));
    drop(co);
    FORCE_UNWINDING.with(|f| f.set(was));
}

/// Whether the panic being caught is a forced unwind (see [`force_unwind`]).
pub(crate) fn force_unwinding() -> bool {
    FORCE_UNWINDING.with(Cell::get)
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

/// The id of the runtime this thread acts for, without touching reference counts.
pub(crate) fn runtime_id() -> Option<u64> {
    worker(|w| w.map(|w| w.shared.id))
        .or_else(|| HANDLE.with(|h| h.borrow().as_ref().map(|s| s.id)))
}

/// Called by a coroutine when it starts and after every suspension: it is the running one.
pub(crate) fn set_coroutine(ctx: *const CoCtx) {
    CORO.with(|c| c.set(ctx));
}

/// Clears the running coroutine (its worker's `resume` returned) and returns its context.
///
/// After a suspension (not a return) the context is the suspended coroutine's own, still
/// alive on its stack: [`suspend`] is the only place a runtime coroutine suspends, and it
/// does so with `CORO` pointing at its context.
pub(crate) fn take_coroutine() -> *const CoCtx {
    CORO.with(|c| c.replace(ptr::null()))
}

/// The running coroutine's context, if this thread is running one.
pub(crate) fn coroutine<R>(f: impl FnOnce(Option<&CoCtx>) -> R) -> R {
    let p = CORO.with(Cell::get);
    // SAFETY: CORO is non-null only while the coroutine whose first frame holds the CoCtx is
    // running on this thread (set by it, cleared by the worker when `resume` returns).
    f(unsafe { p.as_ref() })
}

/// Whether this thread is running a coroutine.
pub(crate) fn in_coroutine() -> bool {
    !CORO.with(Cell::get).is_null()
}

/// Suspends the running coroutine. Returns `false` (doing nothing) outside a coroutine.
///
/// # Panics
/// With the deadlock report, if the runtime found that nothing can ever wake this coroutine.
pub(crate) fn suspend(msg: Suspend) -> bool {
    let ctx = CORO.with(Cell::get);
    if ctx.is_null() {
        return false;
    }
    // SAFETY: see `coroutine`; the yielder lives in the same coroutine as the CoCtx.
    let yielder = unsafe { &*(*ctx).yielder };
    let input = yielder.suspend(msg);
    // Resumed: on the same thread (coroutines never migrate), so `ctx` is still ours.
    CORO.with(|c| c.set(ctx));
    if input == Resume::Deadlock {
        panic!("{}", crate::sched::DEADLOCK_REPORT);
    }
    true
}
