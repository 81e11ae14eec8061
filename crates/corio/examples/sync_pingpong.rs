//! Quick local measurement of the `sync` hot paths (the real comparison table lives in
//! `corio-bench`): rendezvous and one-slot ping-pong on 1 and 2 workers, next to a raw
//! park/unpark ping-pong (the floor the runtime gives), and contended mutex increments.
//!
//! `cargo run -p corio --release --example sync_pingpong`

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::sync::channel::bounded;
use corio::sync::Mutex;

const N: u32 = 200_000;

fn pingpong(workers: usize, cap: usize) -> Duration {
    let rt = corio::Builder::new().workers(workers).build().unwrap();
    rt.block_on(move || {
        let (ping_tx, ping_rx) = bounded::<u32>(cap);
        let (pong_tx, pong_rx) = bounded::<u32>(cap);
        let echo = corio::spawn(move || {
            for v in ping_rx.iter() {
                pong_tx.send(v).unwrap();
            }
        });
        let t = Instant::now();
        for i in 0..N {
            ping_tx.send(i).unwrap();
            pong_rx.recv().unwrap();
        }
        let per = t.elapsed() / N;
        drop(ping_tx);
        echo.join().unwrap();
        per
    })
}

/// Two coroutines hand a turn back and forth with park/unpark only.
fn raw_park(workers: usize) -> Duration {
    let rt = corio::Builder::new().workers(workers).build().unwrap();
    rt.block_on(|| {
        let turn = Arc::new(AtomicU32::new(0));
        let main = corio::task::current().unparker();
        let t2 = turn.clone();
        let (utx, urx) = std::sync::mpsc::channel();
        let echo = corio::spawn(move || {
            utx.send(corio::task::current().unparker()).unwrap();
            for i in 0..N {
                while t2.load(Ordering::Acquire) != 2 * i + 1 {
                    corio::task::park();
                }
                t2.store(2 * i + 2, Ordering::Release);
                main.unpark();
            }
        });
        let peer = loop {
            if let Ok(u) = urx.try_recv() {
                break u;
            }
            corio::yield_now();
        };
        let t = Instant::now();
        for i in 0..N {
            turn.store(2 * i + 1, Ordering::Release);
            peer.unpark();
            while turn.load(Ordering::Acquire) != 2 * i + 2 {
                corio::task::park();
            }
        }
        let per = t.elapsed() / N;
        echo.join().unwrap();
        per
    })
}

fn mutex(workers: usize) -> f64 {
    let rt = corio::Builder::new().workers(workers).build().unwrap();
    rt.block_on(|| {
        let m = Arc::new(Mutex::new(0u64));
        let t = Instant::now();
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let m = m.clone();
                corio::spawn(move || {
                    for j in 0..250_000u32 {
                        *m.lock() += 1;
                        if j % 64 == 0 {
                            corio::yield_now();
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*m.lock(), 2_000_000);
        2e6 / t.elapsed().as_secs_f64()
    })
}

fn best<T: PartialOrd + Copy>(mut f: impl FnMut() -> T, better: impl Fn(T, T) -> bool) -> T {
    let mut b = f();
    for _ in 0..4 {
        let x = f();
        if better(x, b) {
            b = x;
        }
    }
    b
}

fn main() {
    for workers in [1, 2] {
        let raw = best(|| raw_park(workers), |a, b| a < b);
        let rv = best(|| pingpong(workers, 0), |a, b| a < b);
        let one = best(|| pingpong(workers, 1), |a, b| a < b);
        println!(
            "{workers} worker(s): park/unpark round trip {raw:?}, bounded(0) {rv:?}, bounded(1) {one:?}"
        );
    }
    for workers in [1, 2] {
        let m = best(|| mutex(workers), |a, b| a > b);
        println!(
            "{workers} worker(s): mutex, 8 coroutines: {:.1} M increments/s",
            m / 1e6
        );
    }
}
