//! The one place that names the coroutine crate: everything else uses [`Co`] and
//! [`CoYielder`]. (Development adapter over corosensei until corio-coroutine lands.)

use std::cell::RefCell;
use std::io;

use corosensei::stack::DefaultStack;
pub(crate) use corosensei::CoroutineResult;
use corosensei::{Coroutine, Yielder};

/// What a worker passes to a coroutine when it resumes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    /// Carry on.
    Run,
    /// The runtime found the program deadlocked: panic with the report (main coroutine only).
    Deadlock,
}

/// Why a coroutine gave its worker back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suspend {
    /// Runnable: put it at the back of the worker's run queue.
    Yield,
    /// Waiting: run it again only once it is woken (or if a wake is already pending).
    Park,
}

/// A runtime coroutine: everything it produces goes through its task, not its return value.
pub(crate) type Co = Coroutine<Resume, Suspend, (), DefaultStack>;
/// The handle a running coroutine suspends itself with.
pub(crate) type CoYielder = Yielder<Resume, Suspend>;
/// What [`resume`] reports.
pub(crate) type CoResult = CoroutineResult<Suspend, ()>;

/// Stack size of coroutines made by [`Co::new`]-style creation.
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

thread_local! {
    /// Stacks of finished coroutines, reused by the next coroutine on this thread.
    static POOL: RefCell<Vec<DefaultStack>> = const { RefCell::new(Vec::new()) };
}

const POOL_MAX: usize = 256;

/// Creates a coroutine on a pooled stack (`stack_size` 0 = default).
pub(crate) fn create(
    stack_size: usize,
    f: impl FnOnce(&CoYielder, Resume) + 'static,
) -> io::Result<Co> {
    let size = if stack_size == 0 {
        DEFAULT_STACK_SIZE
    } else {
        stack_size
    };
    let stack = match POOL.with(|p| p.borrow_mut().pop()) {
        Some(s) if size == DEFAULT_STACK_SIZE => s,
        _ => DefaultStack::new(size)?,
    };
    Ok(Coroutine::with_stack(stack, f))
}

/// Resumes `co`.
pub(crate) fn resume(co: &mut Co, input: Resume) -> CoResult {
    co.resume(input)
}

/// Disposes of a coroutine that returned, keeping its stack for reuse.
pub(crate) fn recycle(co: Co) {
    if !co.done() {
        return; // dropping unwinds it
    }
    let stack = co.into_stack();
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(stack);
        }
    });
}
