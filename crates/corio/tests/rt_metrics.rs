//! `Handle::metrics` counts what the program did.

mod util;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use corio::task::Unparker;

/// Polls `f` until it holds (the counters are read without stopping the workers).
fn eventually(mut f: impl FnMut() -> bool) {
    while !f() {
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn live_coroutines_are_the_parked_ones_spawned() {
    util::watchdog(Duration::from_secs(20), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        let h = rt.handle();
        assert_eq!(h.metrics().workers, 2);
        assert_eq!(h.metrics().live_coroutines, 0);
        let (tx, rx) = mpsc::channel::<Unparker>();
        let joins: Vec<_> = (0..10)
            .map(|_| {
                let tx = tx.clone();
                rt.spawn(move || {
                    tx.send(corio::task::current().unparker()).unwrap();
                    corio::task::park();
                })
            })
            .collect();
        let unparkers: Vec<Unparker> = (0..10).map(|_| rx.recv().unwrap()).collect();
        eventually(|| h.metrics().live_coroutines == 10);
        let m = h.metrics();
        assert_eq!(m.spawned, 10);
        assert_eq!(m.queued, 0);
        let per_worker: u64 = m.per_worker.iter().map(|w| w.live_coroutines).sum();
        assert_eq!(per_worker, 10);
        assert_eq!(m.per_worker.iter().map(|w| w.started).sum::<u64>(), 10);
        // The process's stacks (other tests of this binary may hold more at the same time).
        let st = m.stacks;
        assert!(st.stacks >= 10, "{st:?}");
        assert!(st.mappings >= 1, "{st:?}");
        assert!(st.reserved_bytes >= st.stacks * 4096, "{st:?}");
        assert!(st.cached <= st.stacks, "{st:?}");

        // Wakes from this (non-worker) thread are counted as remote wakes.
        let before: u64 = m.per_worker.iter().map(|w| w.remote_wakes).sum();
        for u in &unparkers {
            u.unpark();
        }
        for j in joins {
            j.join().unwrap();
        }
        let m = h.metrics();
        assert_eq!(m.live_coroutines, 0);
        let after: u64 = m.per_worker.iter().map(|w| w.remote_wakes).sum();
        // An unpark that lands before its coroutine has parked only leaves a token (the
        // coroutine is still running: nothing to schedule), so not every one is a wake.
        assert!(after > before, "remote wakes {before} -> {after}");
        // Each coroutine was resumed twice and finished once.
        let points: u64 = m.per_worker.iter().map(|w| w.scheduling_points).sum();
        assert!(points >= 30, "scheduling points {points}");
    });
}

#[test]
fn spawns_from_coroutines_and_blocking_threads_are_counted() {
    util::watchdog(Duration::from_secs(20), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        let h = rt.handle();
        rt.block_on(|| {
            let hs: Vec<_> = (0..100).map(|i| corio::spawn(move || i)).collect();
            for h in hs {
                h.join().unwrap();
            }
            corio::spawn_blocking(|| ()).join().unwrap();
        });
        let m = h.metrics();
        // `block_on`'s main task, and the 100 it spawned (not the blocking job).
        assert_eq!(m.spawned, 101);
        assert_eq!(m.live_coroutines, 0);
        assert_eq!(m.per_worker.iter().map(|w| w.started).sum::<u64>(), 101);
        assert_eq!(m.blocking_threads, 1);
        assert_eq!(m.start_failures, 0);
        // With nothing to do, each worker goes to sleep.
        eventually(|| h.metrics().per_worker.iter().all(|w| w.parks > 0));
    });
}

#[test]
fn reactor_polls_are_counted() {
    util::watchdog(Duration::from_secs(20), || {
        let rt = corio::Builder::new().workers(1).build().unwrap();
        let h = rt.handle();
        let before = h.metrics().reactor_polls;
        rt.block_on(|| {
            let l = corio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let c = corio::spawn(move || corio::net::TcpStream::connect(addr).unwrap());
            let _s = l.accept().unwrap();
            c.join().unwrap();
        });
        assert!(h.metrics().reactor_polls > before);
    });
}
