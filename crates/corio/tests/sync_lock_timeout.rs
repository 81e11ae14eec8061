//! Timed lock acquisition: `Mutex::try_lock_for`, `RwLock::try_read_for`/`try_write_for`,
//! `Semaphore::acquire_timeout`. A waiter that gives up never strands the others.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corio::sync::{channel, Mutex, RwLock, Semaphore};
use util::watchdog;

const LIMIT: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(5);
const LONG: Duration = Duration::from_secs(3600);

fn rt(workers: usize) -> corio::Runtime {
    corio::Builder::new().workers(workers).build().unwrap()
}

#[test]
fn mutex_try_lock_for_gives_up_and_strands_nobody() {
    watchdog(LIMIT, || {
        rt(2).block_on(|| {
            let m = Arc::new(Mutex::new(0u32));
            let held = m.lock();
            let (m1, m2) = (m.clone(), m.clone());
            let patient = corio::spawn(move || *m1.lock() += 1);
            let impatient = corio::spawn(move || m2.try_lock_for(SHORT).is_none());
            assert!(
                impatient.join().unwrap(),
                "timed out while the lock was held"
            );
            drop(held);
            patient.join().unwrap();
            assert_eq!(*m.try_lock_for(LONG).unwrap(), 1);
        });
        // On a plain thread too.
        let m = Arc::new(Mutex::new(()));
        let g = m.lock();
        assert!(m.try_lock_for(SHORT).is_none());
        drop(g);
        assert!(m.try_lock_for(SHORT).is_some());
    });
}

#[test]
fn mutex_mixed_timed_and_plain_waiters_all_finish() {
    watchdog(LIMIT, || {
        rt(2).block_on(|| {
            let m = Arc::new(Mutex::new(0usize));
            let timed_ok = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..64)
                .map(|i| {
                    let (m, timed_ok) = (m.clone(), timed_ok.clone());
                    corio::spawn(move || {
                        for j in 0..200 {
                            if (i + j) % 2 == 0 {
                                let mut g = m.lock();
                                *g += 1;
                                corio::yield_now(); // hold it across a suspension
                            } else if let Some(mut g) = m.try_lock_for(Duration::from_micros(50)) {
                                *g += 1;
                                timed_ok.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            assert_eq!(*m.lock(), 64 * 100 + timed_ok.load(Ordering::Relaxed));
        })
    });
}

#[test]
fn rwlock_timed_writer_lets_the_readers_behind_it_in() {
    watchdog(LIMIT, || {
        rt(2).block_on(|| {
            let l = Arc::new(RwLock::new(0u32));
            let first = l.read();
            let l2 = l.clone();
            let writer =
                corio::spawn(move || l2.try_write_for(Duration::from_millis(20)).is_none());
            corio::time::sleep(Duration::from_millis(2)); // the writer queues
                                                          // A reader queues behind the writer; once the writer gives up it must get in
                                                          // while `first` is still held.
            let (tx, rx) = channel::bounded::<()>(0);
            let l3 = l.clone();
            let reader = corio::spawn(move || {
                let _r = l3.read();
                tx.send(()).unwrap();
            });
            rx.recv().unwrap();
            assert!(
                writer.join().unwrap(),
                "the writer timed out behind a reader"
            );
            reader.join().unwrap();
            drop(first);
            *l.try_write_for(SHORT).unwrap() += 1;
            assert_eq!(*l.try_read_for(SHORT).unwrap(), 1);
            let w = l.write();
            assert!(l.try_read_for(SHORT).is_none());
            drop(w);
        })
    });
}

#[test]
fn semaphore_acquire_timeout() {
    watchdog(LIMIT, || {
        rt(1).block_on(|| {
            let s = Semaphore::new(1);
            let p = s.acquire();
            assert!(s.acquire_timeout(SHORT).is_none());
            assert_eq!(s.available_permits(), 0);
            drop(p);
            let p = s.acquire_timeout(SHORT).unwrap();
            drop(p);
            assert_eq!(s.available_permits(), 1);
        })
    });
}
