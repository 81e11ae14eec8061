//! A futex-based sleeper: one per worker thread, with a one-token memory like
//! `std::thread::park` (`sleep` consumes the token `rouse` leaves). Named apart from
//! `task::park`, which parks a coroutine, not a thread.
//!
//! # State machine
//!
//! ```text
//!            rouse()                     sleep(): token consumed, returns at once
//!   EMPTY ─────────────▶ NOTIFIED ────────────────────────────────────────▶ EMPTY
//!     │                     ▲
//!     │ sleep(): no token    │ rouse(): swap to NOTIFIED, then futex_wake
//!     ▼                     │
//!   PARKED ─────────────────┘   (the parked thread wakes, CASes NOTIFIED → EMPTY, returns)
//! ```
//!
//! Why no wake-up can be lost: `rouse` *swaps* the word to `NOTIFIED` before it looks at the
//! old value, so whichever comes second of "sleep decrements" and "rouse swaps" sees the
//! other's write. If the sleeper already sleeps (`PARKED`), the waker issues `futex_wake`;
//! if it has not slept yet, `futex_wait(PARKED)` fails immediately because the word is no
//! longer `PARKED`. A futex wait also returns spuriously, so the parked side loops until it
//! consumes the token (or its timeout passes).
//!
//! # Parking in the reactor
//!
//! [`Sleeper::sleep_in`] is the same protocol with the thread blocked in the reactor's
//! `epoll_wait` instead of the futex: `EMPTY → POLLING` (a token already there is consumed
//! instead), and a `rouse` that swaps out `POLLING` ends the wait through the reactor's
//! `mio::Waker` (an eventfd write) instead of `futex_wake`.

use crate::loom::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const PARKED: u32 = u32::MAX;
const EMPTY: u32 = 0;
const NOTIFIED: u32 = 1;
/// Blocked in the reactor (see [`Sleeper::sleep_in`]).
const POLLING: u32 = u32::MAX - 1;

/// Parks one thread until another rouses it (see the module docs for the state machine).
#[derive(Debug)]
pub(crate) struct Sleeper {
    state: AtomicU32,
    /// Ends a `sleep_in` wait (the reactor's waker); `None` for sleepers that never poll.
    interrupt: Option<std::sync::Arc<mio::Waker>>,
    #[cfg(loom)]
    futex: sys::LoomFutex,
}

impl Sleeper {
    pub(crate) fn new() -> Self {
        Sleeper {
            state: AtomicU32::new(EMPTY),
            interrupt: None,
            #[cfg(loom)]
            futex: sys::LoomFutex::default(),
        }
    }

    /// A sleeper whose thread may also park in the reactor whose waker is `interrupt`.
    pub(crate) fn with_interrupt(interrupt: std::sync::Arc<mio::Waker>) -> Self {
        Sleeper {
            interrupt: Some(interrupt),
            ..Sleeper::new()
        }
    }

    /// Like [`sleep`](Self::sleep), but the thread blocks in `wait` (the reactor's
    /// `epoll_wait`), which a [`rouse`](Self::rouse) meanwhile interrupts through the
    /// reactor's waker. Returns at once, consuming it, if a token is already there.
    pub(crate) fn sleep_in(&self, wait: impl FnOnce()) {
        debug_assert!(self.interrupt.is_some());
        // Acquire on both paths: see what the rouser wrote before its token.
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
    pub(crate) fn sleep(&self, timeout: Option<Duration>) {
        // Acquire: pairs with the Release swap in `rouse`, so whatever the waker wrote
        // before rousing (a queued task) is visible once we see its token.
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
    pub(crate) fn rouse(&self) {
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
    fn token_before_sleep_returns_at_once() {
        let p = Sleeper::new();
        p.rouse();
        p.sleep(None); // must not block
    }

    #[test]
    fn sleep_timeout_expires() {
        let p = Sleeper::new();
        let t = Instant::now();
        p.sleep(Some(Duration::from_millis(20)));
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn rouse_from_other_thread() {
        let p = Arc::new(Sleeper::new());
        let p2 = p.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            p2.rouse();
        });
        p.sleep(None);
        h.join().unwrap();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;

    /// loom_sleep_rouse: a flag set before `rouse` is always seen after `park` returns,
    /// and the parked thread always wakes (loom reports a deadlock otherwise).
    #[test]
    fn loom_sleep_rouse() {
        loom::model(|| {
            let p = Arc::new(Sleeper::new());
            let flag = Arc::new(AtomicBool::new(false));
            let (p2, flag2) = (p.clone(), flag.clone());
            let t = loom::thread::spawn(move || {
                flag2.store(true, std::sync::atomic::Ordering::Relaxed);
                p2.rouse();
            });
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                p.sleep(None);
            }
            t.join().unwrap();
        });
    }
}
