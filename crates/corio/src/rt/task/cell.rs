//! The task cell: one heap allocation per spawn holding the header, the not-yet-started
//! closure and the output slot. The coroutine (and its stack) is *not* in it: the home worker
//! creates that on first run and keeps it in worker-local storage, so only this `Send` cell
//! ever crosses threads (see `rt::sched` for why that makes `spawn` sound).
//!
//! This file knows nothing of the scheduler (so the task's users do not depend on it); the
//! type-erased operations and the waker, which call into the scheduler, are in `vtable`.

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::thread;

use super::state::State;

/// `Header::home` / `Header::slot` before the coroutine exists.
pub(crate) const UNSET: u32 = u32::MAX;

/// The part of a task every owner can read, whatever its closure and output types.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) state: State,
    /// The worker the coroutine lives on, written once by that worker before it first releases
    /// `RUNNING` (so a waker that sees the task idle also sees this).
    pub(crate) home: AtomicU32,
    /// Index of the coroutine in its home worker's storage; touched only by the home worker.
    pub(crate) slot: AtomicU32,
    /// The runtime the task belongs to (see `rt::context::runtime`).
    pub(crate) rt: u64,
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    /// Usable bytes of the coroutine's stack; 0 for the runtime's `Builder::stack_size`.
    pub(crate) stack_size: usize,
    /// Where it was spawned (`#[track_caller]`), for `debug::dump`.
    pub(crate) spawned_at: &'static Location<'static>,
    /// The join waker (state rule 3).
    join_waker: UnsafeCell<Option<Waker>>,
}

impl Header {
    fn new(rt: u64, name: Option<Box<str>>, spawned_at: &'static Location<'static>) -> Self {
        Header {
            spawned_at,
            state: State::new(),
            home: AtomicU32::new(UNSET),
            slot: AtomicU32::new(UNSET),
            rt,
            id: next_id(),
            name,
            stack_size: 0,
            join_waker: UnsafeCell::new(None),
        }
    }

    /// # Safety
    /// The caller owns the waker slot (state rule 3).
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn join_waker(&self) -> &mut Option<Waker> {
        // SAFETY: exclusive by the caller's contract.
        unsafe { &mut *self.join_waker.get() }
    }
}

/// Task ids come from per-thread blocks so spawning touches no shared counter.
fn next_id() -> u64 {
    const BLOCK: u64 = 1024;
    static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
    thread_local! { static NEXT: Cell<(u64, u64)> = const { Cell::new((0, 0)) }; }
    NEXT.with(|c| {
        let (mut next, mut end) = c.get();
        if next == end {
            next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        c.set((next + 1, end));
        next
    })
}

/// Type-erased operations on a task cell. All `unsafe fn`s require the caller to hold
/// `RUNNING` on the task and not `COMPLETE` (state rule 1).
///
/// # Safety
/// An implementor is `#[repr(C)]` with a [`Header`] as its first field: `header()` reads it
/// through the data pointer, without a virtual call (it is on every scheduling path).
pub(crate) unsafe trait RawTask: Send + Sync + 'static {
    /// Runs the closure and stores its output. Called once, inside the task's coroutine (or on
    /// a blocking thread); a panic propagates to the caller with the stage left `Running`.
    unsafe fn run(&self);
    /// Drops the closure without running it (cancelled, or runtime shut down, before start).
    unsafe fn drop_closure(&self);
    /// Stores a failure (panic payload or [`Cancelled`](super::harness::Cancelled)) as the output.
    unsafe fn set_error(&self, payload: Box<dyn Any + Send>);
    /// Moves the output to `*dst`, which must be a `Option<thread::Result<T>>` of this task's
    /// `T`. Caller: the `JoinHandle`, after seeing `COMPLETE`.
    unsafe fn take_output(&self, dst: *mut ());
    /// A `Waker` that wakes this task, without allocating.
    fn waker(self: Arc<Self>) -> Waker;
    /// A `Waker` that borrows this task's count instead of holding one.
    ///
    /// # Safety
    /// `self` lives in an `Arc`, and a counted reference outlives the returned waker (clones
    /// of it take their own counts).
    unsafe fn waker_ref(&self) -> ManuallyDrop<Waker>;
}

/// A counted reference to a task.
pub(crate) type TaskRef = Arc<dyn RawTask>;

/// An owned task reference kept as the raw pointer of `Arc::into_raw`, so that code holding
/// only the pointer (a coroutine's context) can borrow the task, make counted references
/// ([`clone_raw`]) and borrowed wakers from it while this owner lives.
pub(crate) struct RawRef(NonNull<dyn RawTask>);

impl RawRef {
    pub(crate) fn new(task: TaskRef) -> Self {
        RawRef(NonNull::new(Arc::into_raw(task) as *mut dyn RawTask).expect("Arc is non-null"))
    }

    pub(crate) fn ptr(&self) -> *const dyn RawTask {
        self.0.as_ptr()
    }

    pub(crate) fn get(&self) -> &dyn RawTask {
        // SAFETY: we own a count, so the task is alive.
        unsafe { self.0.as_ref() }
    }

    pub(crate) fn into_arc(self) -> TaskRef {
        let ptr = self.0.as_ptr();
        std::mem::forget(self);
        // SAFETY: takes back the count `new` gave to the pointer.
        unsafe { Arc::from_raw(ptr) }
    }
}

impl Drop for RawRef {
    fn drop(&mut self) {
        // SAFETY: releases the count `new` gave to the pointer.
        drop(unsafe { Arc::from_raw(self.0.as_ptr()) });
    }
}

/// A counted reference from a [`RawRef::ptr`] pointer.
///
/// # Safety
/// The `RawRef` the pointer came from is alive.
pub(crate) unsafe fn clone_raw(ptr: *const dyn RawTask) -> TaskRef {
    // SAFETY: `ptr` came from `Arc::into_raw` and its owner is alive (caller's contract).
    unsafe {
        Arc::increment_strong_count(ptr);
        Arc::from_raw(ptr)
    }
}

impl dyn RawTask {
    /// The task's header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: every implementor starts with its Header (the trait's safety contract).
        unsafe { &*(self as *const dyn RawTask as *const Header) }
    }
}

/// Where a task's closure and output are.
pub(super) enum Stage<F, T> {
    Pending(F),
    Running,
    Done(thread::Result<T>),
    Taken,
}

/// A task with its closure and output types.
#[repr(C)]
pub(crate) struct TaskCell<F, T> {
    pub(super) header: Header,
    stage: UnsafeCell<Stage<F, T>>,
}

// SAFETY: the stage is only touched by one thread at a time (state rule 1), and `F` and `T`
// are `Send`, so moving access between threads is fine; the header is atomics or immutable,
// apart from the waker slot (state rule 3).
unsafe impl<F: Send, T: Send> Sync for TaskCell<F, T> {}

impl<F, T> TaskCell<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    /// A task that will run `f` on runtime `rt`. Its [`RawTask`] operations and waker are in
    /// `vtable`.
    pub(crate) fn new(
        f: F,
        rt: u64,
        name: Option<Box<str>>,
        spawned_at: &'static Location<'static>,
    ) -> Arc<Self> {
        TaskCell::with_stack_size(f, rt, name, spawned_at, 0)
    }

    /// A task whose coroutine gets a `stack_size`-byte stack (0: the runtime's default).
    pub(crate) fn with_stack_size(
        f: F,
        rt: u64,
        name: Option<Box<str>>,
        spawned_at: &'static Location<'static>,
        stack_size: usize,
    ) -> Arc<Self> {
        let mut header = Header::new(rt, name, spawned_at);
        header.stack_size = stack_size;
        Arc::new(TaskCell {
            header,
            stage: UnsafeCell::new(Stage::Pending(f)),
        })
    }

    /// A task that will run `f` on runtime `rt` once something notifies it: unlike a spawned
    /// task it starts out not scheduled (see `rt::timer::run_at`).
    pub(crate) fn unscheduled(f: F, rt: u64, spawned_at: &'static Location<'static>) -> Arc<Self> {
        let mut header = Header::new(rt, None, spawned_at);
        header.state = State::unscheduled();
        Arc::new(TaskCell {
            header,
            stage: UnsafeCell::new(Stage::Pending(f)),
        })
    }

    /// # Safety
    /// State rule 1.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn stage(&self) -> &mut Stage<F, T> {
        // SAFETY: exclusive by state rule 1, which the caller upholds.
        unsafe { &mut *self.stage.get() }
    }
}
