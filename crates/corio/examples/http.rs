//! A minimal HTTP/1.1 server: keep-alive, pipelining, `GET /` answers `Hello, World!`.
//!
//! ```text
//! cargo run --release -p corio --example http -- [ADDR] [WORKERS]
//! wrk -t1 -c50 -d5s http://127.0.0.1:8080/
//! ```
//! `ADDR` defaults to `127.0.0.1:8080` (or `$HTTP_ADDR`); `WORKERS` to `$CORIO_WORKERS` or the
//! number of cores.
//!
//! Each connection is one coroutine with one read buffer and one write buffer, reused for
//! its lifetime: every request that is complete in the read buffer is answered into the write
//! buffer, and all answers go out in one `write` (so pipelined requests cost one syscall).

use std::io::{self, Read, Write};

use corio::net::{TcpListener, TcpStream};

const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nServer: corio\r\nContent-Type: text/plain\r\n\
Content-Length: 13\r\n\r\nHello, World!";
const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nServer: corio\r\nContent-Length: 0\r\n\r\n";
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
/// Requests with a head larger than this are refused.
const MAX_HEAD: usize = 64 * 1024;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .or_else(|| std::env::var("HTTP_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let mut builder = corio::Builder::new();
    if let Some(n) = args.next().and_then(|n| n.parse().ok()) {
        builder = builder.workers(n);
    }
    let rt = builder.build().expect("cannot start the runtime");
    rt.block_on(move || {
        let listener = TcpListener::bind(&addr).expect("cannot bind");
        eprintln!("http: listening on {}", listener.local_addr().unwrap());
        for stream in listener.incoming() {
            match stream {
                Ok(s) => {
                    corio::spawn(move || {
                        let _ = serve(s);
                    });
                }
                Err(e) => eprintln!("http: accept: {e}"),
            }
        }
    });
}

/// What one parsed request asks for.
struct Request {
    /// Bytes of head and body.
    len: usize,
    found: bool,
    close: bool,
}

fn serve(mut s: TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    let mut rbuf = vec![0u8; 4096];
    let mut filled = 0;
    let mut wbuf = Vec::with_capacity(4096);
    loop {
        if filled == rbuf.len() {
            if rbuf.len() >= MAX_HEAD {
                s.write_all(BAD_REQUEST)?;
                return Ok(());
            }
            rbuf.resize(rbuf.len() * 2, 0);
        }
        let n = s.read(&mut rbuf[filled..])?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let mut start = 0;
        let mut close = false;
        while let Some(req) = parse(&rbuf[start..filled]) {
            match req {
                Ok(req) => {
                    wbuf.extend_from_slice(if req.found { HELLO } else { NOT_FOUND });
                    start += req.len;
                    if req.close {
                        close = true;
                        break;
                    }
                }
                Err(()) => {
                    wbuf.extend_from_slice(BAD_REQUEST);
                    close = true;
                    break;
                }
            }
        }
        if !wbuf.is_empty() {
            s.write_all(&wbuf)?;
            wbuf.clear();
        }
        if close {
            return Ok(());
        }
        rbuf.copy_within(start..filled, 0);
        filled -= start;
    }
}

/// Parses one request at the start of `buf`: `None` if it is not complete yet.
fn parse(buf: &[u8]) -> Option<Result<Request, ()>> {
    let mut lines = Lines { buf, at: 0 };
    let request_line = lines.next()?;
    let mut parts = request_line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Some(Err(()));
    };
    let mut close = version != b"HTTP/1.1";
    let mut body = 0usize;
    loop {
        let line = lines.next()?; // no blank line yet: the head is incomplete
        if line.is_empty() {
            break;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"content-length") {
            match std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                Some(n) => body = n,
                None => return Some(Err(())),
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            if value.eq_ignore_ascii_case(b"close") {
                close = true;
            } else if value.eq_ignore_ascii_case(b"keep-alive") {
                close = false;
            }
        }
    }
    let len = lines.at + body;
    if buf.len() < len {
        return None; // the body is still on its way
    }
    let found = path == b"/" && (method == b"GET" || method == b"HEAD" || method == b"POST");
    Some(Ok(Request { len, found, close }))
}

/// The complete lines at the start of a buffer, without their `\r\n` (or `\n`); `at` is
/// where the next one starts. Finding each line end with `memchr` is the whole scan: no pass
/// over the bytes looks for the blank line first.
struct Lines<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = &self.buf[self.at..];
        let end = memchr::memchr(b'\n', rest)?;
        self.at += end + 1;
        let line = &rest[..end];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> Request {
        parse(buf).expect("complete").expect("well-formed")
    }

    #[test]
    fn a_get_is_found_and_kept_alive() {
        let req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
        let r = complete(req);
        assert_eq!(r.len, req.len());
        assert!(r.found && !r.close);
    }

    #[test]
    fn pipelined_requests_are_taken_one_at_a_time() {
        let one = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let two = [&one[..], &one[..], b"GET /"].concat();
        let first = complete(&two);
        assert_eq!(first.len, one.len());
        assert_eq!(complete(&two[first.len..]).len, one.len());
        assert!(parse(&two[2 * one.len()..]).is_none());
    }

    #[test]
    fn an_incomplete_head_or_body_waits_for_more() {
        assert!(parse(b"").is_none());
        assert!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n").is_none());
        assert!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r").is_none());
        let head = b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
        assert!(parse(&[&head[..], b"abc"].concat()).is_none());
        assert_eq!(
            complete(&[&head[..], b"abcde"].concat()).len,
            head.len() + 5
        );
    }

    #[test]
    fn connection_headers_and_versions_decide_closing() {
        assert!(complete(b"GET / HTTP/1.1\r\nconnection: Close\r\n\r\n").close);
        assert!(complete(b"GET / HTTP/1.0\r\n\r\n").close);
        assert!(!complete(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").close);
    }

    #[test]
    fn bare_line_feeds_end_lines_too() {
        let req = b"GET / HTTP/1.1\nHost: x\n\n";
        assert_eq!(complete(req).len, req.len());
    }

    #[test]
    fn unknown_paths_and_bad_requests_are_told_apart() {
        assert!(!complete(b"GET /nope HTTP/1.1\r\n\r\n").found);
        assert!(!complete(b"DELETE / HTTP/1.1\r\n\r\n").found);
        assert!(matches!(parse(b"GARBAGE\r\n\r\n"), Some(Err(()))));
        let bad_length = b"POST / HTTP/1.1\r\nContent-Length: five\r\n\r\n";
        assert!(matches!(parse(bad_length), Some(Err(()))));
    }
}
