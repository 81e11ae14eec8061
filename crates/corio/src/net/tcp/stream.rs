//! [`TcpStream`].

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::Duration;

use crate::net::addr::{each_addr, ToSocketAddrs};
use crate::net::io::IoSource;
use crate::net::stream::{fd_conversions, stream_io, timeouts};
use crate::reactor::Direction;

/// A TCP connection, shaped like [`std::net::TcpStream`]: blocking-style calls that park only
/// the calling coroutine.
///
/// Reads and writes try the syscall first and wait (in the reactor) only on `WouldBlock`, so
/// ready data costs one syscall. `Read` and `Write` are also implemented for `&TcpStream`, and
/// [`try_clone`](Self::try_clone) gives a second handle, so one coroutine can read while
/// another writes. Writes never raise `SIGPIPE`: a closed peer gives `BrokenPipe`.
///
/// Outside a coroutine (a plain thread) every call still works, blocking the thread.
///
/// ```
/// use std::io::{Read, Write};
/// use corio::net::{TcpListener, TcpStream};
///
/// corio::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let server = corio::spawn(move || {
///         let (mut s, _) = listener.accept().unwrap();
///         let mut buf = [0; 5];
///         s.read_exact(&mut buf).unwrap();
///         s.write_all(&buf).unwrap(); // echo
///     });
///     let mut c = TcpStream::connect(addr).unwrap();
///     c.write_all(b"hello").unwrap();
///     let mut back = String::new();
///     c.read_to_string(&mut back).unwrap();
///     assert_eq!(back, "hello");
///     server.join().unwrap();
/// });
/// ```
pub struct TcpStream {
    io: IoSource<mio::net::TcpStream>,
}

impl TcpStream {
    fn from_io(io: IoSource<mio::net::TcpStream>) -> Self {
        TcpStream { io }
    }

    pub(crate) fn from_mio(s: mio::net::TcpStream) -> Self {
        TcpStream::from_io(IoSource::new(s))
    }

    /// Connects to `addr`, trying each resolved address in turn (see [`ToSocketAddrs`] for
    /// where a name lookup runs).
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(&addr, |a| TcpStream::connect_addr(a, None))
    }

    /// Connects to `addr`, failing with `TimedOut` after `timeout`.
    ///
    /// # Errors
    /// `InvalidInput` for a zero timeout, like std.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_addr(*addr, Some(timeout))
    }

    fn connect_addr(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        // A non-blocking connect: it returns at once with the handshake in progress.
        let io = IoSource::new(mio::net::TcpStream::connect(addr)?);
        io.io(Direction::Write, timeout, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        })?;
        Ok(TcpStream::from_io(io))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Shuts down the read side, the write side (the peer reads EOF: a half-close), or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets the IP time-to-live.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Reads without consuming, waiting like `read`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read(|s| s.peek(buf))
    }

    /// A second handle to the same connection (a duplicated fd with its own registration),
    /// e.g. for a writer coroutine next to a reader. Timeouts are not copied.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let fd: OwnedFd = crate::net::stream::dup(self.io.get_ref())?;
        Ok(TcpStream::from_mio(mio::net::TcpStream::from(fd)))
    }
}

timeouts!(TcpStream);
stream_io!(TcpStream);
fd_conversions!(TcpStream, mio::net::TcpStream, std::net::TcpStream);
