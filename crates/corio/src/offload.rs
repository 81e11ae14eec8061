//! Running a thread-blocking call so that only the calling coroutine waits.

use std::panic;

/// Runs `f` on the blocking pool and parks the calling coroutine until it returns; on a plain
/// thread (no coroutine to park) it simply calls `f`. A panic in `f` is resumed here.
///
/// If the calling coroutine is cancelled meanwhile, it unwinds at once and `f` still runs to
/// its end on the pool, its result dropped (as with `tokio::fs`).
pub(crate) fn offload<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if crate::task::try_current().is_none() {
        return f();
    }
    match crate::spawn_blocking(f).join() {
        Ok(v) => v,
        Err(e) => panic::resume_unwind(e.into_payload()),
    }
}
