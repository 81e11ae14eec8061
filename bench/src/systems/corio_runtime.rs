//! corio, the runtime (`crates/corio`): the runtime rows' corio workloads.
//!
//! The network rows run corio's own examples instead (see [`crate::infra::corio_examples`]).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corio::sync::channel;
use corio::task::Unparker;

use crate::infra::mem;
use crate::infra::timing::{time_per_op, Config};
use crate::measure::workload::{self as w, LiveCounter};
use crate::row::{Outcome, Sample};

/// A corio runtime with `workers` workers.
fn runtime(workers: usize) -> Result<corio::Runtime, String> {
    corio::Builder::new()
        .workers(workers)
        .build()
        .map_err(|e| format!("cannot start corio: {e}"))
}

/// `yield`: two coroutines on one worker, each yielding half the time; ns per yield.
pub fn yield_(config: &Config) -> Outcome {
    let rt = runtime(1)?;
    let ns = time_per_op(config, config.ops(w::YIELD_OPS), |ops| {
        rt.block_on(move || {
            let half = || {
                corio::spawn(move || {
                    for _ in 0..ops / 2 {
                        corio::yield_now();
                    }
                })
            };
            let (a, b) = (half(), half());
            a.join().unwrap();
            b.join().unwrap();
        })
    });
    Ok(Sample::new(ns))
}

/// `spawn`: from the main coroutine, spawn batches of 1k and join each; ns per task.
pub fn spawn(config: &Config) -> Outcome {
    let rt = runtime(w::WORKERS)?;
    let ns = time_per_op(config, config.ops(w::SPAWN_OPS), |ops| {
        rt.block_on(move || {
            let mut left = ops;
            let mut handles = Vec::with_capacity(w::SPAWN_BATCH as usize);
            while left > 0 {
                let n = left.min(w::SPAWN_BATCH);
                handles.extend((0..n).map(|i| corio::spawn(move || black_box(i))));
                for h in handles.drain(..) {
                    black_box(h.join().unwrap());
                }
                left -= n;
            }
        })
    });
    Ok(Sample::new(ns))
}

/// `sleep-wakeups` and `sleep-wakeups-cpu`: wall and CPU milliseconds of one run.
pub fn sleep_wakeups(config: &Config) -> Result<(Sample, Sample), String> {
    let rt = runtime(w::WORKERS)?;
    let tasks = config.ops(w::SLEEP_TASKS);
    let mut notes = Vec::new();
    let in_use = mem::map_count().map_err(|e| e.to_string())?;
    let _raise = w::room_for_stacks("corio", tasks as usize, in_use, &mut notes)?;
    let (mut wall, cpu) = w::split_wall_cpu(w::wall_and_cpu(config, || {
        rt.block_on(move || {
            let handles: Vec<_> = (0..tasks)
                .map(|_| corio::spawn(|| corio::time::sleep(w::SLEEP)))
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        })
    }))?;
    wall.notes.extend(notes);
    Ok((wall, cpu))
}

/// Where parked coroutines wait until released: each registers its [`Unparker`].
#[derive(Default)]
struct Gate {
    unparkers: Mutex<Vec<Unparker>>,
    released: AtomicBool,
}

impl Gate {
    /// Parks the current coroutine until [`Gate::release`].
    fn wait(&self) {
        self.unparkers
            .lock()
            .unwrap()
            .push(corio::task::current().unparker());
        while !self.released.load(Ordering::Acquire) {
            corio::task::park();
        }
    }

    /// Wakes every coroutine waiting (or about to wait) here.
    fn release(&self) {
        self.released.store(true, Ordering::Release);
        for u in self.unparkers.lock().unwrap().drain(..) {
            u.unpark();
        }
    }
}

/// `parked-memory-rt` (child process): resident bytes per coroutine parked on a [`Gate`],
/// JoinHandles kept.
pub fn parked_here(config: &Config) -> Outcome {
    let n = w::parked_tasks(config);
    let rt = runtime(w::WORKERS)?;
    let bytes = rt.block_on(move || {
        let before = mem::resident_bytes()?;
        let gate = Arc::new(Gate::default());
        let started = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (gate, started) = (gate.clone(), started.clone());
                corio::spawn(move || {
                    started.fetch_add(1, Ordering::Relaxed);
                    gate.wait();
                })
            })
            .collect();
        while started.load(Ordering::Relaxed) < n {
            corio::time::sleep(Duration::from_millis(1));
        }
        let after = mem::resident_bytes()?;
        gate.release();
        for h in handles {
            h.join()
                .map_err(|_| std::io::Error::other("a parked task failed"))?;
        }
        Ok::<_, std::io::Error>(w::bytes_per(before, after, n))
    });
    Ok(Sample::new(bytes.map_err(|e| e.to_string())?))
}

/// `max-live` (child process): park coroutines in batches of 1k until the cap or the first
/// spawn that fails; the figure is how many were live, and a failure is reported, not hung.
pub fn max_live_here(config: &Config) -> Outcome {
    let cap = w::max_live_cap(config);
    let rt = runtime(w::WORKERS)?;
    rt.block_on(move || {
        let live = LiveCounter::start();
        let gate = Arc::new(Gate::default());
        let mut handles = Vec::new();
        let mut failure = None;
        'spawning: while handles.len() < cap {
            let first = handles.len();
            for _ in 0..1_000 {
                let (gate, live) = (gate.clone(), live.clone());
                handles.push(corio::spawn(move || {
                    live.started();
                    gate.wait();
                }));
            }
            // Wait until the batch has started, or one of it has failed to.
            while live.get() < handles.len() {
                if let Some(h) = handles[first..].iter().position(|h| h.is_finished()) {
                    let h = handles.swap_remove(first + h);
                    failure = Some(match h.join() {
                        Err(e) => match e.try_into_panic() {
                            Ok(p) => crate::panic_message(p.as_ref()).to_owned(),
                            Err(e) => e.to_string(),
                        },
                        Ok(()) => "a parked task returned".to_owned(),
                    });
                    break 'spawning;
                }
                corio::time::sleep(Duration::from_millis(1));
            }
        }
        live.finish();
        let count = live.get();
        gate.release();
        // The failed batch's other spawns fail too: collect them quietly.
        for h in handles {
            let _ = h.join();
        }
        let mut sample = Sample::new(count as f64);
        match failure {
            Some(why) => {
                sample = sample.note(format!("corio: spawn #{} failed cleanly: {why}", count + 1))
            }
            None => sample = sample.note(format!("corio: reached the cap of {cap} live tasks")),
        }
        Ok(sample)
    })
}

/// Ping-pong over two `bounded(0)` (rendezvous) channels, from the main coroutine; ns per
/// round trip.
fn pingpong(config: &Config, workers: usize) -> Outcome {
    let rt = runtime(workers)?;
    let ns = time_per_op(config, config.ops(w::PINGPONG_OPS), |ops| {
        rt.block_on(move || {
            let (ping_tx, ping_rx) = channel::bounded::<u64>(0);
            let (pong_tx, pong_rx) = channel::bounded::<u64>(0);
            let echo = corio::spawn(move || {
                for v in ping_rx.iter() {
                    if pong_tx.send(v).is_err() {
                        break;
                    }
                }
            });
            for i in 0..ops {
                ping_tx.send(i).unwrap();
                black_box(pong_rx.recv().unwrap());
            }
            drop(ping_tx);
            echo.join().unwrap();
        })
    });
    Ok(Sample::new(ns).note("corio: ping-pong over bounded(0) rendezvous channels"))
}

/// `pingpong-1w`: ping-pong on one worker.
pub fn pingpong_1(config: &Config) -> Outcome {
    pingpong(config, 1)
}

/// `pingpong-2w`: ping-pong on two workers.
pub fn pingpong_2(config: &Config) -> Outcome {
    pingpong(config, 2)
}

/// `mpmc`: 8 producer and 8 consumer coroutines on one `bounded(1024)` channel; msg/s.
pub fn mpmc(config: &Config) -> Outcome {
    let rt = runtime(w::WORKERS)?;
    let per_sec = w::per_second(config, config.ops(w::MPMC_MSGS), |ops| {
        rt.block_on(move || {
            let (tx, rx) = channel::bounded::<u64>(w::MPMC_CAPACITY);
            let each = ops / w::MPMC_SIDES;
            let producers: Vec<_> = (0..w::MPMC_SIDES)
                .map(|_| {
                    let tx = tx.clone();
                    corio::spawn(move || {
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
                    corio::spawn(move || rx.iter().map(black_box).count() as u64)
                })
                .collect();
            for p in producers {
                p.join().unwrap();
            }
            let got: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
            assert_eq!(got, each * w::MPMC_SIDES);
        })
    });
    Ok(Sample::new(per_sec))
}

/// `mutex`: coroutines incrementing one counter under `corio::sync::Mutex`; increments/s.
pub fn mutex(config: &Config) -> Outcome {
    let rt = runtime(w::WORKERS)?;
    let per_sec = w::per_second(config, config.ops(w::MUTEX_OPS), |ops| {
        rt.block_on(move || {
            let counter = Arc::new(corio::sync::Mutex::new(0u64));
            let each = ops / w::MUTEX_TASKS;
            let handles: Vec<_> = (0..w::MUTEX_TASKS)
                .map(|_| {
                    let c = counter.clone();
                    corio::spawn(move || {
                        for _ in 0..each {
                            *c.lock() += 1;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(*counter.lock(), each * w::MUTEX_TASKS);
        })
    });
    Ok(Sample::new(per_sec))
}
