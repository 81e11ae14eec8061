//! The few syscalls the sockets make themselves (the rest go through `mio`/`std`).

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, RawFd};
use std::time::Instant;

/// Turns a `-1` return into the thread's `errno` as an `io::Error`.
macro_rules! syscall {
    ($e:expr) => {{
        let r = $e;
        if r == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }};
}

/// `send(2)` with `MSG_NOSIGNAL`: writing to a closed peer gives `EPIPE`, never `SIGPIPE`.
///
/// `send` and [`recv`] are raw system calls (rustix), not glibc's wrappers: those are POSIX
/// cancellation points, and in a multi-threaded process (a runtime always is) glibc brackets
/// each call with `pthread_enable`/`disable_asynccancel`; perf put the wrappers at 2.2% of
/// the HTTP example's CPU against 0.9% for the single-threaded floor server.
#[inline]
pub(crate) fn send(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(
        fd,
        buf,
        rustix::net::SendFlags::NOSIGNAL,
    )?)
}

/// `recv(2)` into `buf` (see [`send`] for why not glibc's).
#[inline]
pub(crate) fn recv(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    let (n, _) = rustix::net::recv(fd, buf, rustix::net::RecvFlags::empty())?;
    Ok(n)
}

/// `sendmsg(2)` of `bufs` with `MSG_NOSIGNAL` (a `writev` that cannot raise `SIGPIPE`).
pub(crate) fn send_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: a zeroed msghdr is valid (no name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is ABI-compatible with iovec (documented by std on Unix).
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(libc::UIO_MAXIOV as usize) as _;
    // SAFETY: `msg` points to `bufs`, live for the call; `sendmsg` only reads them.
    let n = syscall!(unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) })?;
    Ok(n as usize)
}

/// Blocks the *thread* until `fd` has `events` (`POLLIN`/`POLLOUT`) or `deadline` passes
/// (`TimedOut`): how sockets wait outside a coroutine.
pub(crate) fn poll_fd(
    fd: RawFd,
    events: libc::c_short,
    deadline: Option<Instant>,
) -> io::Result<()> {
    loop {
        let timeout_ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                // Round up so a sub-millisecond rest does not spin.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd on this stack frame.
        match syscall!(unsafe { libc::poll(&mut pfd, 1, timeout_ms) }) {
            Ok(0) => continue, // timed out: the loop head reports it once the deadline passed
            Ok(_) => return Ok(()), // ready, hung up or in error: the syscall will tell
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
