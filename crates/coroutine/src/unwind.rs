//! The forced unwind that dropping a suspended coroutine performs.

use std::any::Any;
use std::panic;

/// The private panic payload of a forced unwind. Only this crate can name
/// it, so the entry function can tell it from the coroutine's own panics.
pub(crate) struct ForcedUnwind;

/// The payload, boxed (a zero-sized box allocates nothing).
pub(crate) fn payload() -> Box<dyn Any + Send> {
    Box::new(ForcedUnwind)
}

/// Starts unwinding the current coroutine's stack. `resume_unwind` skips the
/// panic hook, so nothing is printed.
pub(crate) fn forced() -> ! {
    panic::resume_unwind(payload())
}

/// Whether a caught panic payload is the forced unwind of a coroutine being
/// dropped (see [`Coroutine::force_unwind`](crate::Coroutine::force_unwind)).
///
/// Code inside a coroutine that catches panics (a task runtime catching
/// each task's panic, say) should let this payload continue with
/// [`std::panic::resume_unwind`] so the coroutine finishes unwinding.
///
/// ```
/// use corio_coroutine::{is_forced_unwind, Coroutine, Yielder};
/// use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
///
/// let mut co = Coroutine::new(|yielder: &Yielder<(), ()>, ()| {
///     let caught = catch_unwind(AssertUnwindSafe(|| yielder.suspend(())));
///     if let Err(payload) = caught {
///         assert!(is_forced_unwind(&*payload));
///         resume_unwind(payload); // keep unwinding
///     }
/// });
/// let _ = co.resume(());
/// drop(co); // unwinds the suspended coroutine
/// ```
pub fn is_forced_unwind(payload: &(dyn Any + Send)) -> bool {
    payload.is::<ForcedUnwind>()
}
