//! Async interop: running a `Future` to completion from blocking-style code. Public API
//! above the kernel; the wait loop itself is `rt::wait`.

use std::future::Future;

/// Runs a future to completion and returns its output.
///
/// Inside a coroutine only the coroutine waits: it parks between polls and its worker runs
/// other coroutines; the future's waker (usable from any thread) wakes it. Outside a
/// coroutine it blocks the calling thread. Any runtime-agnostic future works, e.g. a
/// `futures::channel::oneshot` fed from another thread, or a [`JoinHandle`](crate::JoinHandle).
///
/// ```
/// corio::run(|| {
///     let h = corio::spawn(|| 6 * 7);
///     assert_eq!(corio::block_on(async move { h.await.unwrap() }), 42);
/// });
/// ```
///
/// While a coroutine waits here the deadlock report assumes something outside the runtime
/// may wake it, and stays silent.
pub fn block_on<F: Future>(future: F) -> F::Output {
    crate::rt::wait::wait(future, true)
}
