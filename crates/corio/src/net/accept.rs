//! Accepting under descriptor exhaustion: `EMFILE`/`ENFILE` (and the kernel's `ENOBUFS`/
//! `ENOMEM`) leave the connection in the backlog, so the listener stays readable and a naive
//! accept loop spins at 100% CPU. Instead the accept backs off (5 ms doubling to 200 ms,
//! sleeping only the coroutine) and retries until descriptors free up. It prints one line
//! (at most one a minute per process, however many listeners and episodes there are).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// Least time between two exhaustion log lines.
const LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Per-listener throttle state.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    /// An exhaustion episode is in progress (its line was printed).
    exhausted: AtomicBool,
}

impl Throttle {
    /// Runs `accept` until it succeeds or fails with an error other than descriptor
    /// exhaustion or an aborted connection.
    pub(crate) fn accept<T>(&self, mut accept: impl FnMut() -> io::Result<T>) -> io::Result<T> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match accept() {
                Ok(v) => {
                    if self.exhausted.load(Ordering::Relaxed) {
                        self.exhausted.store(false, Ordering::Relaxed);
                    }
                    return Ok(v);
                }
                // The peer gave up before we accepted: take the next one.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) if is_exhaustion(&e) => {
                    if !self.exhausted.swap(true, Ordering::Relaxed) {
                        log_exhaustion(&e);
                    }
                    crate::time::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn is_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Prints the exhaustion line, unless one was printed less than [`LOG_INTERVAL`] ago.
fn log_exhaustion(e: &io::Error) {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    /// Milliseconds after `EPOCH` of the last line, plus one (0: never).
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1;
    let last = LAST.load(Ordering::Relaxed);
    if last != 0 && now - last < LOG_INTERVAL.as_millis() as u64 {
        return;
    }
    if LAST
        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
    {
        eprintln!(
            "corio: accept: {e}; backing off (up to {} ms) until descriptors free up",
            MAX_BACKOFF.as_millis()
        );
    }
}
