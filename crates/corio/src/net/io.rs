//! `IoSource`: a non-blocking socket plus its (lazy) reactor registration and timeouts; the
//! one place where "try the syscall, park on `WouldBlock`" is written.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::sys;
use crate::reactor::{Direction, IoRegistration};
use crate::rt::capture::WaitTarget;
use crate::rt::{context, coop};
use crate::task;

/// A non-blocking socket `S` driven by the reactor.
///
/// Invariants: `sock` is in non-blocking mode; `reg` (declared first, so dropped first)
/// deregisters `sock`'s fd before `sock` closes it.
pub(crate) struct IoSource<S: AsRawFd> {
    /// Registered at the first `WouldBlock` inside a coroutine, on that runtime's reactor.
    /// A failed registration is kept (as its error kind) and reported by every later wait.
    reg: OnceLock<Result<IoRegistration, (io::ErrorKind, Option<i32>)>>,
    sock: S,
    /// Nanoseconds; 0 means none.
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
}

impl<S: AsRawFd> IoSource<S> {
    /// Wraps a socket that is already in non-blocking mode.
    pub(crate) fn new(sock: S) -> Self {
        IoSource {
            reg: OnceLock::new(),
            sock,
            read_timeout: AtomicU64::new(0),
            write_timeout: AtomicU64::new(0),
        }
    }

    /// The socket.
    #[inline]
    pub(crate) fn get_ref(&self) -> &S {
        &self.sock
    }

    /// Deregisters (if registered) and returns the socket.
    pub(crate) fn into_inner(self) -> S {
        let IoSource { reg, sock, .. } = self;
        drop(reg); // deregisters while the fd is still open
        sock
    }

    /// A read-side operation (recv, accept), with the read timeout.
    #[inline]
    pub(crate) fn read<R>(&self, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.io(Direction::Read, load_timeout(&self.read_timeout), op)
    }

    /// A write-side operation (send), with the write timeout.
    #[inline]
    pub(crate) fn write<R>(&self, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.io(Direction::Write, load_timeout(&self.write_timeout), op)
    }

    /// A stream read of up to `want` bytes, with the read timeout (see [`Self::stream`]).
    #[inline]
    pub(crate) fn read_stream(
        &self,
        want: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.stream(Direction::Read, load_timeout(&self.read_timeout), want, op)
    }

    /// A stream write of up to `want` bytes, with the write timeout (see [`Self::stream`]).
    #[inline]
    pub(crate) fn write_stream(
        &self,
        want: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.stream(
            Direction::Write,
            load_timeout(&self.write_timeout),
            want,
            op,
        )
    }

    /// Runs `op` until it does not return `WouldBlock`, waiting for `dir` in between; fails
    /// with `TimedOut` once `timeout` (counted from the first wait) has passed.
    #[inline]
    pub(crate) fn io<R>(
        &self,
        dir: Direction,
        timeout: Option<Duration>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        coop::consume(); // a ready socket must not let a loop starve its worker
        let mut deadline = None;
        loop {
            // Snapshot before the syscall, so an event during it is never slept through.
            let snapshot = self.registration().map(IoRegistration::snapshot);
            match op(&self.sock) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return r,
            }
            self.wait_until(dir, snapshot, timeout, &mut deadline)?;
        }
    }

    /// Like [`Self::io`] for a byte-stream transfer of `want` bytes, which also uses what a
    /// *short* transfer proves: `0 < n < want` bytes read means the receive queue is now
    /// empty (a short write: the send buffer is full). Then the readiness flag is cleared
    /// (if no event came since the snapshot) and the next operation parks without first
    /// paying for a syscall that would only say `EAGAIN`. Data arriving later is a new edge,
    /// which sets the flag again. (tokio does the same.) EOF (`n == 0`) never clears it.
    #[inline]
    pub(crate) fn stream(
        &self,
        dir: Direction,
        timeout: Option<Duration>,
        want: usize,
        mut op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        coop::consume(); // as in `io`
        let mut deadline = None;
        loop {
            let reg = self.registration();
            let snapshot = reg.map(IoRegistration::snapshot);
            if let (Some(_), Some(snap)) = (reg, snapshot) {
                if snap & dir.ready_mask() == 0 && want > 0 {
                    // Drained by an earlier operation and no event since: wait first.
                    self.wait_until(dir, snapshot, timeout, &mut deadline)?;
                    continue;
                }
            }
            match op(&self.sock) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Ok(n) => {
                    if let (Some(reg), Some(snap)) = (reg, snapshot) {
                        if n > 0 && n < want {
                            reg.clear(dir, snap);
                        }
                    }
                    return Ok(n);
                }
                r => return r,
            }
            self.wait_until(dir, snapshot, timeout, &mut deadline)?;
        }
    }

    #[inline]
    fn wait_until(
        &self,
        dir: Direction,
        snapshot: Option<usize>,
        timeout: Option<Duration>,
        deadline: &mut Option<Instant>,
    ) -> io::Result<()> {
        if deadline.is_none() {
            *deadline = timeout.map(|t| Instant::now().checked_add(t).unwrap_or_else(far));
        }
        self.wait(dir, snapshot, *deadline)
    }

    #[inline]
    fn registration(&self) -> Option<&IoRegistration> {
        self.reg.get().and_then(|r| r.as_ref().ok())
    }

    #[cold]
    fn wait(
        &self,
        dir: Direction,
        snapshot: Option<usize>,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        if !context::in_coroutine() {
            // Outside a coroutine the thread itself blocks.
            let events = match dir {
                Direction::Read => libc::POLLIN,
                Direction::Write => libc::POLLOUT,
            };
            return sys::poll_fd(self.fd(), events, deadline);
        }
        match self.reg.get() {
            Some(Ok(r)) => wait_ready(r, dir, snapshot, deadline),
            Some(Err((kind, os))) => Err(rebuild(*kind, *os)),
            None => {
                let reg = self.reg.get_or_init(|| {
                    context::worker(|w| w.map(|w| w.shared.reactor.clone()))
                        .expect("a coroutine runs on a worker")
                        .register(self.fd())
                        .map_err(|e| (e.kind(), e.raw_os_error()))
                });
                match reg {
                    // Registered just now: epoll reports the current readiness as an event,
                    // so a change since the syscall is not lost even without a snapshot.
                    Ok(r) => wait_ready(r, dir, None, deadline),
                    Err((kind, os)) => Err(rebuild(*kind, *os)),
                }
            }
        }
    }

    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Sets the read timeout (`Some(0)` is rejected, like std).
    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        store_timeout(&self.read_timeout, t)
    }

    /// Sets the write timeout (`Some(0)` is rejected, like std).
    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        store_timeout(&self.write_timeout, t)
    }

    /// The read timeout.
    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        load_timeout(&self.read_timeout)
    }

    /// The write timeout.
    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        load_timeout(&self.write_timeout)
    }
}

/// After a `WouldBlock`: parks the current coroutine until `dir` may be ready again, or
/// `deadline` passes (`TimedOut`). `snapshot` is the word read before the syscall, if the
/// socket was registered then. May return early: the caller retries its syscall.
fn wait_ready(
    reg: &IoRegistration,
    dir: Direction,
    snapshot: Option<usize>,
    deadline: Option<Instant>,
) -> io::Result<()> {
    if let Some(snap) = snapshot {
        // `WouldBlock` proves the direction is neither ready nor closed: clear its flags
        // (the sticky one too, for datagram sockets whose errors are transient), but only
        // if nothing happened since the syscall began.
        if !reg.clear_all(dir, snap) {
            return Ok(()); // an event (or another operation) came in between: retry
        }
    }
    // One task reference, which becomes the waiter's waker (and then moves into the run
    // queue when the event wakes us): `task::current().unparker()` would take two and give
    // one back, each an atomic operation, on every wait.
    let me = task::current_unparker().expect("I/O waits park only inside a coroutine");
    let id = me.task_id().as_u64();
    if !reg.add_waiter(dir, id, || me.into_waker()) {
        return Ok(());
    }
    // Removes our entry if we leave by unwinding (cancellation, shutdown); a normal return
    // forgets it, so the common path does not ask whether the thread is panicking.
    struct Unwind<'a>(&'a IoRegistration, Direction, u64);
    impl Drop for Unwind<'_> {
        fn drop(&mut self) {
            self.0.remove_waiter(self.1, self.2);
        }
    }
    let guard = Unwind(reg, dir, id);
    let _note = context::note_wait(match dir {
        Direction::Read => WaitTarget::Read(reg.fd()),
        Direction::Write => WaitTarget::Write(reg.fd()),
    });
    let timed_out = match deadline {
        Some(d) => task::park_deadline(d),
        None => {
            task::park();
            false
        }
    };
    std::mem::forget(guard);
    if timed_out {
        reg.remove_waiter(dir, id);
        if !reg.is_ready(dir) {
            return Err(io::ErrorKind::TimedOut.into());
        }
    }
    Ok(())
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

fn rebuild(kind: io::ErrorKind, os: Option<i32>) -> io::Error {
    match os {
        Some(code) => io::Error::from_raw_os_error(code),
        None => kind.into(),
    }
}

#[inline]
fn load_timeout(t: &AtomicU64) -> Option<Duration> {
    match t.load(Ordering::Relaxed) {
        0 => None,
        n => Some(Duration::from_nanos(n)),
    }
}

fn store_timeout(slot: &AtomicU64, t: Option<Duration>) -> io::Result<()> {
    let n = match t {
        None => 0,
        Some(d) if d.is_zero() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ))
        }
        Some(d) => d.as_nanos().clamp(1, u64::MAX as u128) as u64,
    };
    slot.store(n, Ordering::Relaxed);
    Ok(())
}
