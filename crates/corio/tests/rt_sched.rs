//! Scheduling properties: progress beside a CPU hog, and no migration of started coroutines.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// With 2 workers, a coroutine spinning without suspending holds one worker; coroutines on
/// the other worker keep running, and new tasks go to it.
#[test]
fn cpu_bound_coroutine_does_not_stop_the_other_worker() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let hog_thread = Arc::new(std::sync::Mutex::new(None));
    let (r, ht) = (release.clone(), hog_thread.clone());
    let hog = rt.spawn(move || {
        *ht.lock().unwrap() = Some(thread::current().id());
        let start = Instant::now();
        // Never suspends; gives up after 10 s so a broken scheduler fails, not hangs.
        while !r.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(10) {
            std::hint::spin_loop();
        }
    });
    let hog_id = loop {
        if let Some(id) = *hog_thread.lock().unwrap() {
            break id;
        }
        thread::sleep(Duration::from_millis(1));
    };
    let tickers: Vec<_> = (0..4)
        .map(|_| {
            let t = ticks.clone();
            rt.spawn(move || {
                assert_ne!(thread::current().id(), hog_id);
                for _ in 0..50 {
                    corio::time::sleep(Duration::from_millis(1));
                    corio::yield_now();
                    t.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let start = Instant::now();
    while ticks.load(Ordering::Relaxed) < 200 && start.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(1));
    }
    let progressed = ticks.load(Ordering::Relaxed);
    let hog_still_running = !hog.is_finished();
    release.store(true, Ordering::Relaxed);
    hog.join().unwrap();
    tickers.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(progressed, 200, "the free worker stalled");
    assert!(
        hog_still_running,
        "the hog ended early: the test proved nothing"
    );
}

/// Under heavy stealing (many short tasks spawned everywhere) every started coroutine sees
/// the same thread before and after each of its suspensions.
#[test]
fn started_coroutines_never_migrate() {
    let rt = corio::Builder::new().workers(4).build().unwrap();
    let checks = rt.block_on(|| {
        let checks = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..2000)
            .map(|i| {
                let checks = checks.clone();
                corio::spawn(move || {
                    let tid = thread::current().id();
                    let rc = std::rc::Rc::new(i); // !Send, held across suspensions
                    for j in 0..20 {
                        match j % 3 {
                            0 => corio::yield_now(),
                            1 => corio::time::sleep(Duration::from_micros(100)),
                            _ => {
                                // Woken from another coroutine, possibly on another worker.
                                let me = corio::task::current().unparker();
                                corio::spawn(move || me.unpark());
                                corio::task::park();
                            }
                        }
                        assert_eq!(thread::current().id(), tid, "coroutine migrated");
                        checks.fetch_add(1, Ordering::Relaxed);
                    }
                    *rc
                })
            })
            .collect();
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), i);
        }
        checks.load(Ordering::Relaxed)
    });
    assert_eq!(checks, 2000 * 20);
}

/// Wakes from plain threads reach the coroutine's home worker.
#[test]
fn unpark_from_a_plain_thread() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    let handle = rt.handle();
    rt.block_on(move || {
        let flag = Arc::new(AtomicBool::new(false));
        let me = corio::task::current().unparker();
        let f = flag.clone();
        let t = thread::spawn(move || {
            let _h = handle; // an outside waker holds a Handle
            thread::sleep(Duration::from_millis(5));
            f.store(true, Ordering::Release);
            me.unpark();
        });
        while !flag.load(Ordering::Acquire) {
            corio::task::park();
        }
        t.join().unwrap();
    });
}

/// Two coroutines handing control to each other through the LIFO slot cannot starve the
/// other coroutines of their (only) worker.
#[test]
fn lifo_slot_cannot_starve_the_queue() {
    const LIMIT: usize = 1_000_000;
    let rt = corio::Builder::new().workers(1).build().unwrap();
    let (seen_by_main, seen_by_third) = rt.block_on(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let (tx_a, rx_a) = std::sync::mpsc::channel::<corio::task::Unparker>();
        let (tx_b, rx_b) = std::sync::mpsc::channel::<corio::task::Unparker>();
        let partner = |rx: std::sync::mpsc::Receiver<corio::task::Unparker>| loop {
            match rx.try_recv() {
                Ok(u) => break u,
                Err(_) => corio::yield_now(),
            }
        };
        let a = {
            let (stop, rounds) = (stop.clone(), rounds.clone());
            corio::spawn(move || {
                tx_a.send(corio::task::current().unparker()).unwrap();
                let b = partner(rx_b);
                while !stop.load(Ordering::SeqCst) && rounds.load(Ordering::SeqCst) < LIMIT {
                    rounds.fetch_add(1, Ordering::SeqCst);
                    b.unpark(); // b goes to the LIFO slot
                    corio::task::park();
                }
                stop.store(true, Ordering::SeqCst);
                b.unpark();
            })
        };
        let b = {
            let stop = stop.clone();
            corio::spawn(move || {
                tx_b.send(corio::task::current().unparker()).unwrap();
                let a = partner(rx_a);
                while !stop.load(Ordering::SeqCst) {
                    a.unpark();
                    corio::task::park();
                }
                a.unpark();
            })
        };
        while rounds.load(Ordering::SeqCst) < 1000 {
            corio::yield_now();
        }
        let seen_by_main = rounds.load(Ordering::SeqCst);
        let third = {
            let (stop, rounds) = (stop.clone(), rounds.clone());
            corio::spawn(move || {
                let seen = rounds.load(Ordering::SeqCst);
                stop.store(true, Ordering::SeqCst);
                seen
            })
        };
        let seen_by_third = third.join().unwrap();
        a.join().unwrap();
        b.join().unwrap();
        (seen_by_main, seen_by_third)
    });
    assert!(seen_by_main < LIMIT, "the main coroutine starved");
    assert!(seen_by_third < LIMIT, "a new coroutine starved");
}
