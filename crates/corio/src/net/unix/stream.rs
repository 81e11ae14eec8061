//! [`UnixStream`].

use std::io;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::net::io::IoSource;
use crate::net::stream::{fd_conversions, stream_io, timeouts};
use crate::reactor::Direction;

/// A Unix-domain stream socket, shaped like [`std::os::unix::net::UnixStream`]; it behaves
/// like [`TcpStream`](crate::net::TcpStream) (parking reads and writes, `Read`/`Write` on
/// `&UnixStream`, timeouts, `MSG_NOSIGNAL` writes).
///
/// ```
/// use std::io::{Read, Write};
/// use corio::net::UnixStream;
/// corio::run(|| {
///     let (mut a, mut b) = UnixStream::pair().unwrap();
///     corio::spawn(move || b.write_all(b"hi").unwrap());
///     let mut s = String::new();
///     a.read_to_string(&mut s).unwrap();
///     assert_eq!(s, "hi");
/// });
/// ```
pub struct UnixStream {
    io: IoSource<mio::net::UnixStream>,
}

impl UnixStream {
    fn from_io(io: IoSource<mio::net::UnixStream>) -> Self {
        UnixStream { io }
    }

    pub(crate) fn from_mio(s: mio::net::UnixStream) -> Self {
        UnixStream::from_io(IoSource::new(s))
    }

    /// Connects to the socket at `path`. If the listener's backlog is full, it waits
    /// (retrying with a short back-off, since a non-blocking Unix connect cannot wait for
    /// room by itself) like std's blocking connect.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let mut backoff = std::time::Duration::from_millis(1);
        let sock = loop {
            match mio::net::UnixStream::connect(path) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    crate::time::sleep(backoff);
                    backoff = (backoff * 2).min(std::time::Duration::from_millis(50));
                }
                r => break r?,
            }
        };
        let io = IoSource::new(sock);
        // A Unix connect completes at once or reports EINPROGRESS-like waiting as writable.
        io.io(Direction::Write, None, |s| {
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
        Ok(UnixStream::from_io(io))
    }

    /// A connected pair of sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a), UnixStream::from_mio(b)))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shuts down the read side, the write side (a half-close), or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// A second handle to the same connection (a duplicated fd with its own registration).
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let fd: OwnedFd = crate::net::stream::dup(self.io.get_ref())?;
        Ok(UnixStream::from_mio(mio::net::UnixStream::from(fd)))
    }
}

timeouts!(UnixStream);
stream_io!(UnixStream);
fd_conversions!(
    UnixStream,
    mio::net::UnixStream,
    std::os::unix::net::UnixStream
);
