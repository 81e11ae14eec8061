//! `surge-return`: how much resident memory a runtime keeps after a surge of tasks has
//! passed. Each system runs [`surge_tasks`] tasks in waves of [`WAVE`] live at once, each
//! touching [`TOUCH`] bytes (of stack for the stackful systems, of a buffer the task holds
//! for tokio), waits until all have finished, then [`settle`], and reports the growth of RSS
//! over the baseline taken before the surge, in MiB. A fresh process per measurement.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::infra::mem;
use crate::infra::timing::Config;
use crate::row::{Field, Outcome, Sample};

/// Tasks in the surge (20k under `--quick`).
pub fn surge_tasks(config: &Config) -> usize {
    if config.quick {
        20_000
    } else {
        200_000
    }
}

/// Tasks live at once: each wave starts this many, which all touch their memory, wait for
/// each other, then finish. 10k × 64 KiB is a 640 MiB peak.
pub const WAVE: usize = 10_000;
/// Bytes each task touches.
pub const TOUCH: usize = 64 * 1024;
/// How long after the surge the memory is read: 5 s (2 s under `--quick`, a smoke run).
pub fn settle(config: &Config) -> Duration {
    Duration::from_secs(if config.quick { 2 } else { 5 })
}

/// The sample: MiB above the baseline, with what was measured.
fn sample(before: u64, peak: u64, after: u64, config: &Config, who: &str) -> Sample {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    Sample::new(mib(after.saturating_sub(before)))
        .field("peak_mib", Field::Float(mib(peak.saturating_sub(before))))
        .field("tasks", Field::Int(surge_tasks(config) as u64))
        .note(format!(
            "surge-return: RSS above the pre-surge baseline {} s after {} tasks ({WAVE} live at \
             once) that each touched {} KiB ({who}) had finished",
            settle(config).as_secs(),
            surge_tasks(config),
            TOUCH / 1024
        ))
}

/// Touches `TOUCH` bytes of the current stack.
#[inline(never)]
fn touch_stack() {
    let mut frame = [0u8; TOUCH];
    for (i, byte) in frame.iter_mut().enumerate().step_by(1024) {
        *byte = i as u8;
    }
    black_box(&mut frame);
}

/// corio (child process): coroutines touching their stacks.
pub fn corio_here(config: &Config) -> Outcome {
    let n = surge_tasks(config);
    let rt = corio::Builder::new()
        .workers(crate::measure::workload::WORKERS)
        .build()
        .map_err(|e| format!("cannot start corio: {e}"))?;
    let (before, peak) = rt
        .block_on(move || {
            // Warm up the runtime's threads and pools outside the figure.
            wave_corio(64);
            let before = mem::resident_bytes()?;
            let mut peak = before;
            for _ in 0..n.div_ceil(WAVE) {
                peak = peak.max(wave_corio(WAVE));
            }
            Ok::<_, std::io::Error>((before, peak))
        })
        .map_err(|e| e.to_string())?;
    std::thread::sleep(settle(config));
    let after = mem::resident_bytes().map_err(|e| e.to_string())?;
    drop(rt);
    let mode = corio_coroutine::stack::guard_mode();
    Ok(
        sample(before, peak, after, config, "corio coroutines' stacks")
            .note(format!("corio: stack guards: {mode}")),
    )
}

/// One corio wave of `n` coroutines; returns the RSS at its peak.
fn wave_corio(n: usize) -> u64 {
    let gate = Arc::new(corio::sync::Barrier::new(n + 1));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let gate = gate.clone();
            corio::spawn(move || {
                touch_stack();
                gate.wait();
            })
        })
        .collect();
    gate.wait(); // the whole wave is live and has touched its stacks
    let peak = mem::resident_bytes().unwrap_or(0);
    for h in handles {
        h.join().unwrap();
    }
    peak
}

/// tokio (child process): tasks holding a `TOUCH`-byte buffer across an await.
pub fn tokio_here(config: &Config) -> Outcome {
    let n = surge_tasks(config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(crate::measure::workload::WORKERS)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))?;
    let (before, peak) = rt
        .block_on(async move {
            wave_tokio(64).await;
            let before = mem::resident_bytes()?;
            let mut peak = before;
            for _ in 0..n.div_ceil(WAVE) {
                peak = peak.max(wave_tokio(WAVE).await);
            }
            Ok::<_, std::io::Error>((before, peak))
        })
        .map_err(|e| e.to_string())?;
    std::thread::sleep(settle(config));
    let after = mem::resident_bytes().map_err(|e| e.to_string())?;
    drop(rt);
    Ok(sample(before, peak, after, config, "tokio tasks' buffers"))
}

/// One tokio wave of `n` tasks; returns the RSS at its peak.
async fn wave_tokio(n: usize) -> u64 {
    let gate = Arc::new(tokio::sync::Barrier::new(n + 1));
    let live = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (gate, live) = (gate.clone(), live.clone());
            tokio::spawn(async move {
                let mut buffer = vec![0u8; TOUCH];
                for (i, byte) in buffer.iter_mut().enumerate().step_by(1024) {
                    *byte = i as u8;
                }
                live.fetch_add(1, Ordering::Relaxed);
                gate.wait().await;
                black_box(&mut buffer);
            })
        })
        .collect();
    while live.load(Ordering::Relaxed) < n {
        tokio::task::yield_now().await;
    }
    let peak = mem::resident_bytes().unwrap_or(0);
    gate.wait().await;
    for h in handles {
        h.await.unwrap();
    }
    peak
}
