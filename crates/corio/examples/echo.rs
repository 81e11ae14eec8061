//! A TCP echo server: one coroutine per connection.
//!
//! ```text
//! cargo run --release -p corio --example echo -- [ADDR] [WORKERS]
//! ```
//! `ADDR` defaults to `127.0.0.1:7000` (or `$ECHO_ADDR`); `WORKERS` defaults to
//! `$CORIO_WORKERS` or the number of cores. Try it with `nc 127.0.0.1 7000`, or with the
//! `client` example.

use std::io::{Read, Write};

use corio::net::TcpListener;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .or_else(|| std::env::var("ECHO_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    let mut builder = corio::Builder::new();
    if let Some(n) = args.next().and_then(|n| n.parse().ok()) {
        builder = builder.workers(n);
    }
    let rt = builder.build().expect("cannot start the runtime");
    rt.block_on(move || {
        let listener = TcpListener::bind(&addr).expect("cannot bind");
        eprintln!("echo: listening on {}", listener.local_addr().unwrap());
        for stream in listener.incoming() {
            let mut s = match stream {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("echo: accept: {e}");
                    continue;
                }
            };
            let _ = s.set_nodelay(true);
            corio::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
}
