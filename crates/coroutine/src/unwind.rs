//! The forced unwind that dropping a suspended coroutine performs.

use std::any::Any;
use std::panic;

/// How a coroutine's function ended: its return value, or a panic payload.
pub(crate) type Outcome<R> = Result<R, Box<dyn Any + Send>>;

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
