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
    let head_end = find_head_end(buf)?;
    let head = &buf[..head_end];
    let mut lines = head.split(|&b| b == b'\n').map(trim_cr);
    let request_line = lines.next()?;
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Some(Err(()));
    };
    let mut close = version != b"HTTP/1.1";
    let mut body = 0usize;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
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
    let len = head_end + body;
    if buf.len() < len {
        return None; // the body is still on its way
    }
    let found = path == b"/" && (method == b"GET" || method == b"HEAD" || method == b"POST");
    Some(Ok(Request { len, found, close }))
}

/// The length of the head including its blank line, if it is complete.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 3 < buf.len() {
        match buf[i + 3] {
            b'\n' if &buf[i..i + 4] == b"\r\n\r\n" => return Some(i + 4),
            b'\n' | b'\r' => i += 1,
            _ => i += 4,
        }
    }
    None
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
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
