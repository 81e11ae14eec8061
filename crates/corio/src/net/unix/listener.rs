//! [`UnixListener`] and its [`Incoming`] iterator.

use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use super::UnixStream;
use crate::net::accept::Throttle;
use crate::net::io::IoSource;
use crate::net::stream::fd_conversions;

/// A Unix-domain server socket, shaped like [`std::os::unix::net::UnixListener`]; `accept`
/// parks only the calling coroutine and rides out descriptor exhaustion like
/// [`TcpListener::accept`](crate::net::TcpListener::accept).
///
/// ```
/// use std::io::{Read, Write};
/// use corio::net::{UnixListener, UnixStream};
/// corio::run(|| {
///     let path = std::env::temp_dir().join(format!("corio-doc-{}.sock", std::process::id()));
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path).unwrap();
///     let p = path.clone();
///     corio::spawn(move || UnixStream::connect(p).unwrap().write_all(b"yo").unwrap());
///     let (mut s, _) = listener.accept().unwrap();
///     let mut got = String::new();
///     s.read_to_string(&mut got).unwrap();
///     assert_eq!(got, "yo");
///     std::fs::remove_file(&path).unwrap();
/// });
/// ```
pub struct UnixListener {
    io: IoSource<mio::net::UnixListener>,
    throttle: Throttle,
}

impl UnixListener {
    fn from_io(io: IoSource<mio::net::UnixListener>) -> Self {
        UnixListener {
            io,
            throttle: Throttle::default(),
        }
    }

    /// Binds to `path` (which must not exist yet).
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        Ok(UnixListener::from_io(IoSource::new(
            mio::net::UnixListener::bind(path)?,
        )))
    }

    /// Waits for a connection and returns it with the peer's address.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, addr) = self.throttle.accept(|| self.io.read(|l| l.accept()))?;
        Ok((UnixStream::from_mio(s), addr))
    }

    /// An endless iterator of [`accept`](Self::accept) results.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

fd_conversions!(
    UnixListener,
    mio::net::UnixListener,
    std::os::unix::net::UnixListener
);

/// The iterator returned by [`UnixListener::incoming`]; it never returns `None`.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}
