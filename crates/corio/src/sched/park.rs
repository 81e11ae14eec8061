//! A futex-based parker: one per worker, with a one-token memory like `std::thread::park`.
//!
//! # State machine
//!
//! ```text
//!            unpark()                     park(): token consumed, returns at once
//!   EMPTY ─────────────▶ NOTIFIED ────────────────────────────────────────▶ EMPTY
//!     │                     ▲
//!     │ park(): no token    │ unpark(): swap to NOTIFIED, then futex_wake
//!     ▼                     │
//!   PARKED ─────────────────┘   (the parked thread wakes, CASes NOTIFIED → EMPTY, returns)
//! ```
//!
//! Why no wake-up can be lost: `unpark` *swaps* the word to `NOTIFIED` before it looks at the
//! old value, so whichever comes second of "park decrements" and "unpark swaps" sees the
//! other's write. If the parker already sleeps (`PARKED`), the waker issues `futex_wake`;
//! if it has not slept yet, `futex_wait(PARKED)` fails immediately because the word is no
//! longer `PARKED`. A futex wait also returns spuriously, so the parked side loops until it
//! consumes the token (or its timeout passes).
//!
//! # Parking in the reactor
//!
//! [`Parker::park_in`] is the same protocol with the thread blocked in the reactor's
//! `epoll_wait` instead of the futex: `EMPTY → POLLING` (a token already there is consumed
//! instead), and an `unpark` that swaps out `POLLING` ends the wait through the reactor's
//! `mio::Waker` (an eventfd write) instead of `futex_wake`.

use crate::loom::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const PARKED: u32 = u32::MAX;
const EMPTY: u32 = 0;
const NOTIFIED: u32 = 1;
/// Blocked in the reactor (see [`Parker::park_in`]).
const POLLING: u32 = u32::MAX - 1;

/// Parks one thread until another unparks it (see the module docs for the state machine).
#[derive(Debug)]
pub(crate) struct Parker {
    state: AtomicU32,
    /// Ends a `park_in` wait (the reactor's waker); `None` for parkers that never poll.
    interrupt: Option<std::sync::Arc<mio::Waker>>,
    #[cfg(loom)]
    futex: sys::LoomFutex,
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            state: AtomicU32::new(EMPTY),
            interrupt: None,
            #[cfg(loom)]
            futex: sys::LoomFutex::default(),
        }
    }

    /// A parker whose thread may also park in the reactor whose waker is `interrupt`.
    pub(crate) fn with_interrupt(interrupt: std::sync::Arc<mio::Waker>) -> Self {
        Parker {
            interrupt: Some(interrupt),
            ..Parker::new()
        }
    }

    /// Like [`park`](Self::park), but the thread blocks in `wait` (the reactor's
    /// `epoll_wait`), which an [`unpark`](Self::unpark) meanwhile interrupts through the
    /// reactor's waker. Returns at once, consuming it, if a token is already there.
    pub(crate) fn park_in(&self, wait: impl FnOnce()) {
        debug_assert!(self.interrupt.is_some());
        // Acquire on both paths: see what the unparker wrote before its token.
        if self
            .state
            .compare_exchange(EMPTY, POLLING, Ordering::Acquire, Ordering::Acquire)
            .is_err()
        {
            self.state.swap(EMPTY, Ordering::Acquire); // NOTIFIED → EMPTY
            return;
        }
        wait();
        // POLLING → EMPTY, or NOTIFIED → EMPTY (the token is consumed: the caller searches
        // its queues next anyway).
        self.state.swap(EMPTY, Ordering::Acquire);
    }

    /// Blocks until a token is available (consuming it) or `timeout` passes.
    /// May return spuriously; callers re-check their condition.
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        // Acquire: pairs with the Release swap in `unpark`, so whatever the waker wrote
        // before unparking (a queued task) is visible once we see its token.
        if self.state.fetch_sub(1, Ordering::Acquire) == NOTIFIED {
            return; // NOTIFIED → EMPTY: the token was already there.
        }
        // EMPTY → PARKED.
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => break,
                },
                None => None,
            };
            self.wait(left);
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
        // Timed out: leave PARKED. A token that raced in is consumed now (a spurious return).
        self.state.swap(EMPTY, Ordering::Acquire);
    }

    /// Makes the token available, waking the parked thread if there is one.
    pub(crate) fn unpark(&self) {
        // Release: publishes the waker's writes to the thread that consumes the token.
        match self.state.swap(NOTIFIED, Ordering::Release) {
            PARKED => self.wake(),
            POLLING => {
                if let Some(waker) = &self.interrupt {
                    // An eventfd write; it fails only if the eventfd is broken, and then the
                    // poll's timeout (or the next event) still ends the wait.
                    let _ = waker.wake();
                }
            }
            _ => {}
        }
    }

    #[cfg(not(loom))]
    fn wait(&self, timeout: Option<Duration>) {
        sys::futex_wait(&self.state, PARKED, timeout);
    }

    #[cfg(not(loom))]
    fn wake(&self) {
        sys::futex_wake(&self.state);
    }

    #[cfg(loom)]
    fn wait(&self, _timeout: Option<Duration>) {
        // loom has no clock: a timed park is modelled as an untimed one.
        self.futex.wait(&self.state, PARKED);
    }

    #[cfg(loom)]
    fn wake(&self) {
        self.futex.wake();
    }
}

#[cfg(not(loom))]
mod sys {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    /// Sleeps while `*word == expected` (checked atomically by the kernel).
    pub(super) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: t.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `word` is a live, aligned u32 for the duration of the call; FUTEX_WAIT only
        // reads it, and `ts_ptr` is null or points to a timespec on this stack frame.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                ts_ptr,
            );
        }
    }

    /// Wakes one thread sleeping in `futex_wait` on `word`.
    pub(super) fn futex_wake(word: &AtomicU32) {
        // SAFETY: FUTEX_WAKE only uses the address as a key; `word` is live.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            );
        }
    }
}

#[cfg(loom)]
mod sys {
    use loom::sync::atomic::AtomicU32;
    use loom::sync::{Condvar, Mutex};
    use std::sync::atomic::Ordering;

    /// A futex emulated with a mutex and a condvar, for the model checker.
    #[derive(Debug, Default)]
    pub(super) struct LoomFutex {
        lock: Mutex<()>,
        cv: Condvar,
    }

    impl LoomFutex {
        pub(super) fn wait(&self, word: &AtomicU32, expected: u32) {
            let guard = self.lock.lock().unwrap();
            if word.load(Ordering::Relaxed) == expected {
                drop(self.cv.wait(guard).unwrap());
            }
        }

        pub(super) fn wake(&self) {
            let _guard = self.lock.lock().unwrap();
            self.cv.notify_all();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn token_before_park_returns_at_once() {
        let p = Parker::new();
        p.unpark();
        p.park(None); // must not block
    }

    #[test]
    fn park_timeout_expires() {
        let p = Parker::new();
        let t = Instant::now();
        p.park(Some(Duration::from_millis(20)));
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn unpark_from_other_thread() {
        let p = Arc::new(Parker::new());
        let p2 = p.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            p2.unpark();
        });
        p.park(None);
        h.join().unwrap();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;

    /// loom_park_unpark: a flag set before `unpark` is always seen after `park` returns,
    /// and the parked thread always wakes (loom reports a deadlock otherwise).
    #[test]
    fn loom_park_unpark() {
        loom::model(|| {
            let p = Arc::new(Parker::new());
            let flag = Arc::new(AtomicBool::new(false));
            let (p2, flag2) = (p.clone(), flag.clone());
            let t = loom::thread::spawn(move || {
                flag2.store(true, std::sync::atomic::Ordering::Relaxed);
                p2.unpark();
            });
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                p.park(None);
            }
            t.join().unwrap();
        });
    }
}
