//! may 0.3: the other stackful-coroutine runtime for Rust.
//!
//! may's scheduler is a process-wide singleton whose worker count is read once, at first use,
//! so every may workload runs in a child process of its own (`child may-*`, see
//! [`crate::infra::hidden`]): the `*_here` functions run there, the others start them. That also
//! keeps may's known hang (its panic hook, after a spawn fails at the mapping limit) out of
//! the bench process.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use may::coroutine::JoinHandle;
use may_minihttp::{HttpServer, HttpService, Request, Response};

use crate::infra::hidden::in_child;
use crate::infra::mem;
use crate::infra::timing::{time_per_op, Config};
use crate::measure::workload::{self as w, LiveCounter};
use crate::row::{Outcome, Sample};

/// Time allowed to a may child that measures (not `max-live`, which has its own limits).
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `child may-NAME` and returns its figure.
fn child(name: &str, config: &Config) -> Outcome {
    in_child(name, config, CHILD_TIMEOUT)?.sample()
}

/// Spawns a may coroutine.
fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: may makes `spawn` unsafe because a coroutine that uses thread-local storage or
    // blocks its thread misbehaves; the bench's coroutines do neither (they only touch
    // atomics, may's own channels, locks and sockets, and stdout).
    unsafe { may::coroutine::spawn(f) }
}

/// Sets may's worker count; must come before anything else touches may in this process.
fn workers(n: usize) {
    may::config().set_workers(n);
}

/// `yield` (parent side).
pub fn yield_(config: &Config) -> Outcome {
    child("may-yield", config)
}

/// `yield` (child): two coroutines on one worker, each yielding half the time.
pub fn yield_here(config: &Config) -> Outcome {
    workers(1);
    let ns = time_per_op(config, config.ops(w::YIELD_OPS), |ops| {
        let half = || {
            go(move || {
                for _ in 0..ops / 2 {
                    may::coroutine::yield_now();
                }
            })
        };
        let (a, b) = (half(), half());
        a.join().unwrap();
        b.join().unwrap();
    });
    Ok(Sample::new(ns))
}

/// `spawn` (parent side).
pub fn spawn(config: &Config) -> Outcome {
    child("may-spawn", config)
}

/// `spawn` (child): from a coroutine, spawn batches of 1k and join each.
pub fn spawn_here(config: &Config) -> Outcome {
    workers(w::WORKERS);
    let ns = time_per_op(config, config.ops(w::SPAWN_OPS), |ops| {
        go(move || {
            let mut left = ops;
            let mut handles = Vec::with_capacity(w::SPAWN_BATCH as usize);
            while left > 0 {
                let n = left.min(w::SPAWN_BATCH);
                handles.extend((0..n).map(|i| go(move || black_box(i))));
                for h in handles.drain(..) {
                    black_box(h.join().unwrap());
                }
                left -= n;
            }
        })
        .join()
        .unwrap();
    });
    Ok(Sample::new(ns))
}

/// `sleep-wakeups` and `sleep-wakeups-cpu` (parent side).
pub fn sleep_wakeups(config: &Config) -> Result<(Sample, Sample), String> {
    let mut notes = Vec::new();
    let tasks = config.ops(w::SLEEP_TASKS) as usize;
    let _raise = w::room_for_stacks("may", tasks, w::CHILD_MAPPINGS, &mut notes)?;
    let finished = in_child("may-sleep", config, CHILD_TIMEOUT)?;
    let (mut wall, cpu) = w::wall_cpu_from_pairs(&finished.result()?)?;
    wall.notes = notes;
    Ok((wall, cpu))
}

/// `sleep-wakeups` (child): coroutines that each sleep 1 ms, from a coroutine.
pub fn sleep_here(config: &Config) -> Outcome {
    workers(w::WORKERS);
    let tasks = config.ops(w::SLEEP_TASKS);
    Ok(w::wall_and_cpu(config, || {
        go(move || {
            let handles: Vec<_> = (0..tasks)
                .map(|_| go(|| may::coroutine::sleep(w::SLEEP)))
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        })
        .join()
        .unwrap();
    }))
}

/// `parked-memory-rt` (child): resident bytes per coroutine parked until unparked through
/// its JoinHandle.
pub fn parked_here(config: &Config) -> Outcome {
    workers(w::WORKERS);
    let n = w::parked_tasks(config);
    go(|| ()).join().unwrap(); // start the scheduler before the baseline
    let before = mem::resident_bytes().map_err(|e| e.to_string())?;
    let released = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (released, started) = (released.clone(), started.clone());
            go(move || {
                started.fetch_add(1, Ordering::Relaxed);
                while !released.load(Ordering::Acquire) {
                    may::coroutine::park();
                }
            })
        })
        .collect();
    while started.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    let after = mem::resident_bytes().map_err(|e| e.to_string())?;
    released.store(true, Ordering::Release);
    for h in &handles {
        h.coroutine().unpark();
    }
    for h in handles {
        h.join().map_err(|_| "a parked coroutine failed")?;
    }
    Ok(Sample::new(w::bytes_per(before, after, n)))
}

/// `max-live` (child): coroutines parked in batches of 1k until the cap or a failed spawn.
/// may is known to hang when a spawn fails at the mapping limit; the parent's timeout and
/// the progress lines turn that into "hangs at N".
pub fn max_live_here(config: &Config) -> Outcome {
    workers(w::WORKERS);
    let cap = w::max_live_cap(config);
    let live = LiveCounter::start();
    let released = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    let mut failure = None;
    'spawning: while handles.len() < cap {
        for _ in 0..1_000 {
            let (released, live) = (released.clone(), live.clone());
            // SAFETY: see `go`; this is the same spawn, through the fallible builder.
            let spawned = unsafe {
                may::coroutine::Builder::new().spawn(move || {
                    live.started();
                    while !released.load(Ordering::Acquire) {
                        may::coroutine::park();
                    }
                })
            };
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    failure = Some(e.to_string());
                    break 'spawning;
                }
            }
        }
        while live.get() < handles.len() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    live.finish();
    let count = live.get();
    released.store(true, Ordering::Release);
    for h in &handles {
        h.coroutine().unpark();
    }
    for h in handles {
        let _ = h.join();
    }
    let sample = Sample::new(count as f64);
    Ok(match failure {
        Some(why) => sample.note(format!("may: spawn #{} failed: {why}", count + 1)),
        None => sample.note(format!("may: reached the cap of {cap} live tasks")),
    })
}

/// Ping-pong over two unbounded `may::sync::mpsc` channels, from a coroutine.
fn pingpong_here(config: &Config, n: usize) -> Outcome {
    workers(n);
    let ns = time_per_op(config, config.ops(w::PINGPONG_OPS), |ops| {
        go(move || {
            let (ping_tx, ping_rx) = may::sync::mpsc::channel::<u64>();
            let (pong_tx, pong_rx) = may::sync::mpsc::channel::<u64>();
            let echo = go(move || {
                while let Ok(v) = ping_rx.recv() {
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
        .join()
        .unwrap();
    });
    Ok(Sample::new(ns)
        .note("may: ping-pong over unbounded mpsc channels (may has no rendezvous channel)"))
}

/// `pingpong-1w` (parent side).
pub fn pingpong_1(config: &Config) -> Outcome {
    child("may-pingpong-1", config)
}

/// `pingpong-1w` (child).
pub fn pingpong_1_here(config: &Config) -> Outcome {
    pingpong_here(config, 1)
}

/// `pingpong-2w` (parent side).
pub fn pingpong_2(config: &Config) -> Outcome {
    child("may-pingpong-2", config)
}

/// `pingpong-2w` (child).
pub fn pingpong_2_here(config: &Config) -> Outcome {
    pingpong_here(config, 2)
}

/// `mpmc` (parent side).
pub fn mpmc(config: &Config) -> Outcome {
    child("may-mpmc", config)
}

/// `mpmc` (child): 8 producer and 8 consumer coroutines on one `may::sync::mpmc` channel.
pub fn mpmc_here(config: &Config) -> Outcome {
    workers(w::WORKERS);
    let per_sec = w::per_second(config, config.ops(w::MPMC_MSGS), |ops| {
        let (tx, rx) = may::sync::mpmc::channel::<u64>();
        let each = ops / w::MPMC_SIDES;
        let producers: Vec<_> = (0..w::MPMC_SIDES)
            .map(|_| {
                let tx = tx.clone();
                go(move || {
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
                go(move || {
                    let mut n = 0u64;
                    while rx.recv().is_ok() {
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let got: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(got, each * w::MPMC_SIDES);
    });
    Ok(Sample::new(per_sec)
        .note("may: mpmc channel is unbounded (may has no bounded MPMC channel)"))
}

/// `mutex` (parent side).
pub fn mutex(config: &Config) -> Outcome {
    child("may-mutex", config)
}

/// `mutex` (child): coroutines incrementing one counter under `may::sync::Mutex`.
pub fn mutex_here(config: &Config) -> Outcome {
    workers(w::WORKERS);
    let per_sec = w::per_second(config, config.ops(w::MUTEX_OPS), |ops| {
        let counter = Arc::new(may::sync::Mutex::new(0u64));
        let each = ops / w::MUTEX_TASKS;
        let handles: Vec<_> = (0..w::MUTEX_TASKS)
            .map(|_| {
                let c = counter.clone();
                go(move || {
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

/// The echo server (`serve may-echo ADDR`): one worker, a coroutine per connection.
pub fn echo_server(addr: &str) -> io::Result<()> {
    workers(1);
    let listener = may::net::TcpListener::bind(addr)?;
    go(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_nodelay(true);
            go(move || {
                let mut buf = [0u8; crate::measure::net::MESSAGE];
                while conn.read_exact(&mut buf).is_ok() {
                    if conn.write_all(&buf).is_err() {
                        break;
                    }
                }
            });
        }
    })
    .join()
    .map_err(|_| io::Error::other("the accept loop panicked"))
}

/// may_minihttp's service: a fixed `Hello, world!`.
#[derive(Clone)]
struct Hello;

impl HttpService for Hello {
    fn call(&mut self, _req: Request, rsp: &mut Response) -> io::Result<()> {
        rsp.header("Content-Type: text/plain");
        rsp.body("Hello, world!");
        Ok(())
    }
}

/// The HTTP server (`serve may-http ADDR`): may_minihttp on one worker.
pub fn http_server(addr: &str) -> io::Result<()> {
    workers(1);
    HttpServer(Hello)
        .start(addr)?
        .join()
        .map_err(|_| io::Error::other("may_minihttp panicked"))
}
