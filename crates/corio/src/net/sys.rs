//! The few syscalls the sockets make themselves (the rest go through `mio`/`std`).

use std::io::{self, IoSlice};
use std::os::fd::RawFd;
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
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    let (ptr, len) = (buf.as_ptr().cast(), buf.len());
    // SAFETY: `ptr` points to the live slice `buf` of `len` bytes; `send` only reads it.
    let n = syscall!(unsafe { libc::send(fd, ptr, len, libc::MSG_NOSIGNAL) })?;
    Ok(n as usize)
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
