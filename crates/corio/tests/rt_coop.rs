//! The cooperative budget: a loop over runtime operations that never block lets the other
//! coroutines of its worker run.

mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corio::sync::channel;

/// On one worker, a coroutine that receives 100k messages from a full channel (never
/// waiting) lets a runnable neighbour run in the middle of its loop.
#[test]
fn a_loop_over_ready_receives_lets_its_neighbour_run() {
    util::watchdog(Duration::from_secs(30), || {
        let rt = corio::Builder::new().workers(1).build().unwrap();
        rt.block_on(|| {
            let (tx, rx) = channel::unbounded::<u32>();
            for i in 0..100_000 {
                tx.send(i).unwrap();
            }
            let runs = Arc::new(AtomicUsize::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let (r, s) = (runs.clone(), stop.clone());
            let neighbour = corio::spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    r.fetch_add(1, Ordering::Relaxed);
                    corio::yield_now();
                }
            });
            while runs.load(Ordering::Relaxed) == 0 {
                corio::yield_now(); // the neighbour is started and runnable
            }
            let r = runs.clone();
            let consumer = corio::spawn(move || {
                let before = r.load(Ordering::Relaxed);
                for _ in 0..100_000 {
                    rx.recv().unwrap();
                }
                r.load(Ordering::Relaxed) - before
            });
            let during = consumer.join().unwrap();
            stop.store(true, Ordering::Relaxed);
            neighbour.join().unwrap();
            // 100k operations at a budget of 128 leave room for hundreds of neighbour runs.
            assert!(
                during > 100,
                "the neighbour ran {during} times during the loop"
            );
        });
    });
}

/// Alone on its worker, the same loop does not suspend: the budget starts over instead.
#[test]
fn a_loop_alone_on_its_worker_does_not_yield() {
    util::watchdog(Duration::from_secs(30), || {
        let rt = corio::Builder::new()
            .workers(1)
            .stall_threshold(None)
            .build()
            .unwrap();
        let h = rt.handle();
        let points = move || h.metrics().per_worker[0].scheduling_points;
        rt.block_on(move || {
            let (tx, rx) = channel::unbounded::<u32>();
            for i in 0..10_000 {
                tx.send(i).unwrap();
            }
            let before = points();
            for _ in 0..10_000 {
                rx.recv().unwrap();
            }
            assert_eq!(points(), before, "the loop suspended");
        });
    });
}
