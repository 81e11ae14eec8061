//! The deadlock report: a clear panic instead of a silent hang.

use std::time::Duration;

fn panic_message(r: std::thread::Result<()>) -> String {
    let e = r.expect_err("expected the deadlock report");
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn run_caught(workers: usize, f: impl FnOnce() + Send + 'static) -> std::thread::Result<()> {
    let rt = corio::Builder::new().workers(workers).build().unwrap();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(f)))
}

#[test]
fn main_parked_forever_is_reported() {
    for workers in [1, 2] {
        let msg = panic_message(run_caught(workers, corio::task::park));
        assert!(msg.contains("all coroutines are asleep"), "{msg}");
    }
}

#[test]
fn joining_a_stuck_task_is_reported_and_destructors_run() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let msg = panic_message(run_caught(2, move || {
        let _f = Flag(d);
        let stuck = corio::spawn(|| loop {
            corio::task::park();
        });
        let _ = stuck.join();
    }));
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(dropped.load(Ordering::SeqCst), "main coroutine unwound");
}

#[test]
fn pending_timers_and_blocking_jobs_are_not_deadlocks() {
    run_caught(2, || {
        corio::time::sleep(Duration::from_millis(30));
        corio::spawn_blocking(|| std::thread::sleep(Duration::from_millis(30)))
            .join()
            .unwrap();
        let me = corio::task::current().unparker();
        corio::spawn(move || {
            corio::time::sleep(Duration::from_millis(10));
            me.unpark();
        });
        corio::task::park();
    })
    .unwrap();
}

#[test]
fn foreign_future_wait_is_not_a_deadlock() {
    run_caught(1, || {
        let (tx, rx) = futures::channel::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            tx.send(()).unwrap();
        });
        corio::block_on(rx).unwrap();
    })
    .unwrap();
}

/// Regression: the check once met the next `block_on`'s main task queued but not yet
/// started (published just before it is injected) and marked it deadlocked, so a busy
/// runtime reused across `block_on` calls reported a deadlock now and then.
#[test]
fn a_reused_runtime_never_reports_a_false_deadlock() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    for _ in 0..20_000 {
        let sum = rt.block_on(|| {
            let handles: Vec<_> = (0..1000u64).map(|i| corio::spawn(move || i)).collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(sum, 499_500);
    }
}
