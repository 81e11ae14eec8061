//! The stall detector: one thread per runtime (unless `Builder::stall_threshold(None)`) that
//! notices a worker which has not reached a scheduling point for longer than the threshold
//! and says which coroutine is holding it.
//!
//! Started coroutines never migrate (see `rt::sched`), so a coroutine that computes without
//! suspending holds up every other started coroutine of its worker; corio cannot preempt it,
//! so it says so at once, on stderr, naming the coroutine:
//!
//! ```text
//! corio: coroutine 12 "name" has run for 100 ms on worker 0 without suspending ...
//! corio: coroutine 12 "name" suspended after running for 2.01 s on worker 0 without suspending
//! ```
//!
//! The workers pay nothing for it beyond their per-resume counter stores (`rt::stats`): the
//! monitor samples each worker's scheduling-point count every quarter threshold, and a count
//! that has not moved while a coroutine runs is a stall. Each stall is reported once when it
//! is noticed and once when it ends, so reports are at most two per threshold per worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::rt::sched::Shared;
use crate::rt::stats::Running;

/// The default stall threshold.
pub(crate) const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_millis(100);

/// The running monitor thread; [`stop`](Self::stop) ends it.
pub(crate) struct Monitor {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

/// What the monitor remembers of one worker between samples.
struct Watch {
    /// The scheduling-point count last seen, and since when it has not moved.
    ticks: u64,
    since: Instant,
    /// The coroutine reported as stalled at `ticks`, if any.
    reported: Option<Running>,
}

impl Monitor {
    /// Starts watching `shared`'s workers, reporting stalls longer than `threshold`.
    pub(crate) fn start(shared: Arc<Shared>, threshold: Duration) -> std::io::Result<Monitor> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = thread::Builder::new()
            .name(format!("{}-monitor", shared.config.thread_name))
            .spawn(move || watch(&shared, threshold, &s))?;
        Ok(Monitor {
            stop,
            thread: Some(thread),
        })
    }

    /// Ends the monitor thread and waits for it.
    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The monitor thread's loop.
fn watch(shared: &Shared, threshold: Duration, stop: &AtomicBool) {
    let period = (threshold / 4).max(Duration::from_millis(1));
    let now = Instant::now();
    let mut watches: Vec<Watch> = (0..shared.stats.len())
        .map(|_| Watch {
            ticks: 0,
            since: now,
            reported: None,
        })
        .collect();
    while !stop.load(Ordering::SeqCst) {
        thread::park_timeout(period);
        let now = Instant::now();
        shared.stats.update_clock(now);
        for (i, w) in watches.iter_mut().enumerate() {
            let stats = shared.stats.worker(i);
            let (ticks, running) = stats.tick();
            if ticks != w.ticks || !running {
                if let Some(r) = w.reported.take() {
                    report_end(&r, i, now.duration_since(w.since));
                }
                w.ticks = ticks;
                w.since = now;
                continue;
            }
            let ran = now.duration_since(w.since);
            if w.reported.is_none() && ran >= threshold {
                if let Some(r) = stats.inspect(ticks) {
                    report_stall(&r, i, ran);
                    w.reported = Some(r);
                }
            }
        }
    }
}

/// `12 "name"`, or `12` for an unnamed coroutine.
fn describe(r: &Running) -> String {
    match &r.name {
        Some(n) => format!("{} {n:?}", r.id),
        None => r.id.to_string(),
    }
}

#[cold]
fn report_stall(r: &Running, worker: usize, ran: Duration) {
    let ms = ran.as_millis();
    if crate::trace::ENABLED {
        crate::trace::stall(r.id, r.name.as_deref(), worker, ms);
        return;
    }
    let who = describe(r);
    let at = r.spawned_at;
    eprintln!(
        "corio: coroutine {who} has run for {ms} ms on worker {worker} without suspending \
         (spawned at {at}; coroutines are not preempted: the other started coroutines of \
         worker {worker} wait for it; move CPU-heavy or thread-blocking work to \
         corio::spawn_blocking, or call corio::yield_now in long loops)"
    );
}

#[cold]
fn report_end(r: &Running, worker: usize, ran: Duration) {
    if crate::trace::ENABLED {
        crate::trace::stall_end(r.id, worker, ran.as_millis());
        return;
    }
    let who = describe(r);
    eprintln!(
        "corio: coroutine {who} suspended after running for {ran:.2?} on worker {worker} \
         without suspending"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_named_and_unnamed_coroutines() {
        let here = std::panic::Location::caller();
        let named = Running {
            id: 12,
            name: Some("name".into()),
            spawned_at: here,
        };
        assert_eq!(describe(&named), "12 \"name\"");
        let unnamed = Running {
            id: 7,
            name: None,
            spawned_at: here,
        };
        assert_eq!(describe(&unnamed), "7");
    }
}
