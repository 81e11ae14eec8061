//! One socket's registration: its readiness bits and the coroutines waiting on it.
//!
//! # Readiness word
//!
//! ```text
//!   bits 4..   tick: incremented by every event (so a stale snapshot is detectable)
//!   bit  3     WRITE_CLOSED: write side shut down or socket error (sticky)
//!   bit  2     READ_CLOSED:  peer's FIN, hang-up or socket error (sticky)
//!   bit  1     WRITE: writable since the flag was last cleared
//!   bit  0     READ:  readable since the flag was last cleared
//! ```
//!
//! Edge-triggered epoll reports each *change* once, so the flags are the only memory of it.
//! `READ`/`WRITE` are set by events and cleared only by an operation that proved the socket
//! drained (`WouldBlock`, or a short stream transfer), and only if the word still equals the
//! snapshot taken *before* that syscall: an event that came while the syscall ran moved the
//! tick, the clear fails, and the operation retries instead of sleeping through the event.
//! A short transfer clears only `READ`/`WRITE`: the `*_CLOSED` flags stay, since a FIN that
//! arrived together with the last data is reported once, and a reader that drained the data
//! must still see it. Only `WouldBlock` (which a closed stream never returns) clears them.
//!
//! # Waiting without losing a wake-up
//!
//! A waiter pushes itself on `waiters` and re-checks its flag under the `waiters` lock
//! ([`IoRegistration::add_waiter`]); an event sets the flag first and then takes the same
//! lock to wake the waiters. Whichever takes the lock second sees the other's write. The
//! waiters are plain [`Waker`]s: the reactor knows nothing of tasks or workers (the parking
//! side is `net::io`).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use super::Reactor;

/// The direction an operation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Readable (also: accept, a connection's EOF or error).
    Read,
    /// Writable (also: connect completed).
    Write,
}

impl Direction {
    /// The direction's clearable flag in the readiness word.
    #[inline]
    pub(crate) fn bit(self) -> usize {
        match self {
            Direction::Read => READ,
            Direction::Write => WRITE,
        }
    }

    /// Every flag that means "an operation in this direction will not block".
    #[inline]
    pub(crate) fn ready_mask(self) -> usize {
        match self {
            Direction::Read => READ | READ_CLOSED,
            Direction::Write => WRITE | WRITE_CLOSED,
        }
    }
}

pub(crate) const READ: usize = 1;
pub(crate) const WRITE: usize = 2;
pub(crate) const READ_CLOSED: usize = 4;
pub(crate) const WRITE_CLOSED: usize = 8;
const FLAGS: usize = 15;
const TICK: usize = 16;

/// A coroutine waiting for a direction of one socket.
struct IoWaiter {
    /// The direction's `ready_mask`.
    mask: usize,
    /// The waiter's task id (one entry per task and direction).
    id: u64,
    waker: Waker,
}

/// Readiness and waiters of one registered socket (see the module docs). Its address is the
/// socket's epoll token.
pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    waiters: Mutex<Vec<IoWaiter>>,
}

impl ScheduledIo {
    pub(crate) fn new() -> Self {
        ScheduledIo {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new(Vec::with_capacity(2)),
        }
    }

    /// An event: sets `ready` flags (moving the tick) and wakes the matching waiters.
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
        let mut i = 0;
        while i < waiters.len() {
            if waiters[i].mask & ready != 0 {
                waiters.swap_remove(i).waker.wake(); // its count moves into the run queue
            } else {
                i += 1;
            }
        }
    }

    /// Clears `flags` if the word still equals `snapshot`; returns whether it did.
    #[inline]
    fn clear(&self, snapshot: usize, flags: usize) -> bool {
        self.readiness
            .compare_exchange(
                snapshot,
                snapshot & !flags,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    fn remove(&self, id: u64, mask: usize) {
        self.waiters
            .lock()
            .unwrap()
            .retain(|w| !(w.id == id && w.mask == mask));
    }
}

/// A socket's registration with a runtime's reactor; deregisters on drop.
///
/// Invariant: `fd` stays open (and registered) for as long as the `IoRegistration` lives, so
/// the owning socket must drop (or take) its registration before closing its fd. A live
/// registration counts as a wake-up source for the deadlock check (`rt::deadlock`): a peer
/// may send at any time.
pub(crate) struct IoRegistration {
    io: Arc<ScheduledIo>,
    reactor: Arc<Reactor>,
    fd: RawFd,
}

impl IoRegistration {
    pub(crate) fn new(io: Arc<ScheduledIo>, reactor: Arc<Reactor>, fd: RawFd) -> Self {
        IoRegistration { io, reactor, fd }
    }

    /// The registered file descriptor.
    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }

    /// The readiness word, to snapshot before a syscall.
    #[inline]
    pub(crate) fn snapshot(&self) -> usize {
        self.io.readiness.load(Ordering::Acquire)
    }

    /// Clears `dir`'s flag if the word still equals `snapshot` (no event since).
    #[inline]
    pub(crate) fn clear(&self, dir: Direction, snapshot: usize) {
        self.io.clear(snapshot, dir.bit());
    }

    /// Clears every flag of `dir` (the sticky one too) if the word still equals `snapshot`;
    /// returns whether it did (if not, an event came in between: retry the syscall).
    #[inline]
    pub(crate) fn clear_all(&self, dir: Direction, snapshot: usize) -> bool {
        self.io.clear(snapshot, dir.ready_mask())
    }

    /// Whether an operation in `dir` may not block now.
    #[inline]
    pub(crate) fn is_ready(&self, dir: Direction) -> bool {
        self.snapshot() & dir.ready_mask() != 0
    }

    /// Queues `waker` (task `id`) for the next event in `dir`, unless `dir` is ready already
    /// (checked under the waiters lock; see the module docs). Returns whether it queued.
    pub(crate) fn add_waiter(
        &self,
        dir: Direction,
        id: u64,
        waker: impl FnOnce() -> Waker,
    ) -> bool {
        let mask = dir.ready_mask();
        let mut waiters = self.io.waiters.lock().unwrap();
        if self.io.readiness.load(Ordering::Acquire) & mask != 0 {
            return false;
        }
        if !waiters.iter().any(|w| w.id == id && w.mask == mask) {
            waiters.push(IoWaiter {
                mask,
                id,
                waker: waker(),
            });
        }
        true
    }

    /// Removes task `id`'s waiter for `dir`, if still queued.
    pub(crate) fn remove_waiter(&self, dir: Direction, id: u64) {
        self.io.remove(id, dir.ready_mask());
    }
}

impl Drop for IoRegistration {
    fn drop(&mut self) {
        self.reactor.deregister(self.fd, self.io.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(io: &ScheduledIo) -> usize {
        io.readiness.load(Ordering::Acquire)
    }

    #[test]
    fn an_event_during_the_syscall_keeps_the_flag() {
        let io = ScheduledIo::new();
        io.set_ready(READ | WRITE);
        let snap = load(&io); // taken before the "syscall"
        io.set_ready(READ); // an event while it ran: the tick moves
        assert!(!io.clear(snap, READ), "a stale snapshot must not clear");
        assert_ne!(load(&io) & READ, 0);
        let snap = load(&io);
        assert!(io.clear(snap, READ));
        assert_eq!(load(&io) & (READ | WRITE), WRITE);
    }

    #[test]
    fn closed_flags_survive_a_short_read_but_not_would_block() {
        let io = ScheduledIo::new();
        io.set_ready(READ | READ_CLOSED);
        let snap = load(&io);
        assert!(io.clear(snap, Direction::Read.bit())); // short read: data drained
        assert_ne!(
            load(&io) & Direction::Read.ready_mask(),
            0,
            "EOF still pending"
        );
        let snap = load(&io);
        assert!(io.clear(snap, Direction::Read.ready_mask())); // WouldBlock: nothing pending
        assert_eq!(load(&io) & FLAGS, 0);
    }
}
