//! `debug::dump`: every live coroutine, its state and the frames where it waits.

mod util;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::debug::State;
use corio::sync::channel;

#[inline(never)]
fn waits_for_a_message(rx: channel::Receiver<u32>) -> u32 {
    rx.recv().unwrap_or(0)
}

#[inline(never)]
fn sleeps_a_while() -> u32 {
    corio::time::sleep(Duration::from_secs(3600));
    std::hint::black_box(1) // not a tail call: this frame stays on the stack
}

/// Polls `rt.dump()` until `f` holds for it.
fn dump_until(rt: &corio::Runtime, f: impl Fn(&corio::debug::Dump) -> bool) -> corio::debug::Dump {
    loop {
        let d = rt.dump();
        if f(&d) {
            return d;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn parked_coroutines_are_listed_with_state_and_own_frames() {
    util::watchdog(Duration::from_secs(60), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        let (tx, rx) = channel::unbounded::<u32>();
        let receiver = rt.spawn(move || waits_for_a_message(rx));
        let sleeper = corio::task::Builder::new().name("sleeper");
        let sleeper = {
            let _g = rt.enter();
            sleeper.spawn(sleeps_a_while)
        };
        let d = dump_until(&rt, |d| d.coroutines.len() == 2);
        let rid = receiver.id().as_u64();
        let r = d.get(rid).expect("the receiver is listed");
        assert_eq!(r.state, State::Parked("chan receive"), "{d}");
        assert!(
            r.frames.iter().any(|f| f.contains("waits_for_a_message")),
            "{d}"
        );
        let s = d
            .coroutines
            .iter()
            .find(|c| c.name.as_deref() == Some("sleeper"))
            .expect("the sleeper is listed");
        assert_eq!(s.state, State::Parked("sleep"), "{d}");
        assert!(s.frames.iter().any(|f| f.contains("sleeps_a_while")), "{d}");
        // Spawned here (`#[track_caller]` through `Builder::spawn` and `Runtime::spawn`).
        assert!(
            s.spawned_at.as_deref().unwrap().contains("debug_dump.rs"),
            "{d}"
        );
        assert!(
            r.spawned_at.as_deref().unwrap().contains("debug_dump.rs"),
            "{d}"
        );
        assert!(d.to_string().contains("created by spawn at "), "{d}");
        let text = d.to_string();
        assert!(
            text.contains(&format!("coroutine {} \"sleeper\" [sleep, worker ", s.id)),
            "{text}"
        );
        // The dump woke nothing: the receiver still waits, and gets its message.
        tx.send(7).unwrap();
        assert_eq!(receiver.join().unwrap(), 7);
        sleeper.cancel();
    });
}

#[test]
fn dump_works_while_another_worker_is_busy_and_from_a_coroutine() {
    util::watchdog(Duration::from_secs(60), || {
        let rt = corio::Builder::new()
            .workers(2)
            .stall_threshold(None)
            .build()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let hog = rt.spawn(move || {
            let start = Instant::now();
            while !s.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(30) {
                std::hint::spin_loop();
            }
        });
        let hog_id = hog.id().as_u64();
        // Wait until the hog runs.
        dump_until(&rt, |d| d.busy_workers.len() == 1);
        let d = rt.block_on(move || {
            let (_tx, rx) = channel::unbounded::<u32>();
            let parked = corio::spawn(move || waits_for_a_message(rx));
            corio::time::sleep(Duration::from_millis(10));
            let d = corio::debug::dump();
            parked.cancel();
            (d, parked.id().as_u64())
        });
        stop.store(true, Ordering::Relaxed);
        hog.join().unwrap();
        let (d, parked) = d;
        let hog = d.get(hog_id).expect("the busy worker's coroutine is named");
        assert_eq!(hog.state, State::Running, "{d}");
        let me = d
            .coroutines
            .iter()
            .find(|c| c.name.as_deref() == Some("main"))
            .expect("the dumping coroutine is listed");
        assert_eq!(me.state, State::Running, "{d}");
        assert_eq!(
            d.get(parked).unwrap().state,
            State::Parked("chan receive"),
            "{d}"
        );
    });
}
