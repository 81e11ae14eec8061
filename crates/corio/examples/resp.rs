//! A server for a subset of the Redis protocol (RESP): `PING`, `ECHO`, `SET`, `GET`, `DEL`,
//! `INCR`, `EXISTS` (plus `CONFIG`/`COMMAND`, answered with empty arrays so tools can start),
//! with pipelining and inline commands.
//!
//! ```text
//! cargo run --release -p corio --example resp -- [ADDR] [WORKERS]
//! redis-benchmark -p 6380 -t ping,set,get,incr -P 16 -q
//! ```
//! `ADDR` defaults to `127.0.0.1:6380` (or `$RESP_ADDR`); `WORKERS` to `$CORIO_WORKERS` or the
//! number of cores.
//!
//! The store is a sharded map behind `std::sync::Mutex`es: each lock is held for one map
//! operation and never across a suspension point, so a plain mutex is right here.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use corio::net::{TcpListener, TcpStream};

const SHARDS: usize = 64;
/// Requests larger than this are refused.
const MAX_REQUEST: usize = 64 * 1024 * 1024;

/// The key space, split into `SHARDS` maps.
struct Store {
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<Vec<u8>, Vec<u8>>>>,
}

impl Store {
    fn new() -> Self {
        Store {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, key: &[u8]) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Vec<u8>>> {
        let i = self.hasher.hash_one(key) as usize % SHARDS;
        self.shards[i].lock().unwrap()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .or_else(|| std::env::var("RESP_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:6380".into());
    let mut builder = corio::Builder::new();
    if let Some(n) = args.next().and_then(|n| n.parse().ok()) {
        builder = builder.workers(n);
    }
    let rt = builder.build().expect("cannot start the runtime");
    rt.block_on(move || {
        let store = Arc::new(Store::new());
        let listener = TcpListener::bind(&addr).expect("cannot bind");
        eprintln!("resp: listening on {}", listener.local_addr().unwrap());
        for stream in listener.incoming() {
            match stream {
                Ok(s) => {
                    let store = store.clone();
                    corio::spawn(move || {
                        let _ = serve(s, &store);
                    });
                }
                Err(e) => eprintln!("resp: accept: {e}"),
            }
        }
    });
}

fn serve(mut s: TcpStream, store: &Store) -> io::Result<()> {
    s.set_nodelay(true)?;
    let mut rbuf = vec![0u8; 16 * 1024];
    let mut filled = 0;
    let mut wbuf = Vec::with_capacity(16 * 1024);
    let mut args: Vec<(usize, usize)> = Vec::with_capacity(8);
    loop {
        if filled == rbuf.len() {
            if rbuf.len() >= MAX_REQUEST {
                s.write_all(b"-ERR request too large\r\n")?;
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
        loop {
            args.clear();
            match parse(&rbuf[start..filled], &mut args) {
                Parse::Incomplete => break,
                Parse::Error(msg) => {
                    wbuf.extend_from_slice(msg);
                    s.write_all(&wbuf)?;
                    return Ok(());
                }
                Parse::Done(len) => {
                    let base = start;
                    let arg = |i: usize| &rbuf[base + args[i].0..base + args[i].0 + args[i].1];
                    if !args.is_empty() {
                        execute(store, &args, &arg, &mut wbuf);
                    }
                    start += len;
                }
            }
        }
        if !wbuf.is_empty() {
            s.write_all(&wbuf)?;
            wbuf.clear();
        }
        rbuf.copy_within(start..filled, 0);
        filled -= start;
    }
}

enum Parse {
    Incomplete,
    /// A whole command of this many bytes; its arguments are in `args` as (offset, len).
    Done(usize),
    Error(&'static [u8]),
}

/// Parses one command (a RESP array of bulk strings, or an inline command line).
fn parse(buf: &[u8], args: &mut Vec<(usize, usize)>) -> Parse {
    if buf.is_empty() {
        return Parse::Incomplete;
    }
    if buf[0] != b'*' {
        // Inline: words separated by spaces, up to "\n".
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            return Parse::Incomplete;
        };
        let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let mut i = 0;
        while i < line_end {
            while i < line_end && buf[i] == b' ' {
                i += 1;
            }
            let w = i;
            while i < line_end && buf[i] != b' ' {
                i += 1;
            }
            if i > w {
                args.push((w, i - w));
            }
        }
        return Parse::Done(nl + 1);
    }
    let Some((count, mut pos)) = number_line(buf, 1) else {
        return Parse::Incomplete;
    };
    let Ok(count) = usize::try_from(count) else {
        return Parse::Done(pos); // "*-1": a null array, nothing to run
    };
    for _ in 0..count {
        if pos >= buf.len() {
            return Parse::Incomplete;
        }
        if buf[pos] != b'$' {
            return Parse::Error(b"-ERR Protocol error: expected '$'\r\n");
        }
        let Some((len, data)) = number_line(buf, pos + 1) else {
            return Parse::Incomplete;
        };
        let Ok(len) = usize::try_from(len) else {
            return Parse::Error(b"-ERR Protocol error: invalid bulk length\r\n");
        };
        if len > MAX_REQUEST {
            return Parse::Error(b"-ERR Protocol error: invalid bulk length\r\n");
        }
        if buf.len() < data + len + 2 {
            return Parse::Incomplete;
        }
        args.push((data, len));
        pos = data + len + 2;
    }
    Parse::Done(pos)
}

/// Parses a decimal number starting at `at` and ending in "\r\n"; returns it and the offset
/// after the line.
fn number_line(buf: &[u8], at: usize) -> Option<(i64, usize)> {
    let rest = buf.get(at..)?;
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let digits = rest[..nl].strip_suffix(b"\r").unwrap_or(&rest[..nl]);
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, at + nl + 1))
}

fn execute<'a>(
    store: &Store,
    args: &[(usize, usize)],
    arg: &dyn Fn(usize) -> &'a [u8],
    out: &mut Vec<u8>,
) {
    let cmd = arg(0);
    let argc = args.len();
    let is = |name: &[u8]| cmd.eq_ignore_ascii_case(name);
    if is(b"PING") {
        match argc {
            1 => out.extend_from_slice(b"+PONG\r\n"),
            2 => bulk(out, Some(arg(1))),
            _ => wrong_args(out, b"ping"),
        }
    } else if is(b"ECHO") {
        if argc == 2 {
            bulk(out, Some(arg(1)));
        } else {
            wrong_args(out, b"echo");
        }
    } else if is(b"SET") {
        if argc < 3 {
            return wrong_args(out, b"set");
        }
        let (k, v) = (arg(1), arg(2));
        let mut shard = store.shard(k);
        match shard.get_mut(k) {
            Some(old) => {
                old.clear();
                old.extend_from_slice(v);
            }
            None => {
                shard.insert(k.to_vec(), v.to_vec());
            }
        }
        drop(shard);
        out.extend_from_slice(b"+OK\r\n");
    } else if is(b"GET") {
        if argc != 2 {
            return wrong_args(out, b"get");
        }
        let shard = store.shard(arg(1));
        bulk(out, shard.get(arg(1)).map(Vec::as_slice));
    } else if is(b"DEL") || is(b"EXISTS") {
        if argc < 2 {
            return wrong_args(out, if is(b"DEL") { b"del" } else { b"exists" });
        }
        let del = is(b"DEL");
        let mut n = 0;
        for i in 1..argc {
            let k = arg(i);
            let mut shard = store.shard(k);
            let hit = if del {
                shard.remove(k).is_some()
            } else {
                shard.contains_key(k)
            };
            n += hit as i64;
        }
        integer(out, n);
    } else if is(b"INCR") {
        if argc != 2 {
            return wrong_args(out, b"incr");
        }
        let k = arg(1);
        let mut shard = store.shard(k);
        let cur = match shard.get(k) {
            None => Some(0),
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok()),
        };
        match cur.and_then(|c| c.checked_add(1)) {
            Some(next) => {
                match shard.get_mut(k) {
                    Some(v) => {
                        v.clear();
                        let _ = write!(v, "{next}");
                    }
                    None => {
                        shard.insert(k.to_vec(), next.to_string().into_bytes());
                    }
                }
                drop(shard);
                integer(out, next);
            }
            None => out.extend_from_slice(b"-ERR value is not an integer or out of range\r\n"),
        }
    } else if is(b"CONFIG") && argc == 3 && arg(1).eq_ignore_ascii_case(b"GET") {
        // Enough for tools that ask (redis-benchmark asks for `save` and `appendonly`).
        let value: &[u8] = if arg(2).eq_ignore_ascii_case(b"appendonly") {
            b"no"
        } else {
            b""
        };
        out.extend_from_slice(b"*2\r\n");
        bulk(out, Some(arg(2)));
        bulk(out, Some(value));
    } else if is(b"COMMAND") {
        out.extend_from_slice(b"*0\r\n");
    } else {
        out.extend_from_slice(b"-ERR unknown command '");
        out.extend_from_slice(&cmd[..cmd.len().min(64)]);
        out.extend_from_slice(b"'\r\n");
    }
}

fn bulk(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => out.extend_from_slice(b"$-1\r\n"),
        Some(v) => {
            let _ = write!(out, "${}\r\n", v.len());
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
    }
}

fn integer(out: &mut Vec<u8>, n: i64) {
    let _ = write!(out, ":{n}\r\n");
}

fn wrong_args(out: &mut Vec<u8>, cmd: &[u8]) {
    out.extend_from_slice(b"-ERR wrong number of arguments for '");
    out.extend_from_slice(cmd);
    out.extend_from_slice(b"' command\r\n");
}
