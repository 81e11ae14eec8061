//! Timeout scopes (`corio::time::timeout`) and `JoinHandle::join_timeout`: what is unwound,
//! what runs, what is kept. Behaviour only: no assertion on how long anything took.

mod util;

use std::io::{Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use corio::net::{TcpListener, TcpStream};
use corio::sync::channel;
use corio::sync::Mutex;
use corio::time::{sleep, timeout, Elapsed};
use util::watchdog;

const LIMIT: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(5);
const LONG: Duration = Duration::from_secs(3600);

fn rt(workers: usize) -> corio::Runtime {
    corio::Builder::new().workers(workers).build().unwrap()
}

/// Counts its drops: the destructors an unwind must run.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

#[test]
fn unwinds_a_sleep_and_the_coroutine_goes_on() {
    watchdog(LIMIT, || {
        rt(1).block_on(|| {
            let drops = counter();
            let d = drops.clone();
            let reached = AtomicBool::new(false);
            let r = timeout(SHORT, || {
                let _g = Dropped(d);
                sleep(LONG);
                reached.store(true, Ordering::SeqCst);
            });
            assert!(r.is_err());
            assert_eq!(drops.load(Ordering::SeqCst), 1, "the destructor ran");
            assert!(!reached.load(Ordering::SeqCst));
            // The coroutine carries on, and its later waits are not disturbed.
            sleep(Duration::from_millis(2));
            assert_eq!(timeout(LONG, || 5), Ok(5));
            corio::yield_now();
        })
    });
}

#[test]
fn unwinds_a_recv_and_the_receiver_still_works() {
    watchdog(LIMIT, || {
        rt(2).block_on(|| {
            let drops = counter();
            let (tx, rx) = channel::unbounded::<u32>();
            let d = drops.clone();
            let r = timeout(SHORT, || {
                let _g = Dropped(d);
                rx.recv()
            });
            assert!(r.is_err());
            assert_eq!(drops.load(Ordering::SeqCst), 1);
            tx.send(1).unwrap();
            assert_eq!(rx.recv(), Ok(1), "the receiver still works");
        })
    });
}

/// A sender that sends around the deadline (its sleep and the scope's timer often fire in
/// the same tick): every message is received, by the scope or afterwards from the channel.
#[test]
fn a_message_handed_at_the_deadline_is_never_lost() {
    watchdog(LIMIT, || {
        rt(2).block_on(|| {
            let sent = 300;
            let (tx, rx) = channel::bounded::<u32>(0);
            let sender = corio::spawn(move || {
                for i in 0..sent {
                    if i % 3 == 0 {
                        sleep(Duration::from_millis(1));
                    }
                    tx.send(i).unwrap();
                }
            });
            let mut got = Vec::new();
            let mut elapsed = 0;
            loop {
                match timeout(Duration::from_millis(1), || rx.recv()) {
                    Ok(Ok(v)) => got.push(v),
                    Ok(Err(_)) => break, // disconnected: all sent
                    Err(Elapsed { .. }) => elapsed += 1,
                }
            }
            sender.join().unwrap();
            while let Ok(v) = rx.try_recv() {
                got.push(v);
            }
            got.sort_unstable();
            assert_eq!(
                got,
                (0..sent).collect::<Vec<_>>(),
                "lost or doubled messages"
            );
            let _ = elapsed; // how many deadlines hit depends on the machine
        })
    });
}

#[test]
fn unwinds_a_lock_and_the_lock_is_still_usable() {
    watchdog(LIMIT, || {
        rt(2).block_on(|| {
            let m = Arc::new(Mutex::new(0u32));
            let guard = m.lock();
            let drops = counter();
            let (m2, d) = (m.clone(), drops.clone());
            let waiter = corio::spawn(move || {
                let r = timeout(SHORT, || {
                    let _g = Dropped(d);
                    *m2.lock() += 1;
                });
                assert!(r.is_err());
                // The lock is taken again once its holder lets it go.
                *m2.lock() += 10;
            });
            sleep(Duration::from_millis(20));
            drop(guard);
            waiter.join().unwrap();
            assert_eq!(drops.load(Ordering::SeqCst), 1);
            assert_eq!(*m.lock(), 10, "the timed-out lock() never ran its body");
        })
    });
}

#[test]
fn unwinds_a_socket_read_and_the_socket_still_reads() {
    watchdog(LIMIT, || {
        rt(1).block_on(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let (go_tx, go_rx) = channel::bounded::<()>(0);
            let server = corio::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                go_rx.recv().unwrap();
                s.write_all(b"late").unwrap();
            });
            let mut c = TcpStream::connect(addr).unwrap();
            let drops = counter();
            let d = drops.clone();
            let mut buf = [0u8; 4];
            let r = timeout(SHORT, || {
                let _g = Dropped(d);
                c.read(&mut buf)
            });
            assert!(r.is_err());
            assert_eq!(drops.load(Ordering::SeqCst), 1);
            go_tx.send(()).unwrap();
            c.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"late");
            server.join().unwrap();
        })
    });
}

#[test]
fn the_inner_deadline_unwinds_to_the_inner_scope_only() {
    watchdog(LIMIT, || {
        rt(1).block_on(|| {
            let outer = timeout(LONG, || {
                let inner = timeout(SHORT, || sleep(LONG));
                assert!(inner.is_err());
                sleep(Duration::from_millis(1));
                "outer finished"
            });
            assert_eq!(outer, Ok("outer finished"));
        })
    });
}

#[test]
fn the_outer_deadline_passes_through_the_inner_scope() {
    watchdog(LIMIT, || {
        rt(1).block_on(|| {
            let drops = counter();
            let d = drops.clone();
            let after_inner = AtomicBool::new(false);
            let outer = timeout(SHORT, || {
                let _outer_guard = Dropped(d.clone());
                let _ = timeout(LONG, || {
                    let _inner_guard = Dropped(d);
                    sleep(LONG);
                });
                after_inner.store(true, Ordering::SeqCst);
            });
            assert!(outer.is_err());
            assert!(
                !after_inner.load(Ordering::SeqCst),
                "the inner scope let it pass"
            );
            assert_eq!(drops.load(Ordering::SeqCst), 2);
        })
    });
}

#[test]
fn a_deadline_during_computation_unwinds_at_a_later_suspension() {
    watchdog(LIMIT, || {
        rt(1).block_on(|| {
            let reached = AtomicBool::new(false);
            let r = timeout(Duration::from_millis(1), || {
                thread::sleep(Duration::from_millis(10)); // computes: no suspension point
                                                          // Unwound once the worker has looked at its timers (every few dozen rounds).
                for _ in 0..10_000 {
                    corio::yield_now();
                }
                reached.store(true, Ordering::SeqCst);
            });
            assert!(r.is_err());
            assert!(!reached.load(Ordering::SeqCst));
            // A deadline already passed: `f` runs until it suspends.
            assert_eq!(timeout(Duration::ZERO, || 3), Ok(3));
            let r = timeout(Duration::ZERO, || {
                corio::yield_now();
                reached.store(true, Ordering::SeqCst);
            });
            assert!(r.is_err());
            assert!(!reached.load(Ordering::SeqCst));
        })
    });
}

#[test]
fn panics_and_cancellations_pass_through_a_scope() {
    watchdog(LIMIT, || {
        rt(1).block_on(|| {
            let caught = panic::catch_unwind(AssertUnwindSafe(|| {
                let _ = timeout(LONG, || panic!("inside"));
            }));
            assert_eq!(*caught.unwrap_err().downcast::<&str>().unwrap(), "inside");
            let h = corio::spawn(|| {
                let _ = timeout(LONG, || sleep(LONG));
                unreachable!("the cancellation is not a timeout");
            });
            sleep(Duration::from_millis(2));
            h.cancel();
            assert!(h.join().unwrap_err().is_cancelled());
        })
    });
}

/// Waits in `drop` (so it waits while its coroutine unwinds).
struct WaitsInDrop(Duration);

impl Drop for WaitsInDrop {
    fn drop(&mut self) {
        sleep(self.0);
    }
}

/// Runs a closure when dropped.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

#[test]
fn a_destructor_may_wait_during_the_unwind() {
    watchdog(LIMIT, || {
        rt(1).block_on(|| {
            let r = timeout(SHORT, || {
                let _w = WaitsInDrop(Duration::from_millis(10));
                sleep(LONG);
            });
            assert!(r.is_err());
            // The outer deadline passes while the inner unwind waits: it is delivered at the
            // next suspension point after the inner scope returned.
            let after_inner = AtomicBool::new(false);
            let outer = timeout(Duration::from_millis(10), || {
                let inner = timeout(Duration::from_millis(1), || {
                    let _w = WaitsInDrop(Duration::from_millis(30));
                    sleep(LONG);
                });
                assert!(inner.is_err());
                after_inner.store(true, Ordering::SeqCst);
                sleep(LONG);
            });
            assert!(outer.is_err());
            assert!(after_inner.load(Ordering::SeqCst));
        })
    });
}

/// A timeout *inside* a destructor that runs during an unwind (a cancellation, a panic, an
/// outer timeout) still ends: its unwind stops at its own scope, inside the destructor. Without
/// that, a graceful close with a timeout in a `Drop` would hang a cancelled coroutine.
#[test]
fn a_timeout_inside_a_destructor_ends_during_the_unwind() {
    struct CloseWithTimeout(channel::Receiver<()>, Arc<AtomicUsize>);
    impl Drop for CloseWithTimeout {
        fn drop(&mut self) {
            assert!(std::thread::panicking(), "runs as part of an unwind");
            // Nobody sends: only the timeout can end this.
            assert!(timeout(SHORT, || self.0.recv()).is_err());
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    watchdog(LIMIT, || {
        rt(1).block_on(|| {
            let closed = counter();
            let (_tx, rx) = channel::bounded::<()>(0);
            let c = closed.clone();
            let cancelled = corio::spawn(move || {
                let _g = CloseWithTimeout(rx, c);
                sleep(LONG);
            });
            sleep(SHORT);
            cancelled.cancel();
            assert!(cancelled.join().unwrap_err().is_cancelled());

            let (_tx, rx) = channel::bounded::<()>(0);
            let c = closed.clone();
            let panicked = corio::spawn(move || {
                let _g = CloseWithTimeout(rx, c);
                panic!("unwinds through the destructor");
            });
            assert!(panicked.join().unwrap_err().is_panic());

            let (_tx, rx) = channel::bounded::<()>(0);
            let c = closed.clone();
            let outer = timeout(SHORT, move || {
                let _g = CloseWithTimeout(rx, c);
                sleep(LONG);
            });
            assert!(outer.is_err());
            assert_eq!(closed.load(Ordering::SeqCst), 3);
        })
    });
}

/// A cancel that arrives while a timeout's unwind waits in a destructor is held (raising it
/// there would abort), then delivered at the first suspension after the scope returned.
#[test]
fn a_cancel_during_a_timeouts_unwind_comes_after_the_scope() {
    watchdog(LIMIT, || {
        rt(1).block_on(|| {
            let (in_drop_tx, in_drop_rx) = channel::bounded::<()>(1);
            let returned = Arc::new(AtomicBool::new(false));
            let r = returned.clone();
            let h = corio::spawn(move || {
                let out = timeout(SHORT, || {
                    let _w = WaitsInDrop(Duration::from_millis(20));
                    let _tell = OnDrop(move || in_drop_tx.send(()).unwrap());
                    sleep(LONG);
                });
                assert!(out.is_err());
                r.store(true, Ordering::SeqCst);
                sleep(LONG); // the held cancellation ends this
            });
            in_drop_rx.recv().unwrap(); // the scope's unwind has begun
            h.cancel();
            assert!(h.join().unwrap_err().is_cancelled());
            assert!(
                returned.load(Ordering::SeqCst),
                "delivered after the scope returned"
            );
        })
    });
}

/// Another coroutine of the same worker is parked in the middle of an unwind (so the thread
/// reports `panicking()`, std counting panics per thread) when scopes fire: a scope whose
/// coroutine parks, or that is opened, while that lasts waits for it to end (corio cannot
/// tell that its coroutine is not the one unwinding), and is delivered then, not lost.
#[test]
fn a_scope_fires_while_another_coroutine_of_the_thread_unwinds() {
    watchdog(LIMIT, || {
        rt(1).block_on(|| {
            /// Tells it started waiting, then waits for the release: in the middle of the
            /// unwind that runs it.
            struct WaitsForRelease(channel::Sender<()>, channel::Receiver<()>);
            impl Drop for WaitsForRelease {
                fn drop(&mut self) {
                    self.0.send(()).unwrap();
                    let _ = self.1.recv();
                }
            }
            let (release_tx, release_rx) = channel::bounded::<()>(1);
            let (waiting_tx, waiting_rx) = channel::bounded::<()>(1);
            let (opened_tx, opened_rx) = channel::bounded::<()>(0);
            let (go_tx, go_rx) = channel::bounded::<()>(0);
            let (_tx, rx) = channel::bounded::<()>(0);
            let before = corio::spawn(move || {
                // Opened before the other coroutine starts unwinding, and waiting (parked)
                // again only once that one is parked mid-unwind.
                timeout(SHORT, || {
                    opened_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                    rx.recv()
                })
            });
            opened_rx.recv().unwrap();
            let unwinding = corio::spawn(move || {
                let _w = WaitsForRelease(waiting_tx, release_rx);
                panic!("unwinds, then waits in a destructor");
            });
            waiting_rx.recv().unwrap();
            assert!(
                std::thread::panicking(),
                "the other unwind counts on this thread too"
            );
            go_tx.send(()).unwrap();
            let released = Arc::new(AtomicBool::new(false));
            let r = released.clone();
            let releaser = corio::spawn(move || {
                sleep(Duration::from_millis(30)); // both deadlines pass meanwhile
                r.store(true, Ordering::SeqCst);
                release_tx.send(()).unwrap();
            });
            let (_tx2, rx2) = channel::bounded::<()>(0);
            assert!(timeout(SHORT, || rx2.recv()).is_err());
            assert!(
                released.load(Ordering::SeqCst),
                "held back until the other unwind ended"
            );
            assert!(before.join().unwrap().is_err(), "delivered once it is over");
            assert!(unwinding.join().unwrap_err().is_panic());
            releaser.join().unwrap();
        })
    });
}

#[test]
fn join_timeout_gives_the_handle_back() {
    watchdog(LIMIT, || {
        rt(2).block_on(|| {
            let h = corio::spawn(|| sleep(LONG));
            let h = h.join_timeout(SHORT).unwrap_err();
            assert!(!h.is_finished());
            h.cancel();
            assert!(h.join().unwrap_err().is_cancelled());

            let h = corio::spawn(|| 6 * 7);
            assert_eq!(h.join_timeout(LONG).unwrap().unwrap(), 42);
            let h = corio::spawn(|| panic!("p"));
            assert!(h.join_timeout(LONG).unwrap().unwrap_err().is_panic());
        });
        // From a plain thread, too.
        let rt = rt(1);
        let h = rt.spawn(|| sleep(LONG));
        let h = h.join_timeout(SHORT).unwrap_err();
        h.cancel();
        assert!(h.join_timeout(LONG).unwrap().unwrap_err().is_cancelled());
    });
}

#[test]
fn elapsed_is_an_io_timeout() {
    let elapsed: Elapsed =
        rt(1).block_on(|| timeout(Duration::ZERO, corio::yield_now).unwrap_err());
    let e: std::io::Error = elapsed.into();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(e.to_string(), "deadline has elapsed");
}

#[test]
#[should_panic(expected = "outside a coroutine")]
fn timeout_outside_a_coroutine_panics() {
    let _ = timeout(SHORT, || ());
}

/// A sender whose value was taken before its deadline fired keeps its `Ok` (a completed wait
/// is never undone, as for a cancel): the values reported sent are exactly those received.
#[test]
fn a_send_completed_at_the_deadline_reports_ok() {
    watchdog(LIMIT, || {
        rt(2).block_on(|| {
            let (tx, rx) = channel::bounded::<u32>(0);
            let receiver = corio::spawn(move || {
                let mut got = Vec::new();
                while let Ok(v) = rx.recv() {
                    if v % 3 == 0 {
                        sleep(Duration::from_millis(1));
                    }
                    got.push(v);
                }
                got
            });
            let mut sent = Vec::new();
            for i in 0..300 {
                if let Ok(r) = timeout(Duration::from_millis(1), || tx.send(i)) {
                    r.unwrap();
                    sent.push(i);
                }
            }
            drop(tx);
            assert_eq!(
                receiver.join().unwrap(),
                sent,
                "a delivered value reported as elapsed"
            );
        })
    });
}
