//! The I/O reactor: one `mio::Poll` (epoll) per runtime, polled by whichever worker runs out
//! of work, instead of by a dedicated I/O thread.
//!
//! A driver *below* the kernel: it wakes plain [`Waker`](std::task::Waker)s and counts its
//! registrations in `rt::deadlock`, and knows nothing of tasks, workers or sleepers. The
//! scheduler (`rt::sched`) owns one per runtime and drives it; `net` registers sockets.
//!
//! # How an operation waits
//!
//! 1. A socket operation tries its syscall first. Data that is already there costs exactly one
//!    syscall and never touches the reactor.
//! 2. Only on `WouldBlock` is the socket registered (once, lazily, edge-triggered, for both
//!    directions: see [`registration`]), its readiness flag for that direction cleared — if no
//!    event arrived since the syscall started — and the coroutine parked.
//! 3. A worker with nothing to run sleeps in the reactor instead of on its futex: its idle
//!    path takes the [`Poller`] ([`Reactor::try_poller`]) and blocks in [`Poller::poll`]
//!    through its sleeper. Each event sets readiness bits and wakes the waiting coroutines'
//!    wakers, which send them to their home worker.
//!
//! # Who polls
//!
//! At most one worker at a time blocks in `epoll_wait` (the `poll` lock is only ever
//! *tried*); the others sleep on their futex as before. A wake-up aimed at the polling worker
//! goes through the reactor's [`mio::Waker`] (see `rt::sched::sleeper`: the sleeper's
//! `POLLING` state). A busy worker also polls without blocking every few dozen scheduling ticks, so I/O
//! is not starved while coroutines keep every worker busy.
//!
//! # Token lifetime
//!
//! A registration's token is the address of its [`ScheduledIo`]. Deregistration removes the
//! fd from epoll first; the `ScheduledIo` is then freed only while holding the `poll` lock
//! (immediately if it is free, else by the next poller before it calls `epoll_wait`), so an
//! event already fetched by a concurrent poll never points to freed memory.

pub(crate) mod registration;

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::rt::deadlock::WakeSources;
pub(crate) use registration::{Direction, IoRegistration, ScheduledIo};

/// The token of the reactor's waker (no `ScheduledIo` lives at address 0).
const WAKER: Token = Token(0);
/// Events fetched per `epoll_wait`.
const EVENTS: usize = 1024;
/// Deregistered `ScheduledIo`s left for the poller to free before it is woken to do so.
const RELEASE_BATCH: usize = 1024;

/// The per-runtime reactor (see the module docs).
pub(crate) struct Reactor {
    /// Held by the worker polling; only ever `try_lock`ed.
    poll: Mutex<PollState>,
    registry: mio::Registry,
    waker: Arc<mio::Waker>,
    /// Where live registrations are counted (for the deadlock check, and to skip polling
    /// while there are none).
    sources: Arc<WakeSources>,
    /// Deregistered `ScheduledIo`s waiting to be freed under the `poll` lock.
    release: Mutex<Vec<Arc<ScheduledIo>>>,
    /// Calls to `epoll_wait` so far (for `Handle::metrics`).
    polls: AtomicU64,
}

struct PollState {
    poll: Poll,
    events: Events,
}

/// The `poll` lock of a [`Reactor`], held by the worker that polls (see
/// [`Reactor::try_poller`]).
pub(crate) struct Poller<'a> {
    reactor: &'a Reactor,
    state: MutexGuard<'a, PollState>,
}

impl Poller<'_> {
    /// Blocks in `epoll_wait` for at most `timeout` (`None`: until an event or the reactor's
    /// waker) and dispatches what arrives.
    pub(crate) fn poll(&mut self, timeout: Option<Duration>) {
        self.reactor.poll_locked(&mut self.state, timeout);
    }
}

impl Reactor {
    /// A reactor counting its registrations in `sources`.
    pub(crate) fn new(sources: Arc<WakeSources>) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Arc::new(mio::Waker::new(&registry, WAKER)?);
        Ok(Reactor {
            poll: Mutex::new(PollState {
                poll,
                events: Events::with_capacity(EVENTS),
            }),
            registry,
            waker,
            sources,
            release: Mutex::new(Vec::new()),
            polls: AtomicU64::new(0),
        })
    }

    /// The waker that interrupts the polling worker's `epoll_wait`.
    pub(crate) fn waker(&self) -> Arc<mio::Waker> {
        self.waker.clone()
    }

    /// Live registrations (no need to poll while there are none).
    #[inline]
    pub(crate) fn registrations(&self) -> usize {
        self.sources.io_registrations()
    }

    /// Registers `fd` for both directions, edge-triggered.
    pub(crate) fn register(self: &Arc<Self>, fd: RawFd) -> io::Result<IoRegistration> {
        let io = Arc::new(ScheduledIo::new());
        let token = Token(Arc::as_ptr(&io) as usize);
        self.registry.register(
            &mut SourceFd(&fd),
            token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        self.sources.io_registered();
        Ok(IoRegistration::new(io, self.clone(), fd))
    }

    /// Removes `fd` from epoll and frees `io` once no poller can still see its token.
    pub(crate) fn deregister(&self, fd: RawFd, io: Arc<ScheduledIo>) {
        // An error means the fd is already gone from the interest list (closed elsewhere).
        let _ = self.registry.deregister(&mut SourceFd(&fd));
        self.sources.io_deregistered();
        match self.poll.try_lock() {
            // Nobody is polling or dispatching: no event can refer to `io` any more.
            Ok(_guard) => drop(io),
            Err(_) => {
                let mut release = self.release.lock().unwrap();
                release.push(io);
                if release.len() % RELEASE_BATCH == 0 {
                    // A poller blocked without events would keep these forever: end its
                    // wait so that its next poll frees them.
                    let _ = self.waker.wake();
                }
            }
        }
    }

    /// The right to block in `epoll_wait`, if sockets are registered and no other worker
    /// holds it. An idle worker that gets it sleeps in [`Poller::poll`] (through its sleeper,
    /// so that rousing it ends the wait); otherwise it sleeps on its futex.
    pub(crate) fn try_poller(&self) -> Option<Poller<'_>> {
        if self.registrations() == 0 {
            return None;
        }
        let state = self.poll.try_lock().ok()?;
        Some(Poller {
            reactor: self,
            state,
        })
    }

    /// Calls to `epoll_wait` so far.
    pub(crate) fn poll_count(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    /// Polls without blocking, if no other worker is polling (for busy and searching
    /// workers). Returns whether any socket event was dispatched.
    pub(crate) fn poll_now(&self) -> bool {
        if self.registrations() == 0 {
            return false;
        }
        match self.poll.try_lock() {
            Ok(mut state) => self.poll_locked(&mut state, Some(Duration::ZERO)) > 0,
            Err(_) => false,
        }
    }

    /// Polls and dispatches; returns the number of socket events.
    fn poll_locked(&self, state: &mut PollState, timeout: Option<Duration>) -> usize {
        // Events of earlier polls are all dispatched: the released tokens are dead now.
        let released = std::mem::take(&mut *self.release.lock().unwrap());
        drop(released);
        let PollState { poll, events } = state;
        self.polls.fetch_add(1, Ordering::Relaxed); // next to a system call: no hot path
        if let Err(e) = poll.poll(events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                eprintln!("corio: epoll_wait failed: {e}");
            }
            return 0;
        }
        let mut n = 0;
        for event in events.iter() {
            let token = event.token();
            if token == WAKER {
                continue; // only there to end the wait
            }
            let mut ready = 0;
            if event.is_readable() {
                ready |= registration::READ;
            }
            if event.is_writable() {
                ready |= registration::WRITE;
            }
            if event.is_read_closed() || event.is_error() {
                ready |= registration::READ_CLOSED;
            }
            if event.is_write_closed() || event.is_error() {
                ready |= registration::WRITE_CLOSED;
            }
            // SAFETY: the token is the address of a `ScheduledIo` that stays allocated until
            // it is deregistered and then released under the `poll` lock, which we hold; an
            // event fetched by this poll was queued before its deregistration (token lifetime,
            // module docs).
            let io = unsafe { &*(token.0 as *const ScheduledIo) };
            io.set_ready(ready);
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::sched::sleeper::Sleeper;
    use std::time::Instant;

    /// A `rouse` aimed at a thread blocked in `epoll_wait` (through `sleep_in`) ends the
    /// wait via the reactor's waker, instead of being lost until the next event.
    #[test]
    fn rouse_interrupts_a_sleeper_in_epoll_wait() {
        let reactor = Reactor::new(Arc::new(WakeSources::new(1))).unwrap();
        let sleeper = Arc::new(Sleeper::with_interrupt(reactor.waker()));
        let s2 = sleeper.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            s2.rouse();
        });
        let start = Instant::now();
        // Taken directly: `try_poller` declines while no socket is registered.
        let mut poller = Poller {
            reactor: &reactor,
            state: reactor.poll.lock().unwrap(),
        };
        // No timeout: only the waker can end this wait.
        sleeper.sleep_in(|| poller.poll(None));
        assert!(start.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
        // A token left before sleeping makes `sleep_in` return without polling at all.
        sleeper.rouse();
        sleeper.sleep_in(|| panic!("must not poll with a token pending"));
    }
}
