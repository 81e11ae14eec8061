//! Helpers shared by the integration tests.

use std::thread;
use std::time::Duration;

/// Runs `f` on its own thread and returns its result, failing the test instead of hanging
/// if it takes longer than `limit`.
pub fn watchdog<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("watchdog: not finished within {limit:?} (hang?)"))
}
