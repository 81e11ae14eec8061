//! The floor: a hand-written, single-threaded `mio` event loop serving the network rows'
//! protocols, so server CPU per round trip can be read against what the kernel and a minimal
//! user-space loop cost together (no runtime, no tasks, no wakers).
//!
//! One thread, one `Poll`, one loop: accept until `WouldBlock`; on a readable connection,
//! read and answer in place (echo: the bytes read; HTTP: one response per complete request,
//! pipelined requests answered with one `write`). A read shorter than the buffer means the
//! socket is drained (epoll reports new data as a new edge), so it costs no extra `read`
//! that would only return `WouldBlock`; tokio's `PollEvented` makes the same inference. A
//! write that does not complete keeps its rest and waits for writability; it never happens
//! at these sizes, but the loop must stay correct if it does.
//!
//! Run as `corio-bench serve floor-echo ADDR` / `serve floor-http ADDR` (see
//! [`crate::infra::hidden`]), pinned to the server core like every other server.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use crate::measure::net::{complete_requests, HTTP_RESPONSE};

/// The listener's token; connection `i` of the slab has token `i + 1`.
const LISTENER: Token = Token(0);
/// Bytes read per `read` call (corio's examples read 4 KiB too).
const READ_BUF: usize = 4096;

/// The echo server (`serve floor-echo ADDR`): writes back whatever it reads.
pub fn echo_server(addr: &str) -> io::Result<()> {
    serve(addr, |input, out| {
        out.extend_from_slice(input);
        input.len()
    })
}

/// The HTTP server (`serve floor-http ADDR`): answers each complete request (pipelined ones
/// too) with [`HTTP_RESPONSE`], keeping the connection alive.
pub fn http_server(addr: &str) -> io::Result<()> {
    serve(addr, |input, out| {
        let (requests, used) = complete_requests(input);
        for _ in 0..requests {
            out.extend_from_slice(HTTP_RESPONSE);
        }
        used
    })
}

/// What a protocol does with the bytes a connection has received: appends its answer to
/// `out` and returns how many input bytes it consumed (the rest waits for more).
type Respond = fn(&[u8], &mut Vec<u8>) -> usize;

/// One accepted connection.
struct Connection {
    stream: TcpStream,
    /// Received bytes not consumed yet (an incomplete request).
    unread: Vec<u8>,
    /// Answer bytes the socket did not take yet.
    unsent: Vec<u8>,
    /// Whether the poll watches for writability (only while `unsent` is not empty).
    watching_writes: bool,
}

/// The event loop: serves `respond` on `addr` until an I/O error on the listener or poll.
fn serve(addr: &str, respond: Respond) -> io::Result<()> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(256);
    let mut connections: Vec<Option<Connection>> = Vec::new();
    let mut buf = vec![0u8; READ_BUF];
    let mut out = Vec::with_capacity(READ_BUF);
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            if event.token() == LISTENER {
                accept(&poll, &listener, &mut connections)?;
                continue;
            }
            let index = event.token().0 - 1;
            let Some(Some(conn)) = connections.get_mut(index) else {
                continue; // closed earlier in this batch
            };
            let open = if event.is_readable() || event.is_read_closed() {
                on_readable(conn, respond, &mut buf, &mut out)
            } else {
                Ok(true)
            };
            let open = open.and_then(|open| {
                if open && event.is_writable() {
                    flush(conn)?;
                }
                Ok(open)
            });
            match open {
                Ok(true) => watch_writes(&poll, event.token(), conn)?,
                // Dropping the stream closes it and removes it from the poll.
                Ok(false) | Err(_) => connections[index] = None,
            }
        }
    }
}

/// Accepts every pending connection, registered for reading (TCP_NODELAY on, as in every
/// other server of the bench).
fn accept(
    poll: &Poll,
    listener: &TcpListener,
    connections: &mut Vec<Option<Connection>>,
) -> io::Result<()> {
    loop {
        let (mut stream, _) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => continue, // e.g. the peer reset before we accepted: not fatal
        };
        stream.set_nodelay(true)?;
        let index = match connections.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                connections.push(None);
                connections.len() - 1
            }
        };
        poll.registry()
            .register(&mut stream, Token(index + 1), Interest::READABLE)?;
        connections[index] = Some(Connection {
            stream,
            unread: Vec::new(),
            unsent: Vec::new(),
            watching_writes: false,
        });
    }
}

/// Reads until the socket is drained, answering as it goes; `Ok(false)` once the peer has
/// closed.
fn on_readable(
    conn: &mut Connection,
    respond: Respond,
    buf: &mut [u8],
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    loop {
        let n = match conn.stream.read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.clear();
        if conn.unread.is_empty() {
            let used = respond(&buf[..n], out);
            conn.unread.extend_from_slice(&buf[used..n]);
        } else {
            conn.unread.extend_from_slice(&buf[..n]);
            let used = respond(&conn.unread, out);
            conn.unread.drain(..used);
        }
        send(conn, out)?;
        if n < buf.len() {
            return Ok(true); // a short read: the socket is drained
        }
    }
}

/// Writes `out` now if nothing is queued before it, else queues it; what the socket does
/// not take is queued.
fn send(conn: &mut Connection, out: &[u8]) -> io::Result<()> {
    if !conn.unsent.is_empty() {
        conn.unsent.extend_from_slice(out);
        return flush(conn);
    }
    let mut written = 0;
    while written < out.len() {
        match conn.stream.write(&out[written..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    conn.unsent.extend_from_slice(&out[written..]);
    Ok(())
}

/// Writes as much of the queued answer as the socket takes.
fn flush(conn: &mut Connection) -> io::Result<()> {
    while !conn.unsent.is_empty() {
        match conn.stream.write(&conn.unsent) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => {
                conn.unsent.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Watches for writability only while an answer is queued (never at the bench's sizes), so
/// the common path makes no `epoll_ctl` call.
fn watch_writes(poll: &Poll, token: Token, conn: &mut Connection) -> io::Result<()> {
    let wanted = !conn.unsent.is_empty();
    if wanted == conn.watching_writes {
        return Ok(());
    }
    let interest = if wanted {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    };
    poll.registry()
        .reregister(&mut conn.stream, token, interest)?;
    conn.watching_writes = wanted;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::*;

    /// Starts `server` on a free loopback port in a thread (it runs until the test process
    /// exits) and connects to it.
    fn connect(server: fn(&str) -> io::Result<()>) -> TcpStream {
        let port = crate::infra::os::free_port().unwrap();
        let addr = format!("127.0.0.1:{port}");
        let server_addr = addr.clone();
        thread::spawn(move || server(&server_addr));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match std::net::TcpStream::connect(&addr) {
                Ok(conn) => {
                    conn.set_read_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    conn.set_write_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    return conn;
                }
                Err(e) if Instant::now() > deadline => panic!("server never listened: {e}"),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    #[test]
    fn echo_sends_every_message_back() {
        let mut conn = connect(echo_server);
        for i in 0..100u8 {
            let msg = [i; crate::measure::net::MESSAGE];
            conn.write_all(&msg).unwrap();
            let mut back = [0u8; crate::measure::net::MESSAGE];
            conn.read_exact(&mut back).unwrap();
            assert_eq!(back, msg);
        }
    }

    #[test]
    fn http_answers_pipelined_and_split_requests_on_one_connection() {
        let mut conn = connect(http_server);
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        // Three pipelined requests, the third split across two writes.
        let mut batch = request.repeat(2);
        batch.extend_from_slice(&request[..10]);
        conn.write_all(&batch).unwrap();
        let mut answers = vec![0u8; 2 * HTTP_RESPONSE.len()];
        conn.read_exact(&mut answers).unwrap();
        assert_eq!(answers, HTTP_RESPONSE.repeat(2));
        conn.write_all(&request[10..]).unwrap();
        let mut third = vec![0u8; HTTP_RESPONSE.len()];
        conn.read_exact(&mut third).unwrap();
        assert_eq!(third, HTTP_RESPONSE);
    }

    #[test]
    fn answers_the_socket_cannot_take_are_queued_not_lost() {
        let mut conn = connect(echo_server);
        // Send more than the loopback socket buffers hold before reading anything: the
        // server's writes fill them, it must queue the rest and send it once we read.
        let sent: Vec<u8> = (0..32u32 << 20).map(|i| (i % 251) as u8).collect();
        conn.write_all(&sent).unwrap();
        let mut back = vec![0u8; sent.len()];
        conn.read_exact(&mut back).unwrap();
        assert!(back == sent, "echoed bytes differ");
    }
}
