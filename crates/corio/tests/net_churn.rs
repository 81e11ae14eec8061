//! 10 rounds of 10,000 connect/close leave descriptors and coroutines at their baseline.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::net::{TcpListener, TcpStream};

const ROUNDS: usize = 10;
const PER_ROUND: usize = 10_000;
const CLIENTS: usize = 100;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Decrements a live-coroutine counter when the coroutine ends, however it ends.
struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn connect_close_churn_returns_to_baseline() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let live = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let (l2, s2) = (live.clone(), served.clone());
        // The server writes one byte and closes first, so no client port lingers in
        // TIME_WAIT (the client reads the byte, then EOF, then closes).
        let server = corio::spawn(move || loop {
            let (mut s, _) = listener.accept().unwrap();
            l2.fetch_add(1, Ordering::SeqCst);
            let guard = Live(l2.clone());
            let served = s2.clone();
            corio::spawn(move || {
                let _guard = guard;
                let _ = s.write_all(b"!");
                served.fetch_add(1, Ordering::SeqCst);
            });
        });
        // Warm up (stack pools, the listener's registration), then take the baseline.
        let mut c = TcpStream::connect(addr).unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(c.read(&mut buf).unwrap(), 1);
        drop(c);
        wait_for(|| served.load(Ordering::SeqCst) == 1 && live.load(Ordering::SeqCst) == 0);
        let baseline = open_fds();

        let started = Instant::now();
        for round in 1..=ROUNDS {
            let clients: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    corio::spawn(move || {
                        for _ in 0..PER_ROUND / CLIENTS {
                            let mut c = TcpStream::connect(addr).unwrap();
                            let mut buf = [0u8; 2];
                            let mut got = 0;
                            loop {
                                match c.read(&mut buf).unwrap() {
                                    0 => break,
                                    n => got += n,
                                }
                            }
                            assert_eq!(got, 1);
                        }
                    })
                })
                .collect();
            for c in clients {
                c.join().unwrap();
            }
            let want = 1 + round * PER_ROUND;
            wait_for(|| served.load(Ordering::SeqCst) == want && live.load(Ordering::SeqCst) == 0);
            assert_eq!(open_fds(), baseline, "descriptors leaked in round {round}");
        }
        eprintln!(
            "{} connections in {:?}",
            ROUNDS * PER_ROUND,
            started.elapsed()
        );
        server.cancel();
        assert!(server.join().is_err());
    });
}

/// Waits (up to 10 s) for `cond`.
fn wait_for(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting");
        corio::time::sleep(Duration::from_millis(1));
    }
}
