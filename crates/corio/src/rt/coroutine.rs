//! The runtime's coroutines: the one place that names the `corio-coroutine` crate (the
//! context switch and guarded stacks); everything else uses [`Co`] and [`CoYielder`], and
//! [`CoroutineCtx`](super::context::CoroutineCtx) is what a running coroutine keeps on its
//! own stack.

use std::io;

use corio_coroutine::stack::DefaultStack;
pub(crate) use corio_coroutine::{is_forced_unwind, CoroutineResult};
use corio_coroutine::{Coroutine, Yielder};
/// What a worker passes to a coroutine when it resumes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    /// Carry on.
    Run,
    /// The runtime found the program deadlocked: panic with the report (main coroutine only).
    Deadlock,
    /// The task was cancelled (by its `JoinHandle` or by the runtime shutting down) and the
    /// cancel is what woke it: a yield or a plain park unwinds at once, as this coroutine; a
    /// `sync` wait returns as from a spurious wake and settles under its lock first (see
    /// `rt::context::pending_interrupt`). Delivered once per coroutine (this or
    /// `CancelAfterWake`).
    Cancel,
    /// The task was cancelled after a wake (or while running): a park returns as from that
    /// wake, so a completed operation keeps its result, and the next suspension unwinds; a
    /// yield unwinds at once.
    CancelAfterWake,
    /// The suspension after a `Cancel` or `CancelAfterWake`: unwind now, unless already
    /// unwinding.
    CancelNow,
    /// The suspension after a `Scope` delivered to a park: unwind to a due scope now.
    ScopeNow,
    /// A timeout scope's timer fired (or its deadline had passed when it opened): unwind to
    /// the scope if it is due (see `rt::scope`), else carry on.
    Scope,
    /// The runtime is shutting down and nothing can wake this coroutine, which is waiting
    /// after its cancellation was delivered (in a destructor, say): fail with a clear panic,
    /// or, if it may be inside an unwind (where a panic would abort the process), give itself
    /// up with `Suspend::Abandon`.
    Stuck,
    /// A dump asks for this coroutine's backtrace: take it (`rt::capture`) and suspend again
    /// at once, with the same message, changing nothing else.
    Capture,
}

/// Why a coroutine gave its worker back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suspend {
    /// Runnable: put it at the back of the worker's run queue.
    Yield,
    /// Waiting: run it again only once it is woken (or if a wake is already pending).
    Park,
    /// Stuck at shutdown in the middle of an unwind (`Resume::Stuck`): it can neither wait
    /// nor unwind again, so the worker leaks it, stack and all, and fails its task.
    Abandon,
}

/// A runtime coroutine: everything it produces goes through its task, not its return value.
pub(crate) type Co = Coroutine<Resume, Suspend, (), DefaultStack>;
/// The handle a running coroutine suspends itself with.
pub(crate) type CoYielder = Yielder<Resume, Suspend>;
/// What [`resume`] reports.
pub(crate) type CoResult = CoroutineResult<Suspend, ()>;

/// Creates a coroutine on a stack from this thread's pool (`stack_size` 0 = default).
///
/// # Errors
/// When no stack can be mapped; the message names the limit (e.g. `vm.max_map_count`).
pub(crate) fn create(
    stack_size: usize,
    f: impl FnOnce(&CoYielder, Resume) + 'static,
) -> io::Result<Co> {
    let size = if stack_size == 0 {
        corio_coroutine::stack::DEFAULT_STACK_SIZE
    } else {
        stack_size
    };
    Ok(Coroutine::with_stack(DefaultStack::new(size)?, f))
}

/// Resumes `co`.
#[inline]
pub(crate) fn resume(co: &mut Co, input: Resume) -> CoResult {
    co.resume(input)
}

/// Disposes of a finished coroutine; its stack goes back to this thread's pool.
#[inline]
pub(crate) fn recycle(co: Co) {
    drop(co);
}

/// Gives up a coroutine that suspended with `Suspend::Abandon` without unwinding it: its
/// stack and everything on it are leaked for the rest of the process. Never reused, so a
/// waiter node on it that a channel or lock still links stays valid memory (a wake through
/// it finds the runtime gone and does nothing), as `Pin` requires of memory that was never
/// dropped.
pub(crate) fn abandon(co: Co) {
    std::mem::forget(co);
}
