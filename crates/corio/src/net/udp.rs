//! [`UdpSocket`].

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use crate::net::addr::{each_addr, ToSocketAddrs};
use crate::net::io::IoSource;
use crate::net::stream::{fd_conversions, timeouts};

/// A UDP socket, shaped like [`std::net::UdpSocket`]; sends and receives park only the
/// calling coroutine (and block the thread outside one).
///
/// ```
/// use corio::net::UdpSocket;
/// corio::run(|| {
///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b_addr = b.local_addr().unwrap();
///     corio::spawn(move || {
///         let mut buf = [0; 16];
///         let (n, from) = b.recv_from(&mut buf).unwrap();
///         b.send_to(&buf[..n], from).unwrap(); // echo
///     });
///     a.send_to(b"ping", b_addr).unwrap();
///     let mut buf = [0; 16];
///     let n = a.recv(&mut buf).unwrap();
///     assert_eq!(&buf[..n], b"ping");
/// });
/// ```
pub struct UdpSocket {
    io: IoSource<mio::net::UdpSocket>,
}

impl UdpSocket {
    fn from_io(io: IoSource<mio::net::UdpSocket>) -> Self {
        UdpSocket { io }
    }

    /// Binds to `addr` (the first resolved address that works).
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(&addr, |a| {
            mio::net::UdpSocket::bind(a).map(|s| UdpSocket::from_io(IoSource::new(s)))
        })
    }

    /// Receives one datagram and its sender's address.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read(|s| s.recv_from(buf))
    }

    /// Like [`recv_from`](Self::recv_from), leaving the datagram queued.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read(|s| s.peek_from(buf))
    }

    /// Sends one datagram to the first address `target` resolves to.
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let addr = target.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.io.write(|s| s.send_to(buf, addr))
    }

    /// Sets the default peer (the first resolved address that works) for `send`/`recv`, and
    /// filters received datagrams to it.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(&addr, |a| self.io.get_ref().connect(a))
    }

    /// Sends to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write(|s| s.send(buf))
    }

    /// Receives from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read(|s| s.recv(buf))
    }

    /// Like [`recv`](Self::recv), leaving the datagram queued.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read(|s| s.peek(buf))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
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

    /// A second handle to the same socket (a duplicated fd with its own registration).
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let fd: OwnedFd = crate::net::stream::dup(self.io.get_ref())?;
        Ok(UdpSocket::from_io(IoSource::new(
            mio::net::UdpSocket::from(fd),
        )))
    }
}

timeouts!(UdpSocket);
fd_conversions!(UdpSocket, mio::net::UdpSocket, std::net::UdpSocket);
