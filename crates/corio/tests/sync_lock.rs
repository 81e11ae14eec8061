//! Locks and friends: exact counts under contention, fairness, timeouts, rounds, and
//! coroutines and threads sharing them.

mod util;
use util::watchdog;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use corio::sync::{Barrier, Condvar, Mutex, Once, OnceCell, RwLock, Semaphore, WaitGroup};

#[test]
fn million_contended_increments_give_exact_count() {
    const TASKS: u64 = 100;
    const PER: u64 = 10_000;
    let (n, secs) = watchdog(Duration::from_secs(30), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        rt.block_on(|| {
            let m = Arc::new(Mutex::new(0u64));
            let t = Instant::now();
            let hs: Vec<_> = (0..TASKS)
                .map(|i| {
                    let m = m.clone();
                    corio::spawn(move || {
                        for j in 0..PER {
                            *m.lock() += 1;
                            if (i + j) % 64 == 0 {
                                corio::yield_now(); // mix in suspensions outside the lock
                            }
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            let n = *m.lock();
            (n, t.elapsed().as_secs_f64())
        })
    });
    assert_eq!(n, TASKS * PER);
    println!(
        "mutex: {n} contended increments, 2 workers, in {secs:.3} s = {:.1} M/s",
        n as f64 / secs / 1e6
    );
}

#[test]
fn mutex_held_across_suspension_excludes_others() {
    corio::run(|| {
        let m = Arc::new(Mutex::new(Vec::new()));
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let m = m.clone();
                corio::spawn(move || {
                    let mut g = m.lock();
                    g.push(i);
                    corio::time::sleep(Duration::from_millis(1)); // parks holding the lock
                    g.push(i);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let v = m.lock();
        assert!(v.chunks(2).all(|p| p[0] == p[1]), "interleaved: {v:?}");
    });
}

#[test]
fn mutex_waiter_does_not_starve() {
    // Two hot coroutines on two workers hammer the lock; a third must still get it promptly.
    watchdog(Duration::from_secs(20), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        rt.block_on(|| {
            let m = Arc::new(Mutex::new(0u64));
            let stop = Arc::new(AtomicBool::new(false));
            let hot: Vec<_> = (0..2)
                .map(|_| {
                    let (m, stop) = (m.clone(), stop.clone());
                    corio::spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            let mut g = m.lock();
                            *g += 1;
                            let t = Instant::now();
                            while t.elapsed() < Duration::from_micros(20) {}
                            drop(g);
                            corio::yield_now();
                        }
                    })
                })
                .collect();
            corio::time::sleep(Duration::from_millis(5));
            let mut worst = Duration::ZERO;
            for _ in 0..50 {
                let t = Instant::now();
                drop(m.lock());
                worst = worst.max(t.elapsed());
            }
            stop.store(true, Ordering::Relaxed);
            hot.into_iter().for_each(|h| h.join().unwrap());
            assert!(worst < Duration::from_millis(200), "starved for {worst:?}");
        })
    });
}

#[test]
fn mutex_shared_by_threads_and_coroutines() {
    watchdog(Duration::from_secs(20), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        let m = Arc::new(Mutex::new(0u64));
        let handle = rt.handle();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                let h = rt.handle();
                thread::spawn(move || {
                    let _h = h;
                    for _ in 0..50_000 {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        let m2 = m.clone();
        rt.block_on(move || {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let m = m2.clone();
                    corio::spawn(move || {
                        for _ in 0..25_000 {
                            *m.lock() += 1;
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
        });
        threads.into_iter().for_each(|t| t.join().unwrap());
        drop(handle);
        assert_eq!(*m.lock(), 200_000);
    });
}

#[test]
fn cancelled_mutex_waiter_does_not_strand_the_lock() {
    corio::run(|| {
        let m = Arc::new(Mutex::new(()));
        let g = m.lock();
        let m2 = m.clone();
        let waiter = corio::spawn(move || drop(m2.lock()));
        corio::time::sleep(Duration::from_millis(5));
        waiter.cancel();
        assert!(waiter.join().is_err());
        drop(g);
        let m3 = m.clone();
        corio::spawn(move || drop(m3.lock())).join().unwrap();
        assert!(!m.is_locked());
    });
}

#[test]
fn rwlock_readers_share_writers_exclude() {
    corio::run(|| {
        let l = Arc::new(RwLock::new(0u64));
        let readers_in = Arc::new(AtomicUsize::new(0));
        let max_readers = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let (l, r_in, max_r) = (l.clone(), readers_in.clone(), max_readers.clone());
                corio::spawn(move || {
                    for _ in 0..200 {
                        if i % 4 == 0 {
                            let mut w = l.write();
                            assert_eq!(r_in.load(Ordering::SeqCst), 0);
                            *w += 1;
                            corio::yield_now();
                        } else {
                            let _r = l.read();
                            let n = r_in.fetch_add(1, Ordering::SeqCst) + 1;
                            max_r.fetch_max(n, Ordering::SeqCst);
                            corio::yield_now();
                            r_in.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*l.read(), 4 * 200);
        assert!(
            max_readers.load(Ordering::SeqCst) > 1,
            "readers never overlapped"
        );
    });
}

#[test]
fn condvar_wakes_waiters_and_times_out() {
    corio::run(|| {
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let (m, cv) = &*pair;
        let (g, r) = cv.wait_timeout(m.lock(), Duration::from_millis(10));
        assert!(r.timed_out());
        drop(g);
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let p = pair.clone();
                corio::spawn(move || {
                    let g = p.1.wait_while(p.0.lock(), |n| *n == 0);
                    *g
                })
            })
            .collect();
        corio::time::sleep(Duration::from_millis(5));
        *m.lock() = 5;
        cv.notify_all();
        for h in hs {
            assert_eq!(h.join().unwrap(), 5);
        }
    });
}

#[test]
fn semaphore_bounds_concurrency_and_serves_in_order() {
    corio::run(|| {
        let sem = Arc::new(Semaphore::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..20)
            .map(|_| {
                let (sem, inside) = (sem.clone(), inside.clone());
                corio::spawn(move || {
                    let _p = sem.acquire();
                    assert!(inside.fetch_add(1, Ordering::SeqCst) < 3);
                    corio::time::sleep(Duration::from_millis(1));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(sem.available_permits(), 3);
        // A big request at the front is not overtaken by small ones.
        let all = sem.acquire_many(3);
        assert!(sem
            .acquire_many_timeout(2, Duration::from_millis(5))
            .is_none());
        drop(all);
        assert!(sem.try_acquire_many(3).is_some());
    });
}

#[test]
fn waitgroup_rounds() {
    corio::run(|| {
        let wg = Arc::new(WaitGroup::new());
        let done = Arc::new(AtomicUsize::new(0));
        for round in 1..=5 {
            for _ in 0..100 {
                wg.add(1);
                let (wg, done) = (wg.clone(), done.clone());
                corio::spawn(move || {
                    corio::yield_now();
                    done.fetch_add(1, Ordering::SeqCst);
                    wg.done();
                });
            }
            wg.wait();
            assert_eq!(done.load(Ordering::SeqCst), round * 100);
        }
        wg.add(1);
        assert!(!wg.wait_timeout(Duration::from_millis(5)));
        wg.done();
        assert!(wg.wait_timeout(Duration::from_millis(5)));
    });
}

#[test]
#[should_panic(expected = "negative counter")]
fn waitgroup_negative_counter_panics() {
    WaitGroup::new().done();
}

#[test]
fn barrier_rounds_have_one_leader_each() {
    corio::run(|| {
        const N: usize = 10;
        const ROUNDS: usize = 50;
        let b = Arc::new(Barrier::new(N));
        let leaders = Arc::new(AtomicUsize::new(0));
        let phase = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let (b, leaders, phase) = (b.clone(), leaders.clone(), phase.clone());
                corio::spawn(move || {
                    for r in 0..ROUNDS {
                        phase.fetch_add(1, Ordering::SeqCst);
                        if b.wait().is_leader() {
                            leaders.fetch_add(1, Ordering::SeqCst);
                        }
                        // Everyone of round r arrived before anyone passed.
                        assert!(phase.load(Ordering::SeqCst) >= (r + 1) * N);
                        b.wait();
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(leaders.load(Ordering::SeqCst), ROUNDS);
    });
}

#[test]
fn oncecell_initialiser_runs_once_even_when_it_suspends() {
    corio::run(|| {
        let cell = Arc::new(OnceCell::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let (cell, runs) = (cell.clone(), runs.clone());
                corio::spawn(move || {
                    *cell.get_or_init(|| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        corio::time::sleep(Duration::from_millis(5));
                        i
                    })
                })
            })
            .collect();
        let vals: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(vals.iter().all(|&v| v == vals[0]));
        assert_eq!(cell.set(99), Err(99));
    });
}

#[test]
fn oncecell_retries_after_a_panicking_initialiser() {
    corio::run(|| {
        let cell = Arc::new(OnceCell::new());
        let c = cell.clone();
        let h = corio::spawn(move || {
            c.get_or_init(|| -> u32 {
                corio::time::sleep(Duration::from_millis(5));
                panic!("init failed")
            });
        });
        corio::time::sleep(Duration::from_millis(1));
        let c = cell.clone();
        let waiter = corio::spawn(move || *c.get_or_init(|| 7));
        assert!(h.join().is_err());
        assert_eq!(waiter.join().unwrap(), 7);
        let once = Once::new();
        once.call_once(|| {});
        assert!(once.is_completed());
    });
}
