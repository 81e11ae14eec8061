//! tokio 1.x: the runtime rows' tokio workloads, on a multi-thread runtime with the row's
//! worker count, each loop running inside a spawned task.

use std::future::Future;
use std::hint::black_box;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use crate::infra::mem;
use crate::infra::timing::{time_per_op, Config};
use crate::measure::workload::{self as w, LiveCounter};
use crate::row::{Outcome, Sample};

/// A multi-thread runtime with `workers` workers and all drivers enabled.
fn runtime(workers: usize) -> Result<Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))
}

/// Runs `fut` as a task on `rt` (not on the blocking `block_on` thread) and waits for it.
fn in_task<T: Send + 'static>(rt: &Runtime, fut: impl Future<Output = T> + Send + 'static) -> T {
    rt.block_on(rt.spawn(fut)).expect("task panicked")
}

/// `yield`: two tasks on one worker, each calling `yield_now` half the time; ns per yield.
pub fn yield_(config: &Config) -> Outcome {
    let rt = runtime(1)?;
    let ns = time_per_op(config, config.ops(w::YIELD_OPS), |ops| {
        in_task(&rt, async move {
            let half = || {
                tokio::spawn(async move {
                    for _ in 0..ops / 2 {
                        tokio::task::yield_now().await;
                    }
                })
            };
            let (a, b) = (half(), half());
            a.await.unwrap();
            b.await.unwrap();
        })
    });
    Ok(Sample::new(ns).note("tokio: yield_now defers the task until after the next I/O poll"))
}

/// `spawn`: from a task, spawn batches of 1k and await each; ns per task.
pub fn spawn(config: &Config) -> Outcome {
    let rt = runtime(w::WORKERS)?;
    let ns = time_per_op(config, config.ops(w::SPAWN_OPS), |ops| {
        in_task(&rt, async move {
            let mut left = ops;
            let mut handles = Vec::with_capacity(w::SPAWN_BATCH as usize);
            while left > 0 {
                let n = left.min(w::SPAWN_BATCH);
                handles.extend((0..n).map(|i| tokio::spawn(async move { black_box(i) })));
                for h in handles.drain(..) {
                    black_box(h.await.unwrap());
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
    w::split_wall_cpu(w::wall_and_cpu(config, || {
        in_task(&rt, async move {
            let handles: Vec<_> = (0..tasks)
                .map(|_| tokio::spawn(tokio::time::sleep(w::SLEEP)))
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        })
    }))
}

/// Spawns a task that counts itself as started and then waits on `gate`; the waiter is
/// registered before the count, so `notify_waiters` cannot miss it.
fn spawn_parked(
    gate: &Arc<Notify>,
    started: impl Fn() + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let gate = gate.clone();
    tokio::spawn(async move {
        let notified = gate.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        started();
        notified.await;
    })
}

/// `parked-memory-rt` (child process): resident bytes per task waiting on a `Notify`,
/// JoinHandles kept.
pub fn parked_here(config: &Config) -> Outcome {
    let n = w::parked_tasks(config);
    let rt = runtime(w::WORKERS)?;
    let bytes = in_task(&rt, async move {
        let before = mem::resident_bytes()?;
        let gate = Arc::new(Notify::new());
        let started = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let s = started.clone();
                spawn_parked(&gate, move || {
                    s.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        while started.load(Ordering::Relaxed) < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let after = mem::resident_bytes()?;
        gate.notify_waiters();
        for h in handles {
            h.await.map_err(io::Error::other)?;
        }
        Ok::<_, io::Error>(w::bytes_per(before, after, n))
    });
    Ok(Sample::new(bytes.map_err(|e| e.to_string())?))
}

/// `max-live` (child process): tasks waiting on a `Notify`, in batches of 1k up to the cap.
pub fn max_live_here(config: &Config) -> Outcome {
    let cap = w::max_live_cap(config);
    let rt = runtime(w::WORKERS)?;
    let count = in_task(&rt, async move {
        let live = LiveCounter::start();
        let gate = Arc::new(Notify::new());
        let mut handles = Vec::new();
        while handles.len() < cap {
            for _ in 0..1_000 {
                let l = live.clone();
                handles.push(spawn_parked(&gate, move || l.started()));
            }
            while live.get() < handles.len() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        live.finish();
        gate.notify_waiters();
        for h in handles {
            let _ = h.await;
        }
        live.get()
    });
    Ok(Sample::new(count as f64).note(format!("tokio: reached the cap of {cap} live tasks")))
}

/// Ping-pong over two `mpsc::channel(1)`, from a task; ns per round trip.
fn pingpong(config: &Config, workers: usize) -> Outcome {
    let rt = runtime(workers)?;
    let ns = time_per_op(config, config.ops(w::PINGPONG_OPS), |ops| {
        in_task(&rt, async move {
            let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let echo = tokio::spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v).await.is_err() {
                        break;
                    }
                }
            });
            for i in 0..ops {
                ping_tx.send(i).await.unwrap();
                black_box(pong_rx.recv().await.unwrap());
            }
            drop(ping_tx);
            echo.await.unwrap();
        })
    });
    Ok(Sample::new(ns))
}

/// `pingpong-1w`: ping-pong on one worker.
pub fn pingpong_1(config: &Config) -> Outcome {
    pingpong(config, 1)
}

/// `pingpong-2w`: ping-pong on two workers.
pub fn pingpong_2(config: &Config) -> Outcome {
    pingpong(config, 2)
}

/// `mutex`: tasks incrementing one counter under `tokio::sync::Mutex`; increments/s.
pub fn mutex(config: &Config) -> Outcome {
    let rt = runtime(w::WORKERS)?;
    let per_sec = w::per_second(config, config.ops(w::MUTEX_OPS), |ops| {
        in_task(&rt, async move {
            let counter = Arc::new(tokio::sync::Mutex::new(0u64));
            let each = ops / w::MUTEX_TASKS;
            let handles: Vec<_> = (0..w::MUTEX_TASKS)
                .map(|_| {
                    let c = counter.clone();
                    tokio::spawn(async move {
                        for _ in 0..each {
                            *c.lock().await += 1;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
            assert_eq!(*counter.lock().await, each * w::MUTEX_TASKS);
        })
    });
    Ok(Sample::new(per_sec))
}

/// The echo server (`serve tokio-echo ADDR`): one worker, a task per connection echoing
/// 64-byte messages.
pub fn echo_server(addr: &str) -> io::Result<()> {
    let rt = runtime(1).map_err(io::Error::other)?;
    let addr = addr.to_owned();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        loop {
            let (mut conn, _) = listener.accept().await?;
            conn.set_nodelay(true)?;
            tokio::spawn(async move {
                let mut buf = [0u8; crate::measure::net::MESSAGE];
                while conn.read_exact(&mut buf).await.is_ok() {
                    if conn.write_all(&buf).await.is_err() {
                        break;
                    }
                }
            });
        }
    })
}

/// The hand-written HTTP server (`serve tokio-http ADDR`): one worker; answers every
/// request (pipelined ones too) with a fixed `Hello, world!`.
pub fn http_server(addr: &str) -> io::Result<()> {
    let rt = runtime(1).map_err(io::Error::other)?;
    let addr = addr.to_owned();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        loop {
            let (mut conn, _) = listener.accept().await?;
            conn.set_nodelay(true)?;
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(4096);
                let mut out = Vec::with_capacity(4096);
                loop {
                    if conn.read_buf(&mut buf).await.map_or(true, |n| n == 0) {
                        return;
                    }
                    let (requests, used) = crate::measure::net::complete_requests(&buf);
                    buf.drain(..used);
                    for _ in 0..requests {
                        out.extend_from_slice(crate::measure::net::HTTP_RESPONSE);
                    }
                    if !out.is_empty() && conn.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                }
            });
        }
    })
}
