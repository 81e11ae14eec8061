//! Timeout scopes: `timeout` and `timeout_at`, the stackful answer to `tokio::time::timeout`.

use std::error::Error;
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use crate::rt::timer::scope;

/// The deadline of a [`timeout`] or [`timeout_at`] scope passed before its closure finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for Elapsed {}

impl From<Elapsed> for io::Error {
    /// An error of kind [`io::ErrorKind::TimedOut`], so `?` works in `io::Result` code.
    fn from(e: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, e)
    }
}

/// Runs `f` in the current coroutine with a time limit: if `f` is still running after
/// `duration`, it is unwound from its current or next suspension point (a `recv`, `lock`,
/// socket read, `sleep`, `join`, `yield_now`, ...) and `timeout` returns `Err(Elapsed)`; the
/// coroutine then carries on after the call.
///
/// The unwind is a cancellation's: destructors run (as this coroutine, so they may wait),
/// and nothing handed to `f` at the deadline is lost: a wait that completed as the deadline
/// passed (a message received, a value sent, a lock taken) keeps its result, and `f` is
/// unwound at its next suspension point instead; a message or lock handed to a waiter that
/// unwinds is passed on to the next waiter, or stays in the channel. The wait decides under
/// the primitive's lock, so `timeout(d, || tx.send(v))` returns `Err(Elapsed)` only if `v`
/// was not delivered. A closure
/// that finishes first returns `Ok` even if the deadline passed meanwhile, and its timer is
/// disarmed. Code that computes without suspending cannot be interrupted: the deadline takes
/// effect at a suspension point after its worker has looked at its timers (a busy worker
/// does every few dozen scheduling rounds; a deadline already passed when the scope opens
/// takes effect at its first suspension point).
///
/// Scopes nest: whichever deadline fires, inner or outer, unwinds to its own scope only (an
/// outer scope's unwind passes through the inner ones).
///
/// In a destructor that runs during an unwind (of a cancellation, a panic, another
/// timeout), a `timeout` opened there still ends at its deadline: its unwind stays inside
/// that destructor, so a graceful close with a time limit in a `Drop` cannot hang a
/// cancelled coroutine. A scope opened *before* that unwind began waits for it to end
/// instead (unwinding out of a destructor that runs during an unwind aborts the process);
/// so does one opened, or whose coroutine parks, while another coroutine of its worker is
/// parked in the middle of an unwind (see [the limit in `corio::task`](crate::task#cancellation)).
///
/// ```
/// use std::time::Duration;
/// use corio::time::timeout;
///
/// corio::run(|| {
///     let (tx, rx) = corio::sync::channel::unbounded::<u32>();
///     assert!(timeout(Duration::from_millis(5), || rx.recv()).is_err());
///     tx.send(7).unwrap();
///     assert_eq!(timeout(Duration::from_secs(5), || rx.recv()), Ok(Ok(7)));
/// });
/// ```
///
/// As with a panic caught by `catch_unwind`, data `f` was modifying in place may be left
/// half-updated when it is unwound; keep what must stay consistent behind a lock or inside
/// `f`.
///
/// # Panics
/// Outside a coroutine (a plain thread has no suspension points to unwind from). A
/// `catch_unwind` inside `f` that swallows the unwind makes `f` return normally instead.
pub fn timeout<T>(duration: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    match Instant::now().checked_add(duration) {
        Some(deadline) => timeout_at(deadline, f),
        None => Ok(f()), // beyond any clock: no deadline
    }
}

/// Like [`timeout`], with the deadline as an instant.
pub fn timeout_at<T>(deadline: Instant, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    scope::run(deadline, f).ok_or(Elapsed(()))
}
