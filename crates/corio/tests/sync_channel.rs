//! Channels: throughput under many producers and consumers, blocking semantics,
//! disconnection on every side, and coroutine <-> thread traffic.

mod util;
use util::watchdog;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use corio::sync::channel::{
    bounded, unbounded, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError,
    TrySendError,
};

/// Runs `f` on a thread and fails the test (instead of hanging) if it takes over `limit`.
#[test]
fn ten_million_messages_8x8_arrive_once_each() {
    const PRODUCERS: u64 = 8;
    const CONSUMERS: usize = 8;
    const TOTAL: u64 = 10_000_000;
    const PER: u64 = TOTAL / PRODUCERS;
    let (count, sum, xor, secs) = watchdog(Duration::from_secs(60), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        rt.block_on(|| {
            let t = Instant::now();
            let (tx, rx) = bounded::<u64>(1024);
            for p in 0..PRODUCERS {
                let tx = tx.clone();
                corio::spawn(move || {
                    for i in 0..PER {
                        tx.send(p * PER + i).unwrap();
                    }
                });
            }
            drop(tx);
            let consumers: Vec<_> = (0..CONSUMERS)
                .map(|_| {
                    let rx = rx.clone();
                    corio::spawn(move || {
                        let (mut n, mut s, mut x) = (0u64, 0u64, 0u64);
                        for v in rx.iter() {
                            n += 1;
                            s = s.wrapping_add(v);
                            x ^= v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                        }
                        (n, s, x)
                    })
                })
                .collect();
            drop(rx);
            let (mut n, mut s, mut x) = (0, 0u64, 0u64);
            for c in consumers {
                let (cn, cs, cx) = c.join().unwrap();
                n += cn;
                s = s.wrapping_add(cs);
                x ^= cx;
            }
            (n, s, x, t.elapsed().as_secs_f64())
        })
    });
    let want_xor = (0..TOTAL).fold(0u64, |x, v| x ^ v.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    assert_eq!(count, TOTAL);
    assert_eq!(sum, TOTAL * (TOTAL - 1) / 2);
    assert_eq!(xor, want_xor);
    println!(
        "mpmc 8x8 bounded(1024), 2 workers: {TOTAL} msgs in {secs:.2} s = {:.1} M msgs/s",
        TOTAL as f64 / secs / 1e6
    );
}

#[test]
fn rendezvous_pingpong_round_trips() {
    for workers in [1, 2] {
        let per = watchdog(Duration::from_secs(30), move || {
            let rt = corio::Builder::new().workers(workers).build().unwrap();
            rt.block_on(|| {
                const N: u32 = 200_000;
                let (ping_tx, ping_rx) = bounded::<u32>(0);
                let (pong_tx, pong_rx) = bounded::<u32>(0);
                let echo = corio::spawn(move || {
                    for v in ping_rx.iter() {
                        pong_tx.send(v + 1).unwrap();
                    }
                });
                let t = Instant::now();
                for i in 0..N {
                    ping_tx.send(i).unwrap();
                    assert_eq!(pong_rx.recv(), Ok(i + 1));
                }
                let per = t.elapsed() / N;
                drop(ping_tx);
                echo.join().unwrap();
                per
            })
        });
        println!("pingpong bounded(0), {workers} worker(s): {per:?} per round trip");
    }
}

#[test]
fn bounded_blocks_when_full_and_keeps_fifo() {
    corio::run(|| {
        let (tx, rx) = bounded(2);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert!(tx.is_full());
        let h = corio::spawn(move || {
            tx.send(3).unwrap(); // blocks until a slot frees
            tx.send(4).unwrap();
        });
        corio::time::sleep(Duration::from_millis(5));
        assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2, 3, 4]);
        h.join().unwrap();
    });
}

#[test]
fn rendezvous_send_waits_for_receiver() {
    corio::run(|| {
        let (tx, rx) = bounded(0);
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        assert_eq!(
            tx.send_timeout(1, Duration::from_millis(5)),
            Err(SendTimeoutError::Timeout(1))
        );
        let received = Arc::new(AtomicBool::new(false));
        let r2 = received.clone();
        let h = corio::spawn(move || {
            corio::time::sleep(Duration::from_millis(10));
            r2.store(true, Ordering::SeqCst);
            rx.recv().unwrap()
        });
        tx.send(9).unwrap();
        assert!(
            received.load(Ordering::SeqCst),
            "send returned before the receive"
        );
        assert_eq!(h.join().unwrap(), 9);
    });
}

#[test]
fn recv_timeout_expires_then_delivers() {
    corio::run(|| {
        let (tx, rx) = unbounded::<u8>();
        let t = Instant::now();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(10)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(t.elapsed() >= Duration::from_millis(10));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.send(5).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_millis(10)), Ok(5));
    });
}

#[test]
fn dropping_last_sender_wakes_blocked_receivers() {
    corio::run(|| {
        let (tx, rx) = bounded::<u8>(0);
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                corio::spawn(move || rx.recv())
            })
            .collect();
        corio::time::sleep(Duration::from_millis(5));
        let tx2 = tx.clone();
        drop(tx);
        corio::time::sleep(Duration::from_millis(2));
        drop(tx2); // the last one
        for h in hs {
            assert_eq!(h.join().unwrap(), Err(RecvError));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

#[test]
fn buffered_messages_survive_sender_drop() {
    let (tx, rx) = bounded(4);
    tx.send("a").unwrap();
    tx.send("b").unwrap();
    drop(tx);
    assert_eq!(rx.recv(), Ok("a"));
    assert_eq!(rx.recv(), Ok("b"));
    assert_eq!(rx.recv(), Err(RecvError));
}

#[test]
fn dropping_last_receiver_fails_blocked_and_later_senders() {
    corio::run(|| {
        let (tx, rx) = bounded::<String>(0);
        let blocked = {
            let tx = tx.clone();
            corio::spawn(move || tx.send("blocked".into()))
        };
        corio::time::sleep(Duration::from_millis(5));
        drop(rx);
        assert_eq!(
            blocked.join().unwrap(),
            Err(SendError("blocked".to_string()))
        );
        assert_eq!(tx.send("late".into()), Err(SendError("late".to_string())));
        assert_eq!(
            tx.try_send("try".into()),
            Err(TrySendError::Disconnected("try".to_string()))
        );
    });
}

#[test]
fn dropping_last_receiver_drops_buffered_messages() {
    let marker = Arc::new(());
    let (tx, rx) = bounded(4);
    tx.send(marker.clone()).unwrap();
    tx.send(marker.clone()).unwrap();
    assert_eq!(Arc::strong_count(&marker), 3);
    drop(rx);
    assert_eq!(Arc::strong_count(&marker), 1);
}

#[test]
fn thread_to_coroutine_and_back() {
    watchdog(Duration::from_secs(20), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        let (to_co, from_thread) = bounded::<u64>(0);
        let (to_thread, from_co) = bounded::<u64>(1);
        // A plain thread that talks to coroutines holds a Handle (see the channel docs).
        let handle = rt.handle();
        let thread = thread::spawn(move || {
            let _h = handle;
            let mut sum = 0;
            for i in 0..20_000 {
                to_co.send(i).unwrap(); // blocks this thread until a coroutine takes it
                sum += from_co.recv().unwrap();
            }
            // Disconnect (which wakes the coroutine) while still holding the handle: with
            // the handle gone first, the runtime may see every coroutine parked and nobody
            // left to wake them, and report a deadlock.
            drop(to_co);
            sum
        });
        rt.block_on(move || {
            for v in from_thread.iter() {
                to_thread.send(v * 2).unwrap();
            }
        });
        assert_eq!(
            thread.join().unwrap(),
            (0..20_000u64).map(|i| i * 2).sum::<u64>()
        );
    });
}

#[test]
fn plain_threads_only() {
    let (tx, rx) = bounded::<u32>(0);
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || (0..1000).for_each(|i| tx.send(p * 1000 + i).unwrap()))
        })
        .collect();
    drop(tx);
    let mut got: Vec<u32> = rx.iter().collect();
    producers.into_iter().for_each(|p| p.join().unwrap());
    got.sort_unstable();
    assert_eq!(got, (0..4000).collect::<Vec<_>>());
}

#[test]
fn cancelled_blocked_receiver_leaves_channel_usable() {
    corio::run(|| {
        let (tx, rx) = bounded::<u32>(0);
        let rx2 = rx.clone();
        let h = corio::spawn(move || rx2.recv());
        corio::time::sleep(Duration::from_millis(5));
        h.cancel();
        assert!(h.join().is_err());
        let peer = corio::spawn(move || rx.recv().unwrap());
        tx.send(3).unwrap(); // must reach `peer`, not the cancelled receiver
        assert_eq!(peer.join().unwrap(), 3);
    });
}

/// Timeouts racing hand-offs on a rendezvous channel, coroutines on two workers and a plain
/// thread on each side: a send that times out keeps its message (and retries it), one that
/// succeeds delivered it exactly once, and a receive that times out took nothing.
#[test]
fn timeouts_racing_handoffs_lose_and_duplicate_nothing() {
    const PER_SENDER: u32 = 2_000;
    const SENDERS: u32 = 4; // three coroutines and a thread
    watchdog(Duration::from_secs(60), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        let seen = rt.block_on(|| {
            let (tx, rx) = bounded::<u32>(0);
            let send_all = |tx: corio::sync::channel::Sender<u32>, base: u32| {
                move || {
                    for i in base..base + PER_SENDER {
                        if i % 100 == 0 {
                            corio::time::sleep(Duration::from_millis(2)); // receivers time out
                        }
                        let mut msg = i;
                        loop {
                            match tx.send_timeout(msg, Duration::from_micros(500)) {
                                Ok(()) => break,
                                Err(SendTimeoutError::Timeout(m)) => msg = m,
                                Err(e) => panic!("unexpected {e:?}"),
                            }
                        }
                    }
                }
            };
            let mut senders: Vec<_> = (0..SENDERS - 1)
                .map(|k| corio::spawn(send_all(tx.clone(), k * PER_SENDER)))
                .collect();
            let thread_tx = tx.clone();
            let handle = corio::Handle::current();
            let thread = thread::spawn(move || {
                let _handle = handle; // a thread that wakes coroutines holds a Handle
                send_all(thread_tx, (SENDERS - 1) * PER_SENDER)()
            });
            drop(tx);
            let receive = |rx: corio::sync::channel::Receiver<u32>| {
                move || {
                    let mut got = Vec::new();
                    loop {
                        if got.len() % 64 == 63 {
                            corio::time::sleep(Duration::from_millis(2)); // senders time out
                        }
                        match rx.recv_timeout(Duration::from_micros(500)) {
                            Ok(v) => got.push(v),
                            Err(RecvTimeoutError::Timeout) => {}
                            Err(RecvTimeoutError::Disconnected) => return got,
                        }
                    }
                }
            };
            let other = corio::spawn(receive(rx.clone()));
            let mut seen = receive(rx)();
            for s in senders.drain(..) {
                s.join().unwrap();
            }
            thread.join().unwrap();
            seen.extend(other.join().unwrap());
            seen
        });
        let mut seen = seen;
        seen.sort_unstable();
        let expected: Vec<u32> = (0..SENDERS * PER_SENDER).collect();
        assert_eq!(seen.len(), expected.len(), "lost or duplicated messages");
        assert_eq!(seen, expected);
    });
}
