//! One socket's registration: its readiness bits and the coroutines waiting on it.
//!
//! # Readiness word
//!
//! ```text
//!   bits 2..   tick: incremented by every event (so a stale snapshot is detectable)
//!   bit  1     WRITE: writable (or write side closed, or error) since the flag was last cleared
//!   bit  0     READ:  readable (or read side closed, or error) since the flag was last cleared
//! ```
//!
//! Edge-triggered epoll reports each *change* once, so the flag is the only memory of it. It
//! is set by events and cleared only by an operation that got `WouldBlock`, and only if the
//! word still equals the snapshot taken *before* that syscall: an event that came while the
//! syscall ran moved the tick, the clear fails, and the operation retries instead of sleeping
//! through the event.
//!
//! # Waiting without losing a wake-up
//!
//! A waiter pushes itself on `waiters` and re-checks its flag under the `waiters` lock; an
//! event sets the flag first and then takes the same lock to unpark the waiters. Whichever
//! takes the lock second sees the other's write.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::Reactor;
use crate::task::{self, TaskId, Unparker};

/// The direction an operation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Readable (also: accept, a connection's EOF or error).
    Read,
    /// Writable (also: connect completed).
    Write,
}

impl Direction {
    /// The direction's flag in the readiness word.
    pub(crate) fn bit(self) -> usize {
        match self {
            Direction::Read => 1,
            Direction::Write => 2,
        }
    }
}

const FLAGS: usize = 3;
const TICK: usize = 4;

struct Waiter {
    bit: usize,
    id: TaskId,
    unparker: Unparker,
}

/// Readiness and waiters of one registered socket (see the module docs). Its address is the
/// socket's epoll token.
pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    waiters: Mutex<Vec<Waiter>>,
}

impl ScheduledIo {
    pub(crate) fn new() -> Self {
        ScheduledIo {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new(Vec::with_capacity(2)),
        }
    }

    /// An event: sets `ready` flags (moving the tick) and unparks the matching waiters.
    pub(crate) fn set_ready(&self, ready: usize) {
        let mut cur = self.readiness.load(Ordering::Relaxed);
        loop {
            let next = (cur & !FLAGS).wrapping_add(TICK) | (cur & FLAGS) | ready;
            // Release: a waiter that sees the flag (or the waker's unpark) sees the event.
            match self.readiness.compare_exchange_weak(
                cur,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(c) => cur = c,
            }
        }
        let mut waiters = self.waiters.lock().unwrap();
        waiters.retain(|w| {
            if w.bit & ready != 0 {
                w.unparker.unpark();
                false
            } else {
                true
            }
        });
    }

    fn remove(&self, id: TaskId, bit: usize) {
        self.waiters
            .lock()
            .unwrap()
            .retain(|w| !(w.id == id && w.bit == bit));
    }
}

/// A socket's registration with a runtime's reactor; deregisters on drop.
///
/// Invariant: `fd` stays open (and registered) for as long as the `Registration` lives, so
/// the owning socket must drop (or take) its registration before closing its fd.
pub(crate) struct Registration {
    io: Arc<ScheduledIo>,
    reactor: Arc<Reactor>,
    fd: RawFd,
}

impl Registration {
    pub(crate) fn new(io: Arc<ScheduledIo>, reactor: Arc<Reactor>, fd: RawFd) -> Self {
        Registration { io, reactor, fd }
    }

    /// The readiness word, to snapshot before a syscall.
    #[inline]
    pub(crate) fn snapshot(&self) -> usize {
        self.io.readiness.load(Ordering::Acquire)
    }

    /// Clears `dir`'s flag if the word still equals `snapshot` (no event since).
    #[inline]
    pub(crate) fn clear(&self, dir: Direction, snapshot: usize) {
        let _ = self.io.readiness.compare_exchange(
            snapshot,
            snapshot & !dir.bit(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }

    /// After a `WouldBlock`: parks the current coroutine until `dir` may be ready again, or
    /// `deadline` passes (`TimedOut`). `snapshot` is the word read before the syscall, if the
    /// socket was registered then. May return early: the caller retries its syscall.
    pub(crate) fn wait(
        &self,
        dir: Direction,
        snapshot: Option<usize>,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        let bit = dir.bit();
        if let Some(snap) = snapshot {
            // Clear our flag only if nothing happened since the syscall began.
            if self
                .io
                .readiness
                .compare_exchange(snap, snap & !bit, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return Ok(()); // an event (or another operation) came in between: retry
            }
        }
        let me = task::current();
        let id = me.id();
        {
            let mut waiters = self.io.waiters.lock().unwrap();
            if self.io.readiness.load(Ordering::Acquire) & bit != 0 {
                return Ok(());
            }
            if !waiters.iter().any(|w| w.id == id && w.bit == bit) {
                waiters.push(Waiter {
                    bit,
                    id,
                    unparker: me.unparker(),
                });
            }
        }
        // Removes our entry if we leave by unwinding (cancellation, shutdown).
        struct Unwind<'a>(&'a ScheduledIo, TaskId, usize);
        impl Drop for Unwind<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.remove(self.1, self.2);
                }
            }
        }
        let guard = Unwind(&self.io, id, bit);
        let timed_out = match deadline {
            Some(d) => task::park_deadline(d),
            None => {
                task::park();
                false
            }
        };
        drop(guard);
        if timed_out {
            self.io.remove(id, bit);
            if self.io.readiness.load(Ordering::Acquire) & bit == 0 {
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
        Ok(())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.reactor.deregister(self.fd, self.io.clone());
    }
}
