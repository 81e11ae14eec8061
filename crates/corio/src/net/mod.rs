//! Networking shaped like [`std::net`]: [`TcpListener`], [`TcpStream`], [`UdpSocket`],
//! [`UnixListener`], [`UnixStream`].
//!
//! Public API above the kernel (`rt`) and the `reactor` driver: `io.rs` is the one place a
//! socket operation parks its coroutine. Each call blocks only the calling coroutine. Existing blocking code written against
//! `std::io::Read`/`Write` (parsers, TLS, websocket crates) works on these sockets unchanged.
//!
//! # How an operation runs
//!
//! Sockets are non-blocking underneath. An operation tries its syscall first, so data that is
//! already there costs one syscall and no reactor work. Only on `WouldBlock` is the socket
//! registered with the runtime's epoll reactor (once, edge-triggered, both directions) and
//! the coroutine parked until the socket is ready again — or until its read/write timeout,
//! which the runtime's timers implement (`TimedOut`). Idle workers poll the reactor
//! themselves; there is no I/O thread.
//!
//! # Outside a coroutine
//!
//! Every call also works on a plain thread (or before [`run`](crate::run)): it then blocks the
//! thread in `poll(2)`, honouring the timeouts.
//!
//! # Signals and errors
//!
//! Stream writes use `send`/`sendmsg` with `MSG_NOSIGNAL`, so writing to a closed peer yields
//! `BrokenPipe` and never raises `SIGPIPE`, whatever the process's `SIGPIPE` disposition
//! (Rust programs ignore it anyway, but a host program embedding corio may not). A reset
//! connection yields `ConnectionReset`. Timeouts yield `TimedOut` (std on Unix uses
//! `WouldBlock`, which blocking-style libraries could mistake for non-blocking mode).
//!
//! # Limits
//!
//! - A socket is registered with the runtime of the coroutine that first had to wait on it,
//!   and stays there: using it from another runtime works only while that first one runs.
//! - A coroutine that computes without ever suspending holds up its worker's I/O like
//!   everything else on that worker (busy workers still poll the reactor every few dozen
//!   scheduling ticks, and only one worker at a time waits in `epoll_wait`).
//!
//! # Name resolution
//!
//! Addresses are taken as [`ToSocketAddrs`] (std's set of types). A host name is looked up
//! on the blocking pool, parking only the coroutine.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use corio::net::{TcpListener, TcpStream};
//!
//! corio::run(|| {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     corio::spawn(move || {
//!         let (s, _) = listener.accept().unwrap();
//!         let mut lines = BufReader::new(&s);
//!         let mut line = String::new();
//!         lines.read_line(&mut line).unwrap();
//!         (&s).write_all(line.to_uppercase().as_bytes()).unwrap();
//!     });
//!     let mut c = TcpStream::connect(addr).unwrap();
//!     c.write_all(b"ping\n").unwrap();
//!     let mut reply = String::new();
//!     BufReader::new(c).read_line(&mut reply).unwrap();
//!     assert_eq!(reply, "PING\n");
//! });
//! ```

mod accept;
mod addr;
pub(crate) mod io;
pub(crate) mod stream;
pub(crate) mod sys;
mod tcp;
mod udp;
mod unix;

pub use addr::ToSocketAddrs;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{Incoming as UnixIncoming, UnixDatagram, UnixListener, UnixStream};
