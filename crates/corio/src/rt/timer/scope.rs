//! Running a closure in a timeout scope of the current coroutine (see [`crate::rt::scope`]
//! for how a scope that fires unwinds it).

use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use super::TimerGuard;
use crate::rt::context;
use crate::rt::scope::ScopeElapsed;
use crate::rt::task::state::SCOPE;

/// Runs `f` in the current coroutine; if `deadline` passes while `f` runs, `f` is unwound
/// from its current or next suspension point (its destructors run, as for a cancellation)
/// and the result is `None`. A scope that finishes first disarms its timer and returns `f`'s
/// value, even if the deadline passed meanwhile (what `f` received is never thrown away).
///
/// # Panics
/// Outside a coroutine: a thread has no suspension points to unwind from.
pub(crate) fn run<R>(deadline: Instant, f: impl FnOnce() -> R) -> Option<R> {
    // Opened inside an unwind (a timeout in a destructor that runs during one): it may end
    // while the unwind is still under way, since its unwind stops here, inside that
    // destructor (see `rt::scope`).
    let unwinding = context::opening_during_unwind();
    let (id, mark) = context::coroutine(|c| c.map(|c| c.scopes.enter(deadline, unwinding))).expect(
        "corio::time::timeout called outside a coroutine (run it inside corio::run or a spawned task)",
    );
    /// Closes the scope and disarms its timer, also when something else unwinds through it.
    struct Open {
        id: u64,
        _timer: Option<TimerGuard>,
    }
    impl Drop for Open {
        fn drop(&mut self) {
            context::coroutine(|c| {
                if let Some(c) = c {
                    c.scopes.exit(self.id);
                }
            });
        }
    }
    let timer = if Instant::now() >= deadline {
        // Already due: unwind at the first suspension point. Setting SCOPE on our own running
        // task only marks it (state rule 2): its worker resumes it with `Resume::Scope`.
        mark.set(true);
        context::coroutine(|c| c.map(|c| c.task().header().state.notify(SCOPE)));
        None
    } else {
        Some(TimerGuard::register(deadline, Some(mark)))
    };
    let open = Open { id, _timer: timer };
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    drop(open);
    match out {
        Ok(v) => Some(v),
        Err(payload)
            if payload
                .downcast_ref::<ScopeElapsed>()
                .is_some_and(|s| s.0 == id) =>
        {
            None
        }
        Err(payload) => panic::resume_unwind(payload),
    }
}
