//! Timers: sleep, deadlines, many sleepers, park timeouts.

use std::time::{Duration, Instant};

fn rt() -> corio::Runtime {
    corio::Builder::new().workers(2).build().unwrap()
}

#[test]
fn sleep_never_wakes_early() {
    rt().block_on(|| {
        for ms in [1u64, 2, 5, 17] {
            let t = Instant::now();
            corio::time::sleep(Duration::from_millis(ms));
            assert!(t.elapsed() >= Duration::from_millis(ms));
        }
        let deadline = Instant::now() + Duration::from_millis(3);
        corio::time::sleep_until(deadline);
        assert!(Instant::now() >= deadline);
        corio::time::sleep(Duration::ZERO);
        corio::time::sleep_until(Instant::now() - Duration::from_millis(1));
    });
}

#[test]
fn a_sleep_woken_by_stray_unparks_still_lasts_its_duration() {
    rt().block_on(|| {
        let (tx, rx) = corio::sync::channel::bounded(1);
        let sleeper = corio::spawn(move || {
            tx.send(corio::task::current().unparker()).unwrap();
            let t = Instant::now();
            corio::time::sleep(Duration::from_millis(30));
            t.elapsed()
        });
        let unparker = rx.recv().unwrap();
        for _ in 0..10 {
            unparker.unpark();
            corio::time::sleep(Duration::from_millis(1));
        }
        let slept = sleeper.join().unwrap();
        assert!(slept >= Duration::from_millis(30), "{slept:?}");
    });
}

#[test]
fn hundred_thousand_sleepers() {
    let start = Instant::now();
    let n = rt().block_on(|| {
        let hs: Vec<_> = (0..100_000)
            .map(|_| corio::spawn(|| corio::time::sleep(Duration::from_millis(1))))
            .collect();
        let n = hs.len();
        hs.into_iter().for_each(|h| h.join().unwrap());
        n
    });
    assert_eq!(n, 100_000);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn sleeps_overlap() {
    // 100 coroutines sleeping 50 ms each take about 50 ms, not 5 s.
    let t = Instant::now();
    rt().block_on(|| {
        let hs: Vec<_> = (0..100)
            .map(|_| corio::spawn(|| corio::time::sleep(Duration::from_millis(50))))
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[test]
fn park_timeout_times_out_or_wakes() {
    rt().block_on(|| {
        let t = Instant::now();
        assert!(corio::task::park_timeout(Duration::from_millis(5)));
        assert!(t.elapsed() >= Duration::from_millis(5));

        let me = corio::task::current().unparker();
        corio::spawn(move || me.unpark());
        // Woken well before the 10 s deadline (spurious returns are allowed, so loop on time).
        let t = Instant::now();
        let timed_out = corio::task::park_timeout(Duration::from_secs(10));
        assert!(!timed_out && t.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn sleep_outside_a_coroutine_blocks_the_thread() {
    let t = Instant::now();
    corio::time::sleep(Duration::from_millis(2));
    assert!(t.elapsed() >= Duration::from_millis(2));
}
