//! The parts `TcpStream` and `UnixStream` share: `Read`/`Write` (also on `&Stream`), fd
//! conversions and timeouts, written once as macros.

/// Implements `Read` and `Write` for `$t` and `&$t`, whose `io` field is an `IoSource`.
/// Writes go through `send`/`sendmsg` with `MSG_NOSIGNAL` (no `SIGPIPE`, ever).
macro_rules! stream_io {
    ($t:ty) => {
        impl std::io::Read for &$t {
            #[inline]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let want = buf.len();
                self.io
                    .read_stream(want, |s| $crate::net::sys::recv(s, buf))
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.io
                    .read(|mut s| std::io::Read::read_vectored(&mut s, bufs))
            }
        }

        impl std::io::Write for &$t {
            #[inline]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.io
                    .write_stream(buf.len(), |s| $crate::net::sys::send(s, buf))
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.io.write(|s| {
                    $crate::net::sys::send_vectored(std::os::fd::AsRawFd::as_raw_fd(s), bufs)
                })
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(()) // nothing is buffered here
            }
        }

        impl std::io::Read for $t {
            #[inline]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self).read(buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
        }

        impl std::io::Write for $t {
            #[inline]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self).write(buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                (&*self).write_vectored(bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

/// Implements `AsRawFd`, `AsFd`, `IntoRawFd` and `FromRawFd` for `$t`, which has an
/// `io: IoSource<$mio>` field and a `from_io` constructor; the conversions from and to the
/// std socket `$std` (non-blocking while corio owns it, blocking again when handed back);
/// and `Debug` as the socket's.
macro_rules! fd_conversions {
    ($t:ident, $mio:ty, $std:ty) => {
        impl From<$std> for $t {
            /// Wraps a std socket, switching it to non-blocking mode.
            fn from(s: $std) -> Self {
                $crate::net::stream::set_nonblocking(&s);
                $t::from_io($crate::net::io::IoSource::new(<$mio>::from_std(s)))
            }
        }

        impl From<$t> for $std {
            /// Deregisters the socket and returns it to blocking mode.
            fn from(s: $t) -> Self {
                use std::os::fd::{FromRawFd, IntoRawFd};
                // SAFETY: `into_raw_fd` hands over sole ownership of an open socket of
                // this kind.
                let std = unsafe { <$std>::from_raw_fd(s.into_raw_fd()) };
                // Only fails for a closed fd, which the next call on `std` reports anyway.
                let _ = std.set_nonblocking(false);
                std
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.io.get_ref().fmt(f)
            }
        }

        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }

        impl std::os::fd::IntoRawFd for $t {
            /// Deregisters the socket and hands over its fd (still in non-blocking mode).
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                self.io.into_inner().into_raw_fd()
            }
        }

        impl std::os::fd::FromRawFd for $t {
            /// Takes ownership of `fd` and puts it in non-blocking mode.
            ///
            /// # Safety
            /// `fd` must be an open socket of the right kind, owned by nobody else.
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> Self {
                // SAFETY: forwarded from the caller.
                let sock = unsafe { <$mio as std::os::fd::FromRawFd>::from_raw_fd(fd) };
                $crate::net::stream::set_nonblocking(&sock);
                $t::from_io($crate::net::io::IoSource::new(sock))
            }
        }
    };
}

/// Implements the timeout accessors for `$t` (with an `io: IoSource` field).
macro_rules! timeouts {
    ($t:ty) => {
        impl $t {
            /// Sets how long a read may wait (`None`: forever). A read that times out fails
            /// with [`ErrorKind::TimedOut`](std::io::ErrorKind::TimedOut). Built on the
            /// runtime's timers: only the coroutine waits. Unlike std the timeout belongs to
            /// this handle, not to clones from `try_clone`.
            ///
            /// # Errors
            /// `InvalidInput` for `Some(Duration::ZERO)`, like std.
            pub fn set_read_timeout(
                &self,
                dur: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.io.set_read_timeout(dur)
            }

            /// Sets how long a write may wait (`None`: forever); see
            /// [`set_read_timeout`](Self::set_read_timeout).
            pub fn set_write_timeout(
                &self,
                dur: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.io.set_write_timeout(dur)
            }

            /// The read timeout.
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.io.read_timeout())
            }

            /// The write timeout.
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.io.write_timeout())
            }
        }
    };
}

pub(crate) use {fd_conversions, stream_io, timeouts};

/// Puts a socket in non-blocking mode. It fails only for an fd that is not open, and then
/// every later operation reports that error anyway.
pub(crate) fn set_nonblocking(sock: &impl std::os::fd::AsRawFd) {
    let fd = sock.as_raw_fd();
    let mut on: libc::c_int = 1;
    // SAFETY: FIONBIO reads one c_int through the pointer, which points to `on`.
    unsafe { libc::ioctl(fd, libc::FIONBIO, &mut on) };
}

/// Duplicates a socket's fd (`F_DUPFD_CLOEXEC`), for `try_clone`.
pub(crate) fn dup(sock: &impl std::os::fd::AsFd) -> std::io::Result<std::os::fd::OwnedFd> {
    sock.as_fd().try_clone_to_owned()
}
