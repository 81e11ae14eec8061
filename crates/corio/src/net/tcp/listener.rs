//! [`TcpListener`] and its [`Incoming`] iterator.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use super::TcpStream;
use crate::net::accept::Throttle;
use crate::net::addr::{each_addr, ToSocketAddrs};
use crate::net::io::IoSource;
use crate::net::stream::fd_conversions;

/// A TCP server socket, shaped like [`std::net::TcpListener`].
///
/// `accept` parks only the calling coroutine. Accepted streams are non-blocking and
/// close-on-exec from the start (`accept4`). When the process runs out of descriptors
/// (`EMFILE`/`ENFILE`), `accept` does not fail or spin: it prints one line, backs off, and
/// accepts again once descriptors free up.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use corio::net::TcpListener;
///
/// corio::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:7000").unwrap();
///     for stream in listener.incoming() {
///         let mut s = stream.unwrap();
///         corio::spawn(move || {
///             let mut buf = [0; 4096];
///             while let Ok(n @ 1..) = s.read(&mut buf) {
///                 if s.write_all(&buf[..n]).is_err() {
///                     break;
///                 }
///             }
///         });
///     }
/// });
/// ```
pub struct TcpListener {
    io: IoSource<mio::net::TcpListener>,
    throttle: Throttle,
}

impl TcpListener {
    fn from_io(io: IoSource<mio::net::TcpListener>) -> Self {
        TcpListener {
            io,
            throttle: Throttle::default(),
        }
    }

    /// Binds to `addr` (the first resolved address that works), with `SO_REUSEADDR` and a
    /// backlog of 1024.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(&addr, |a| {
            mio::net::TcpListener::bind(a).map(|l| TcpListener::from_io(IoSource::new(l)))
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, addr) = self.throttle.accept(|| self.io.read(|l| l.accept()))?;
        Ok((TcpStream::from_mio(s), addr))
    }

    /// An endless iterator of [`accept`](Self::accept) results.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The bound address (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets the IP time-to-live of accepted sockets.
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

    /// A second handle to the same listening socket (a duplicated fd).
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let fd: OwnedFd = crate::net::stream::dup(self.io.get_ref())?;
        Ok(TcpListener::from_io(IoSource::new(
            mio::net::TcpListener::from(fd),
        )))
    }
}

fd_conversions!(TcpListener, mio::net::TcpListener, std::net::TcpListener);

/// The iterator returned by [`TcpListener::incoming`]; it never returns `None`.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}
