//! How code finds its runtime: thread-local pointers to the worker running on this thread,
//! the coroutine running on it, and (for threads that are not workers) the runtime they act
//! for; plus the process-wide registry of live runtimes by id. Also the per-coroutine
//! [`CoroutineCtx`], which lives on the coroutine's own stack.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic;
use std::ptr;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, Weak};

use crate::rt::capture::{self, WaitTarget};
use crate::rt::coroutine::{CoYielder, Resume, Suspend};
use crate::rt::deadlock::DEADLOCK_REPORT;
use crate::rt::sched::worker::Local;
use crate::rt::sched::Shared;
use crate::rt::scope::{Due, ScopeElapsed, ScopeStack};
use crate::rt::task::cell::{clone_raw, RawTask, TaskRef};
use crate::rt::task::harness::Cancelled;

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
    /// [`cancel_or_hold`]).
    cancel_held: Cell<bool>,
    /// Retries of a held-back unwind since the coroutine was last seen not unwinding (see
    /// [`retry_soon`]).
    retries: Cell<u32>,
    /// The thread was unwinding when the coroutine parked (see [`may_be_unwinding`]).
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

/// Resumed with something other than `Run`: a capture request (answered before `CORO` is
/// set: the worker runs on meanwhile), then whatever the input says. Out of line, and `msg`
/// is read back from the context rather than kept live across the switch: keeping it live
/// there measured 35 ns per `yield` instead of 12 (bench row `yield`, same machine and run;
/// the instruction counts barely differ, so it is the pipeline, not the work).
#[cold]
#[inline(never)]
fn resumed_other(mut input: Resume, c: &CoroutineCtx) {
    let msg = c.suspended.get();
    if input == Resume::Capture {
        input = captured(c, msg);
    }
    if input != Resume::Run {
        CORO.with(|cell| cell.set(c));
        resumed_to_fail(input, msg, c);
    }
}

/// A timeout scope may be due (`Resume::Scope`): unwinds to it if so (see
/// [`crate::rt::scope`]). A delivery deferred because the thread is unwinding (a destructor
/// waits) must not be lost while the coroutine parks: a short scope timer wakes it to try
/// again.
#[cold]
#[inline(never)]
fn scope_due(ctx: &CoroutineCtx) {
    match ctx
        .scopes
        .due(may_be_unwinding(ctx), Some(std::time::Instant::now()))
    {
        Due::Nothing => {}
        // No panic hook: like a cancellation, an elapsed scope is not an error to report.
        Due::Unwind(id) => panic::resume_unwind(Box::new(ScopeElapsed(id))),
        Due::Deferred => retry_soon(ctx),
    }
}

/// Wakes the running coroutine shortly as if a timeout scope's timer fired, so that it tries
/// again to deliver what the thread's unwinding held back: a due scope, a held cancellation.
/// Never removed: if it fires when nothing is left to deliver, the wake is a spurious one,
/// which every parking caller tolerates. The delay doubles with each retry of the same
/// unwind (1 ms to 64 ms), so a destructor that waits long costs a few wakes, not a thousand
/// a second.
fn retry_soon(ctx: &CoroutineCtx) {
    let n = ctx.retries.get();
    ctx.retries.set(n.saturating_add(1));
    let retry = std::time::Instant::now() + INTERRUPT_RETRY * (1 << n.min(6));
    let task = ctx.task_ref();
    worker(|w| w.map(|w| w.insert_retry_timer(retry, task)));
}

/// The first delay of a held-back unwind's retries.
const INTERRUPT_RETRY: std::time::Duration = std::time::Duration::from_millis(1);

/// Delivers a cancellation, unless the coroutine may be unwinding ([`may_be_unwinding`]): a
/// second unwind started inside a destructor that runs during one would abort the process.
/// Then the cancellation is held and retried shortly (the coroutine returns as from a
/// spurious wake). If the unwind is the coroutine's own (a panic whose destructors wait), it
/// ends the coroutine anyway and the held cancellation lapses; if it was another coroutine's
/// on this worker, the cancellation is delivered once that one ends.
fn cancel_or_hold(c: &CoroutineCtx) {
    if may_be_unwinding(c) {
        c.cancel_held.set(true);
        retry_soon(c);
        return;
    }
    c.cancel_held.set(false);
    unwind_cancelled(c)
}

/// Notes that the coroutine whose context is `ctx` parked while its thread was unwinding.
/// Called by the worker after the switch back: a check in `suspend`, before the switch,
/// measured 3x on `yield`; yields are not noted at all (see [`may_be_unwinding`]).
#[cold]
#[inline(never)]
pub(crate) fn parked_while_unwinding(ctx: *const CoroutineCtx) {
    // SAFETY: the worker passes what `take_coroutine` returned after a park: the parked
    // coroutine's own context, alive on its stack (see `SuspendedCtx`).
    if let Some(c) = unsafe { ctx.as_ref() } {
        // Cleared where it is read (`may_be_unwinding`) or when the coroutine ends.
        if !c.parked_unwinding.replace(true) {
            worker(|w| w.map(|w| w.note_unwinder(true)));
        }
    }
}

impl Drop for CoroutineCtx {
    fn drop(&mut self) {
        clear_park_note(self); // the coroutine ends: it is not parked mid-unwind any more
    }
}

/// Clears the running coroutine's park note (see [`parked_while_unwinding`]).
fn clear_park_note(c: &CoroutineCtx) {
    if c.parked_unwinding.replace(false) {
        worker(|w| w.map(|w| w.note_unwinder(false)));
    }
}

/// Whether a timeout scope opened now is opened *during an unwind* of the running coroutine
/// (in a destructor that runs during one), so that it may end before that unwind does (see
/// `rt::scope`). The thread's panic count answers only if no other coroutine of the worker
/// may be parked mid-unwind; otherwise this says no, and the scope waits for the unwind
/// like one opened before it (never an unwind out of a destructor; at worst a delay).
pub(crate) fn opening_during_unwind() -> bool {
    if !std::thread::panicking() {
        return false;
    }
    coroutine(|c| {
        let Some(c) = c else { return false };
        let own = usize::from(c.parked_unwinding.get());
        worker(|w| w.is_some_and(|w| w.noted_unwinders() == own))
    })
}

/// Whether the running coroutine, just resumed, may be inside an unwind (a destructor that
/// waits), so that starting another would abort. Not panicking now means no: a panic count
/// cannot drop while its coroutine is suspended, and nothing ran on its stack since. Panicking
/// now may be another coroutine's doing (std counts panics per thread): after a park the
/// worker noted whether the thread was unwinding then, so a clear note means no; after a yield
/// (not noted, to keep `yield` fast), or with a note left over from an earlier park (it is
/// cleared only here), it errs towards yes, and what that holds back is retried until the
/// unwind ends.
fn may_be_unwinding(c: &CoroutineCtx) -> bool {
    if !std::thread::panicking() {
        clear_park_note(c);
        c.retries.set(0);
        return false;
    }
    c.suspended.get() == Suspend::Yield || c.parked_unwinding.get()
}

/// At the park of a wait that settles interrupts itself ([`settle_interrupts`]), a retry or a
/// second delivery must not unwind from the park: the wait's operation may have completed on
/// another thread since the wait last looked (its value taken, a lock handed over), and only
/// the wait can tell, under its own lock. So a held cancellation and the scopes are armed for
/// its [`pending_interrupt`] and the park returns as from a spurious wake. If something is
/// pending, a retry is set too: should the wait complete instead, or the thread still be
/// unwinding, a later suspension delivers it.
fn arm_for_the_wait(c: &CoroutineCtx) {
    c.scope_armed.set(true);
    let scope_pending = c
        .scopes
        .peek_due(false, std::time::Instant::now())
        .is_some();
    if c.cancel_held.get() {
        c.cancel_armed.set(true);
    }
    if c.cancel_held.get() || scope_pending {
        retry_soon(c);
    }
}

/// Gives the running coroutine up to its worker (`Suspend::Abandon`: leaked, never resumed),
/// when it is stuck at shutdown in a wait that it may have reached inside an unwind.
#[cold]
fn abandon(c: &CoroutineCtx) -> ! {
    // SAFETY: the yielder lives in the same coroutine as its context, which is running.
    let yielder = unsafe { &*c.yielder };
    loop {
        // The worker never resumes an abandoned coroutine; should it, give up again.
        yielder.suspend(Suspend::Abandon);
    }
}

/// A retry wake ([`retry_soon`]): delivers a held cancellation if the thread no longer unwinds.
/// Not at the park of a wait that settles (see [`arm_for_the_wait`]).
fn retry_held(c: &CoroutineCtx) {
    if c.cancel_held.get() {
        cancel_or_hold(c);
    }
}

/// Starts the unwind of a cancelled coroutine. No panic hook: a cancellation is not an error
/// to report. The coroutine's entry catches the payload and stores it as the task's outcome.
#[cold]
#[inline(never)]
fn unwind_cancelled(c: &CoroutineCtx) -> ! {
    c.cancel_unwinding.set(true);
    c.cancel_held.set(false);
    panic::resume_unwind(Box::new(Cancelled))
}

/// A cancellation or an elapsed timeout scope that a park of the running coroutine took as a
/// spurious wake, and that its next suspension will deliver (see [`pending_interrupt`]).
#[derive(Debug)]
pub(crate) enum Interrupt {
    Cancel,
    Scope(u64),
}

impl Interrupt {
    /// Unwinds the running coroutine with it now, as its next suspension would have.
    #[cold]
    pub(crate) fn deliver(self) -> ! {
        coroutine(|c| {
            let c = c.expect("an interrupt is taken by its own coroutine");
            match self {
                Interrupt::Cancel => unwind_cancelled(c),
                Interrupt::Scope(id) => {
                    c.scopes.mark_delivered(id);
                    panic::resume_unwind(Box::new(ScopeElapsed(id)))
                }
            }
        })
    }
}

/// Marks the running coroutine's parks, until the guard drops, as those of a wait that
/// settles interrupts itself through [`pending_interrupt`]: a cancel that is the only wake
/// returns from such a park as a spurious wake instead of unwinding at once.
pub(crate) fn settle_interrupts() -> impl Drop {
    set_until_drop(|c| &c.settles, true)
}

/// What a wait asks whenever it finds its operation not done, before it parks (the first time
/// too): whether the running coroutine has a cancellation or an elapsed timeout scope to
/// deliver.
/// If so the wait gives up under its own lock, as on a timeout, and only if that succeeds
/// (nobody completed the operation meanwhile) calls [`Interrupt::deliver`]; otherwise it
/// returns what completed and the interrupt comes at the next suspension. This is how
/// `timeout(d, || tx.send(v))` returns `Err(Elapsed)` only if `v` was not delivered, and how a
/// cancelled sender whose value was taken returns `Ok` from `send`.
///
/// `None` outside a coroutine, and for a cancellation while the coroutine may be unwinding
/// (a destructor that waits: a second unwind would abort); a timeout scope opened during
/// that unwind may still end (see `rt::scope`). The wait then parks as usual, and the next
/// resume says what to do.
///
/// `woke`: the wait parked and woke since it began, so only the wait's own code ran since
/// the coroutine was resumed, and [`may_be_unwinding`] judges whether it is inside an unwind.
/// Before its first park the coroutine's own code has run since (it may have started an
/// unwind whose destructor is this wait, say), and the thread's panic count is all there is
/// to go by: panicking means "may be unwinding", and the park that follows is judged exactly
/// when it is resumed (`arm_for_the_wait`).
#[inline]
pub(crate) fn pending_interrupt(woke: bool) -> Option<Interrupt> {
    coroutine(|c| {
        let c = c?;
        if !c.cancel_armed.get() && !c.scope_armed.get() {
            return None;
        }
        interrupt_slow(c, woke)
    })
}

#[cold]
#[inline(never)]
fn interrupt_slow(c: &CoroutineCtx, woke: bool) -> Option<Interrupt> {
    let unwinding = if woke {
        may_be_unwinding(c)
    } else {
        std::thread::panicking()
    };
    if c.cancel_armed.get() && !c.cancel_unwinding.get() && !unwinding {
        return Some(Interrupt::Cancel);
    }
    if c.scope_armed.get() {
        match c.scopes.peek_due(unwinding, std::time::Instant::now()) {
            Some(id) => return Some(Interrupt::Scope(id)),
            // Due but held back by the unwind: it stays armed, and `scope_due` retries.
            None if unwinding => {}
            None => c.scope_armed.set(false),
        }
    }
    None
}

/// Answers capture requests (for a dump: `rt::capture`) until a real resume comes: takes a
/// backtrace here and suspends again with the same message; the worker resumes no code.
#[cold]
#[inline(never)]
fn captured(c: &CoroutineCtx, msg: Suspend) -> Resume {
    // SAFETY: the yielder lives in the same coroutine as the CoroutineCtx.
    let yielder = unsafe { &*c.yielder };
    loop {
        capture::take_here(c.wait_note.get());
        let input = yielder.suspend(msg);
        if input != Resume::Capture {
            return input;
        }
    }
}

/// The panic message of a coroutine that waits while its runtime shuts down.
pub(crate) const SHUTDOWN_WAIT: &str = "corio: a coroutine is waiting while its runtime is \
shutting down, and nothing can wake it any more (a destructor that waits, run by the \
shutdown's unwinding?). Cancel or finish such coroutines before dropping the runtime.";

/// A coroutine resumed with something other than `Run`: unwind or panic, as the input says.
#[cold]
#[inline(never)]
fn resumed_to_fail(input: Resume, suspended: Suspend, c: &CoroutineCtx) {
    match input {
        Resume::Run => {}
        Resume::Capture => unreachable!("handled in `suspend`"),
        // A yield completes nothing: a cancel or due scope unwinds at once. A scope's timer
        // is never taken as the wake of a park, and neither is a cancel at a wait that
        // settles interrupts itself (`sync`, see `settle_interrupts`), even when it was the
        // only wake: the operation may have completed on another thread meanwhile (a value
        // delivered, a lock handed over). The park returns as from a spurious wake, so the
        // wait settles first (see `pending_interrupt`); the worker has requeued the coroutine
        // to be resumed with `CancelNow`/`ScopeNow` at its next suspension. A plain park that
        // only the cancel woke unwinds at once. No check on the hot path of `suspend`: it
        // measured 2x on `yield`.
        Resume::Scope if suspended == Suspend::Yield => {
            retry_held(c);
            scope_due(c);
        }
        Resume::Scope => c.scope_armed.set(true),
        // A second delivery (or a retry's) at the park of a wait that settles: armed for the
        // wait, never unwound from the park (see `arm_for_the_wait`).
        Resume::ScopeNow | Resume::CancelNow if suspended != Suspend::Yield && c.settles.get() => {
            if input == Resume::CancelNow && !c.cancel_unwinding.get() {
                c.cancel_held.set(true);
            }
            arm_for_the_wait(c);
        }
        Resume::ScopeNow => {
            c.scope_armed.set(false);
            retry_held(c);
            scope_due(c);
        }
        Resume::Deadlock => panic!("{}", DEADLOCK_REPORT),
        Resume::Cancel if suspended == Suspend::Yield || !c.settles.get() => cancel_or_hold(c),
        Resume::CancelAfterWake if suspended == Suspend::Yield => cancel_or_hold(c),
        // A wake came before the cancel (or a settling wait): return as from that wake.
        Resume::Cancel | Resume::CancelAfterWake => c.cancel_armed.set(true),
        Resume::CancelNow => {
            c.cancel_armed.set(false);
            if !c.cancel_unwinding.get() {
                cancel_or_hold(c); // else unwinding already (after a yield, or an interrupt)
            }
        }
        // Inside an unwind a panic would abort the process: the coroutine gives itself up.
        Resume::Stuck if may_be_unwinding(c) => abandon(c),
        // A panic (printed), so the reason shows: a wait after the cancellation was caught.
        Resume::Stuck => panic!("{SHUTDOWN_WAIT}"),
    }
}
