//! An echo client and load generator: `CONNS` coroutines each send `SIZE`-byte messages to
//! an echo server and wait for the echo, for `SECS` seconds; prints round trips per second.
//!
//! ```text
//! cargo run --release -p corio --example echo -- 127.0.0.1:7000 1 &
//! cargo run --release -p corio --example client -- [ADDR] [CONNS] [SECS] [SIZE] [WORKERS]
//! ```
//! Defaults: `127.0.0.1:7000` (or `$ECHO_ADDR`), 50 connections, 5 s, 64 bytes, workers from
//! `$CORIO_WORKERS` or the number of cores.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::net::TcpStream;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned();
    let addr = arg(0)
        .or_else(|| std::env::var("ECHO_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    let conns: usize = arg(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let secs: u64 = arg(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let size: usize = arg(3).and_then(|s| s.parse().ok()).unwrap_or(64);
    let mut builder = corio::Builder::new();
    if let Some(n) = arg(4).and_then(|n| n.parse().ok()) {
        builder = builder.workers(n);
    }
    let rt = builder.build().expect("cannot start the runtime");
    let total = rt.block_on(move || {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..conns)
            .map(|_| {
                let (addr, stop, count) = (addr.clone(), stop.clone(), count.clone());
                corio::spawn(move || -> std::io::Result<()> {
                    let mut s = TcpStream::connect(addr.as_str())?;
                    s.set_nodelay(true)?;
                    let msg = vec![b'x'; size];
                    let mut back = vec![0u8; size];
                    while !stop.load(Ordering::Relaxed) {
                        s.write_all(&msg)?;
                        s.read_exact(&mut back)?;
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        let start = Instant::now();
        corio::time::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            if let Ok(Err(e)) = h.join() {
                eprintln!("client: {e}");
            }
        }
        count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
    });
    println!("{total:.0} round trips/s");
}
