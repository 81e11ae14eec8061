//! The blocking pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn blocking_jobs_do_not_block_workers() {
    let rt = corio::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        let main_thread = thread::current().id();
        let job = corio::spawn_blocking(move || {
            assert_ne!(thread::current().id(), main_thread);
            thread::sleep(Duration::from_millis(30));
            1
        });
        // The only worker keeps running coroutines meanwhile.
        let ticks = corio::spawn(|| {
            let mut n = 0;
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(20) {
                corio::yield_now();
                n += 1;
            }
            n
        });
        assert!(ticks.join().unwrap() > 0);
        assert_eq!(job.join().unwrap(), 1);
    });
}

#[test]
fn pool_is_bounded_and_panics_are_reported() {
    let rt = corio::Builder::new()
        .workers(1)
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (running.clone(), peak.clone());
    rt.block_on(move || {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let (r, p) = (r.clone(), p.clone());
                corio::spawn_blocking(move || {
                    let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(now, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(5));
                    r.fetch_sub(1, Ordering::SeqCst);
                    if i == 3 {
                        panic!("job 3");
                    }
                    i
                })
            })
            .collect();
        for (i, h) in hs.into_iter().enumerate() {
            match h.join() {
                Ok(v) => assert_eq!(v, i),
                Err(e) => {
                    assert_eq!(i, 3);
                    assert_eq!(*e.into_panic().downcast::<&str>().unwrap(), "job 3");
                }
            }
        }
    });
    assert!(peak.load(Ordering::SeqCst) <= 2);
}

#[test]
fn spawn_from_a_blocking_job() {
    let rt = corio::Builder::new().workers(1).build().unwrap();
    let v = rt.block_on(|| {
        corio::spawn_blocking(|| corio::spawn(|| 3).join().unwrap() * 2)
            .join()
            .unwrap()
    });
    assert_eq!(v, 6);
}
