//! `#[corio::test]` used on itself: each test runs on its own runtime, panics (its own or a
//! joined coroutine's) fail the test, `workers = N` sizes the runtime, results are reported.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[corio::test]
fn the_body_runs_in_a_coroutine() {
    assert!(corio::task::try_current().is_some());
    corio::time::sleep(Duration::from_millis(1));
    let h = corio::spawn(|| 6 * 7);
    assert_eq!(h.join().unwrap(), 42);
}

// `join()` hands back the payload as `Box<dyn Any>`, so `unwrap` panics with its own message.
#[corio::test]
#[should_panic]
fn a_joined_coroutines_panic_fails_the_test() {
    let h = corio::spawn(|| panic!("boom in a joined coroutine"));
    h.join().unwrap();
}

#[corio::test]
#[should_panic(expected = "boom in the body")]
fn a_panic_in_the_body_fails_the_test() {
    corio::yield_now();
    panic!("boom in the body");
}

#[corio::test]
fn a_result_can_be_returned() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = "17".parse()?;
    assert_eq!(n, 17);
    Ok(())
}

#[corio::test]
#[ignore = "shows that #[ignore] passes through"]
fn ignored() {
    unreachable!("an ignored test does not run");
}

/// Two coroutines that each block their thread until the other has run prove the runtime
/// has (at least) two workers: on one worker the first would wait for ever.
#[corio::test(workers = 2)]
fn workers_sets_the_worker_count() {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let waiter = corio::spawn(move || {
        // Blocks its worker on purpose; gives up after a minute instead of hanging.
        let give_up = Instant::now() + Duration::from_secs(60);
        while !f.load(Ordering::Acquire) && Instant::now() < give_up {
            std::thread::yield_now();
        }
        f.load(Ordering::Acquire)
    });
    let setter = corio::spawn(move || flag.store(true, Ordering::Release));
    setter.join().unwrap();
    assert!(
        waiter.join().unwrap(),
        "the second worker never ran the setter"
    );
}

/// With one worker every coroutine runs on the same thread.
#[corio::test(workers = 1)]
fn one_worker_means_one_thread() {
    let here = std::thread::current().id();
    let hs: Vec<_> = (0..20)
        .map(|_| corio::spawn(|| std::thread::current().id()))
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), here);
    }
}
