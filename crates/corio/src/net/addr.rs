//! [`ToSocketAddrs`]: std's conversion to socket addresses, with name resolution moved off
//! the worker thread.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::{option, vec};

/// Values that can be turned into socket addresses, like [`std::net::ToSocketAddrs`] (and
/// implemented for the same types).
///
/// Literal addresses (`"127.0.0.1:80"`, `(ip, port)`, a `SocketAddr`) convert at once. A host
/// name (`"localhost:80"`) needs `getaddrinfo`, which blocks: inside a coroutine the lookup
/// runs on the blocking pool ([`spawn_blocking`](crate::spawn_blocking)) while only the
/// coroutine waits; outside one it blocks the calling thread.
///
/// ```
/// use corio::net::ToSocketAddrs;
/// corio::run(|| {
///     let addrs: Vec<_> = "localhost:80".to_socket_addrs().unwrap().collect();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// });
/// ```
pub trait ToSocketAddrs {
    /// The iterator of resolved addresses.
    type Iter: Iterator<Item = SocketAddr>;

    /// Resolves `self` (see the trait docs for where a lookup runs).
    fn to_socket_addrs(&self) -> io::Result<Self::Iter>;
}

macro_rules! literal {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {
            type Iter = option::IntoIter<SocketAddr>;
            fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
                Ok(Some(SocketAddr::from(*self)).into_iter())
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

/// Resolves `host:port` text: parsed at once if it is a literal, else looked up off-worker.
fn resolve_str(s: &str) -> io::Result<vec::IntoIter<SocketAddr>> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(vec![addr].into_iter());
    }
    let owned = s.to_owned();
    lookup(move || std::net::ToSocketAddrs::to_socket_addrs(owned.as_str()))
}

fn resolve_host(host: &str, port: u16) -> io::Result<vec::IntoIter<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)].into_iter());
    }
    let owned = host.to_owned();
    lookup(move || std::net::ToSocketAddrs::to_socket_addrs(&(owned.as_str(), port)))
}

/// Runs a blocking lookup on the blocking pool when called from a coroutine.
fn lookup<I>(
    f: impl FnOnce() -> io::Result<I> + Send + 'static,
) -> io::Result<vec::IntoIter<SocketAddr>>
where
    I: Iterator<Item = SocketAddr>,
{
    let run = move || f().map(|it| it.collect::<Vec<_>>());
    let addrs = if crate::task::try_current().is_some() {
        match crate::spawn_blocking(run).join() {
            Ok(r) => r?,
            Err(e) => std::panic::resume_unwind(e.into_payload()),
        }
    } else {
        run()?
    };
    Ok(addrs.into_iter())
}

impl ToSocketAddrs for str {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        resolve_str(self)
    }
}

impl ToSocketAddrs for String {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        resolve_str(self)
    }
}

impl ToSocketAddrs for (&str, u16) {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        resolve_host(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        resolve_host(&self.0, self.1)
    }
}

impl<'a> ToSocketAddrs for &'a [SocketAddr] {
    type Iter = std::iter::Copied<std::slice::Iter<'a, SocketAddr>>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        Ok(self.iter().copied())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    type Iter = T::Iter;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        (**self).to_socket_addrs()
    }
}

/// Calls `f` with each address in turn until one succeeds; returns the last error.
pub(crate) fn each_addr<A: ToSocketAddrs + ?Sized, T>(
    addr: &A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}
