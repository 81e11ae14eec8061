//! [`UnixDatagram`].

use std::io;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::net::io::IoSource;
use crate::net::stream::{fd_conversions, timeouts};

/// A Unix-domain datagram socket, shaped like [`std::os::unix::net::UnixDatagram`]; sends and
/// receives park only the calling coroutine (and block the thread outside one).
///
/// ```
/// use corio::net::UnixDatagram;
/// corio::run(|| {
///     let (a, b) = UnixDatagram::pair().unwrap();
///     corio::spawn(move || {
///         let mut buf = [0; 16];
///         let n = b.recv(&mut buf).unwrap();
///         b.send(&buf[..n]).unwrap(); // echo
///     });
///     a.send(b"ping").unwrap();
///     let mut buf = [0; 16];
///     let n = a.recv(&mut buf).unwrap();
///     assert_eq!(&buf[..n], b"ping");
/// });
/// ```
pub struct UnixDatagram {
    io: IoSource<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    fn from_io(io: IoSource<mio::net::UnixDatagram>) -> Self {
        UnixDatagram { io }
    }

    fn from_mio(s: mio::net::UnixDatagram) -> Self {
        UnixDatagram::from_io(IoSource::new(s))
    }

    /// A socket bound to `path` (which must not exist yet).
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        mio::net::UnixDatagram::bind(path).map(UnixDatagram::from_mio)
    }

    /// A socket bound to no address (it can still send, and `connect`).
    pub fn unbound() -> io::Result<UnixDatagram> {
        mio::net::UnixDatagram::unbound().map(UnixDatagram::from_mio)
    }

    /// A connected pair of unnamed sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_mio(a), UnixDatagram::from_mio(b)))
    }

    /// Sets the default peer for `send`/`recv`, and filters received datagrams to it.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.io.get_ref().connect(path)
    }

    /// Sends one datagram to the socket at `path`.
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.io.write(|s| s.send_to(buf, path))
    }

    /// Receives one datagram and its sender's address.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read(|s| s.recv_from(buf))
    }

    /// Sends to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write(|s| s.send(buf))
    }

    /// Receives from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read(|s| s.recv(buf))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shuts down the read side, the write side, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// A second handle to the same socket (a duplicated fd with its own registration).
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        let fd: OwnedFd = crate::net::stream::dup(self.io.get_ref())?;
        Ok(UnixDatagram::from_mio(mio::net::UnixDatagram::from(fd)))
    }
}

timeouts!(UnixDatagram);
fd_conversions!(
    UnixDatagram,
    mio::net::UnixDatagram,
    std::os::unix::net::UnixDatagram
);
