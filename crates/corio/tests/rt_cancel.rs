//! Cancellation: unwinding at the next suspension point, racing completion.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Guard(Arc<AtomicUsize>);
impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn cancel_parked_runs_destructors() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    rt.block_on(move || {
        let h = corio::spawn(move || {
            let _g = Guard(d);
            corio::time::sleep(Duration::from_secs(3600));
            unreachable!();
        });
        corio::time::sleep(Duration::from_millis(5));
        h.cancel();
        let err = h.join().unwrap_err();
        assert!(err.is_cancelled());
    });
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn cancel_before_start_drops_closure() {
    let rt = corio::Builder::new().workers(1).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    rt.block_on(move || {
        let g = Guard(d);
        let h = corio::spawn(move || {
            let _g = g;
            panic!("must not run");
        });
        h.cancel(); // single worker, we have not suspended: it cannot have started
        assert!(h.join().unwrap_err().is_cancelled());
    });
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn cancel_running_unwinds_at_next_suspension() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    let steps = Arc::new(AtomicUsize::new(0));
    let s = steps.clone();
    rt.block_on(move || {
        let h = corio::spawn(move || loop {
            s.fetch_add(1, Ordering::SeqCst);
            corio::yield_now();
        });
        while steps.load(Ordering::SeqCst) < 10 {
            corio::yield_now();
        }
        h.cancel();
        assert!(h.join().unwrap_err().is_cancelled());
        let after = steps.load(Ordering::SeqCst);
        corio::time::sleep(Duration::from_millis(5));
        assert_eq!(
            steps.load(Ordering::SeqCst),
            after,
            "still running after cancel"
        );
    });
}

#[test]
fn cancel_after_completion_is_harmless() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let h = corio::spawn(|| 9);
        while !h.is_finished() {
            corio::yield_now();
        }
        h.cancel();
        h.cancel();
        assert_eq!(h.join().unwrap(), 9);
    });
}

/// Each task either completes (join gives its value, its body ran to the end) or is
/// cancelled (join says so, its body did not finish), never both, never neither.
#[test]
fn cancel_racing_completion() {
    const N: usize = 100_000;
    let rt = corio::Builder::new().workers(2).build().unwrap();
    let (done, cancelled) = rt.block_on(|| {
        let finished = Arc::new(AtomicUsize::new(0));
        let mut completed = 0;
        let mut cancelled = 0;
        for batch in 0..(N / 1000) {
            let hs: Vec<_> = (0..1000)
                .map(|i| {
                    let f = finished.clone();
                    corio::spawn(move || {
                        if (i + batch) % 2 == 0 {
                            corio::yield_now();
                        }
                        f.fetch_add(1, Ordering::SeqCst);
                        i
                    })
                })
                .collect();
            if batch % 2 == 0 {
                corio::yield_now(); // let some start
            }
            for h in &hs {
                h.cancel();
            }
            for (i, h) in hs.into_iter().enumerate() {
                match h.join() {
                    Ok(v) => {
                        assert_eq!(v, i);
                        completed += 1;
                    }
                    Err(e) => {
                        assert!(e.is_cancelled());
                        cancelled += 1;
                    }
                }
            }
        }
        assert_eq!(
            finished.load(Ordering::SeqCst),
            completed,
            "ran to the end iff Ok"
        );
        (completed, cancelled)
    });
    assert_eq!(done + cancelled, N);
    assert!(
        cancelled > 0,
        "no cancellation won: the test would prove nothing"
    );
}
