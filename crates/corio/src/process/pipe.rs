//! The child's standard streams as corio streams: non-blocking pipes on the reactor.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::Stdio;

use mio::unix::pipe::{Receiver, Sender};

use crate::net::io::IoSource;

macro_rules! pipe_common {
    ($t:ident, $mio:ty, $std:ty) => {
        impl $t {
            /// Wraps std's end of the pipe, switching it to non-blocking mode (only this
            /// process's end: the child's end is a separate open file).
            pub(crate) fn from_std(std: $std) -> io::Result<$t> {
                let pipe = <$mio>::from(std);
                pipe.set_nonblocking(true)?;
                Ok($t {
                    io: IoSource::new(pipe),
                })
            }
        }

        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }

        impl From<$t> for Stdio {
            /// Hands the pipe to another child (e.g. `a | b`), back in blocking mode.
            fn from(pipe: $t) -> Stdio {
                let pipe = pipe.io.into_inner(); // deregisters first
                let _ = pipe.set_nonblocking(false);
                Stdio::from(OwnedFd::from(pipe))
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

macro_rules! pipe_reader {
    ($t:ident, $std:ty, $doc:literal) => {
        #[doc = $doc]
        ///
        /// `Read` parks only the calling coroutine until the child writes or closes its end.
        pub struct $t {
            io: IoSource<Receiver>,
        }

        pipe_common!($t, Receiver, $std);

        impl Read for &$t {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.io
                    .read_stream(buf.len(), |mut r| Read::read(&mut r, buf))
            }
        }

        impl Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                (&*self).read(buf)
            }
        }
    };
}

pipe_reader!(
    ChildStdout,
    std::process::ChildStdout,
    "The read end of a child's standard output (when it was `Stdio::piped()`)."
);
pipe_reader!(
    ChildStderr,
    std::process::ChildStderr,
    "The read end of a child's standard error (when it was `Stdio::piped()`)."
);

/// The write end of a child's standard input (when it was `Stdio::piped()`).
///
/// `Write` parks only the calling coroutine while the pipe is full. Drop it to close the
/// child's input. Writing after the child closed its end fails with `BrokenPipe` (Rust
/// programs ignore `SIGPIPE`; a program that restored its default action would be killed).
pub struct ChildStdin {
    io: IoSource<Sender>,
}

pipe_common!(ChildStdin, Sender, std::process::ChildStdin);

impl Write for &ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .write_stream(buf.len(), |mut w| Write::write(&mut w, buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
