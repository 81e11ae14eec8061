//! Plain OS threads: the no-runtime baseline for the channel and mutex rows.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::thread;

use crate::infra::timing::Config;
use crate::measure::workload as w;
use crate::row::{Outcome, Sample};

/// `mpmc`: 8 producer and 8 consumer threads on one `crossbeam_channel::bounded(1024)`.
pub fn mpmc(config: &Config) -> Outcome {
    let per_sec = w::per_second(config, config.ops(w::MPMC_MSGS), |ops| {
        let (tx, rx) = crossbeam_channel::bounded::<u64>(w::MPMC_CAPACITY);
        let each = ops / w::MPMC_SIDES;
        let producers: Vec<_> = (0..w::MPMC_SIDES)
            .map(|_| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..each {
                        tx.send(i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..w::MPMC_SIDES)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || rx.iter().map(black_box).count() as u64)
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let got: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(got, each * w::MPMC_SIDES);
    });
    Ok(Sample::new(per_sec).note("threads: crossbeam-channel bounded(1024), 16 OS threads"))
}

/// `mutex`: 8 threads incrementing one counter under `std::sync::Mutex`.
pub fn mutex(config: &Config) -> Outcome {
    let per_sec = w::per_second(config, config.ops(w::MUTEX_OPS), |ops| {
        let counter = Arc::new(Mutex::new(0u64));
        let each = ops / w::MUTEX_TASKS;
        let handles: Vec<_> = (0..w::MUTEX_TASKS)
            .map(|_| {
                let c = counter.clone();
                thread::spawn(move || {
                    for _ in 0..each {
                        *c.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*counter.lock().unwrap(), each * w::MUTEX_TASKS);
    });
    Ok(Sample::new(per_sec))
}
