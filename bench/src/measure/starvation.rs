//! `starvation`: how long a ticker goes without running while a coroutine beside it loops
//! over runtime operations that never block.
//!
//! Two workers. A ticker task sleeps 1 ms in a loop and records its longest gap between
//! wake-ups. A producer on the other worker keeps a channel of 1024 slots full, and a
//! consumer started on the ticker's worker receives from it for [`span`]: every receive
//! finds a message, so nothing ever makes the consumer wait. The figure is the ticker's
//! longest gap (ms) while the consumer runs: a runtime whose ready operations never yield
//! starves the ticker for the whole span. A second run replaces the consumer by a pure CPU
//! loop (no runtime operation at all) of the same span; its gap goes into the row's notes
//! (JSON `hog_gap_ms`), since that is what no cooperative budget can fix (Go preempts,
//! tokio's other worker steals the ticker, corio coroutines never migrate).
//!
//! Placement: corio's started coroutines never move, so the workload checks where each one
//! started and retries until the consumer shares the ticker's worker and the producer does
//! not. tokio's tasks migrate, so its version only spawns the consumer from the ticker's
//! worker; Go's has no placement at all.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use crate::infra::child;
use crate::infra::go_program;
use crate::infra::timing::{spread_of, Config};
use crate::row::{Field, Outcome, Sample};

/// How long the consumer (or the hog) runs per repetition.
pub fn span(config: &Config) -> Duration {
    if config.quick {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    }
}

/// The ticker's period.
const TICK: Duration = Duration::from_millis(1);
/// The channel's capacity, the same for every system.
const CAP: usize = 1024;
/// Messages received between two looks at the clock.
const BATCH: usize = 64;
/// Placement attempts before the corio workload gives up.
const ATTEMPTS: usize = 1_000;
/// How long the ticker keeps its worker busy so that the other one starts a coroutine.
const PLACE_SPIN: Duration = Duration::from_millis(50);

/// What runs beside the ticker.
#[derive(Clone, Copy, PartialEq)]
enum Load {
    /// Receives from a channel that another worker keeps full.
    Channel,
    /// Spins without calling the runtime.
    Spin,
}

/// The ticker's side: whether a gap is being measured, the longest one (ns), and the end.
#[derive(Default)]
struct Ticker {
    /// Bumped when the load starts and when it ends: odd while it runs.
    phase: AtomicU64,
    max_gap_ns: AtomicU64,
    done: AtomicBool,
}

/// What the ticker remembers between wake-ups.
struct Last {
    at: Instant,
    phase: u64,
}

impl Last {
    fn new() -> Self {
        Last {
            at: Instant::now(),
            phase: 0,
        }
    }
}

impl Ticker {
    /// Called after each wake-up: records the gap since the last one if the load ran
    /// during any of it (a starved ticker may wake only after the load ended).
    fn tick(&self, last: &mut Last) {
        let now = Instant::now();
        let phase = self.phase.load(Ordering::SeqCst);
        if phase % 2 == 1 || phase != last.phase {
            let gap = now.duration_since(last.at).as_nanos() as u64;
            self.max_gap_ns.fetch_max(gap, Ordering::Relaxed);
        }
        *last = Last { at: now, phase };
    }

    /// The load starts or ends.
    fn set_measuring(&self, on: bool) {
        let was = self.phase.fetch_add(1, Ordering::SeqCst);
        debug_assert_eq!(was % 2 == 0, on);
    }

    fn max_gap_ms(&self) -> f64 {
        self.max_gap_ns.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// Runs `load` for `span`, marking its start and end for `ticker`; `recv` receives one
/// message (`false`: the channel is closed).
fn run_load(load: Load, span: Duration, ticker: &Ticker, mut recv: impl FnMut() -> bool) {
    ticker.set_measuring(true);
    let start = Instant::now();
    'outer: while start.elapsed() < span {
        for _ in 0..BATCH {
            match load {
                Load::Channel => {
                    if !recv() {
                        break 'outer;
                    }
                }
                Load::Spin => black_box(()),
            }
        }
    }
    ticker.set_measuring(false);
}

/// The row's sample: `gaps` as the figure, the hog's gap as a note and field.
fn sample(system: &str, gaps: crate::infra::timing::Spread, hog: f64, span: Duration) -> Sample {
    Sample::new(gaps)
        .field("hog_gap_ms", Field::Float(hog))
        .note(format!(
            "{system}: beside a pure-CPU hog ({span:?} loop without runtime calls) the ticker's \
             longest gap is {hog:.1} ms"
        ))
}

// ----- corio ------------------------------------------------------------------------------

/// corio: `sync::channel::bounded(1024)`, `time::sleep(1 ms)`.
pub fn corio(config: &Config) -> Outcome {
    let rt = corio::Builder::new()
        .workers(2)
        .stall_threshold(None) // the hog would be reported on stderr
        .build()
        .map_err(|e| format!("cannot start corio: {e}"))?;
    let span = span(config);
    let gaps = spread_of(config, || {
        rt.block_on(move || corio_once(Load::Channel, span))
    })?;
    let hog = rt.block_on(move || corio_once(Load::Spin, span))?;
    let mut s = sample("corio", gaps, hog, span);
    if hog > 10.0 {
        s = s.note(
            "corio: started coroutines never migrate, so a CPU loop holds up its worker's \
             other coroutines until it suspends; the stall detector names it after 100 ms",
        );
    }
    Ok(s)
}

/// Where a placed coroutine should start, relative to the ticker's worker.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// On the ticker's worker: the ticker spawns it and yields, so its worker starts it.
    Same,
    /// On the other worker: the ticker spawns it and spins until it started, so only the
    /// other worker (woken to steal it) can start it.
    Other,
}

/// Spawns `f` through the ticker (`via`) until it starts on the `side` it should, and
/// returns its handle (a wrongly placed attempt returns at once without running `f`).
fn place<T: Send + 'static>(
    side: Side,
    home: ThreadId,
    via: &dyn Fn(Box<dyn FnOnce() + Send>),
    f: impl Fn() -> T + Send + Sync + 'static,
) -> Result<corio::JoinHandle<Option<T>>, String> {
    let ok = move |id: ThreadId| (id == home) == (side == Side::Same);
    let ok = Arc::new(ok);
    let f = Arc::new(f);
    for _ in 0..ATTEMPTS {
        let (ok, f) = (ok.clone(), f.clone());
        let (placed_tx, placed) = corio::sync::channel::bounded(1);
        let (handle_tx, handle) = corio::sync::channel::bounded(1);
        via(Box::new(move || {
            let started = Arc::new(AtomicBool::new(false));
            let s = started.clone();
            let h = corio::spawn(move || {
                s.store(true, Ordering::Release);
                let right = ok(thread::current().id());
                let _ = placed_tx.send(right);
                right.then(|| f())
            });
            let _ = handle_tx.send(h);
            match side {
                Side::Same => corio::yield_now(),
                Side::Other => {
                    let t = Instant::now();
                    while !started.load(Ordering::Acquire) && t.elapsed() < PLACE_SPIN {
                        std::hint::spin_loop();
                    }
                }
            }
        }));
        let h = handle
            .recv()
            .map_err(|_| "placement: the spawner is gone")?;
        if placed.recv().map_err(|_| "placement: the task is gone")? {
            return Ok(h);
        }
        let _ = h.join();
    }
    Err("could not place the coroutines on the right workers".into())
}

/// Something the ticker spawns for the main coroutine.
type SpawnRequest = Box<dyn FnOnce() + Send>;

/// One corio repetition, run in the main coroutine; returns the longest gap in ms.
fn corio_once(load: Load, span: Duration) -> Result<f64, String> {
    let ticker = Arc::new(Ticker::default());
    let home: Arc<Mutex<Option<ThreadId>>> = Arc::default();
    // Spawn requests the ticker carries out, so they start on its worker.
    let requests: Arc<Mutex<Vec<SpawnRequest>>> = Arc::default();
    let (t, h, r) = (ticker.clone(), home.clone(), requests.clone());
    let ticker_task = corio::spawn(move || {
        *h.lock().unwrap() = Some(thread::current().id());
        let mut last = Last::new();
        while !t.done.load(Ordering::Relaxed) {
            let due: Vec<_> = std::mem::take(&mut *r.lock().unwrap());
            for spawn in due {
                spawn();
            }
            corio::time::sleep(TICK);
            t.tick(&mut last);
        }
    });
    let home = loop {
        if let Some(id) = *home.lock().unwrap() {
            break id;
        }
        corio::time::sleep(TICK);
    };
    let (tx, rx) = corio::sync::channel::bounded::<u64>(CAP);
    let via_ticker = {
        let r = requests.clone();
        move |f: Box<dyn FnOnce() + Send>| r.lock().unwrap().push(f)
    };
    let producer = place(Side::Other, home, &via_ticker, move || {
        let mut i = 0u64;
        while tx.send(i).is_ok() {
            i += 1;
        }
    })?;
    let t = ticker.clone();
    let rx = Arc::new(rx);
    let rx2 = rx.clone();
    let consumer = place(Side::Same, home, &via_ticker, move || {
        run_load(load, span, &t, || rx2.recv().is_ok());
    })?;
    consumer.join().map_err(|_| "consumer panicked")?;
    ticker.done.store(true, Ordering::Relaxed);
    drop(rx); // the producer's send fails once every receiver is gone
    ticker_task.join().map_err(|_| "ticker panicked")?;
    producer.join().map_err(|_| "producer panicked")?;
    Ok(ticker.max_gap_ms())
}

// ----- tokio ------------------------------------------------------------------------------

/// tokio: `sync::mpsc::channel(1024)`, `time::sleep(1 ms)`, 2 workers.
pub fn tokio(config: &Config) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))?;
    let span = span(config);
    let once = |load| {
        rt.block_on(rt.spawn(tokio_once(load, span)))
            .unwrap_or(f64::NAN)
    };
    let gaps = spread_of(config, || Ok::<f64, String>(once(Load::Channel)))?;
    let hog = once(Load::Spin);
    Ok(sample("tokio", gaps, hog, span))
}

/// One tokio repetition, run in a task; the consumer is spawned by the ticker task, so it
/// starts on the ticker's worker (tokio may move either later).
async fn tokio_once(load: Load, span: Duration) -> f64 {
    let ticker = Arc::new(Ticker::default());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAP);
    let producer = tokio::spawn(async move {
        let mut i = 0u64;
        while tx.send(i).await.is_ok() {
            i += 1;
        }
    });
    let t = ticker.clone();
    let ticker_task = tokio::spawn(async move {
        let tc = t.clone();
        let consumer = tokio::spawn(async move {
            tc.set_measuring(true);
            let start = Instant::now();
            'outer: while start.elapsed() < span {
                for _ in 0..BATCH {
                    match load {
                        Load::Channel => {
                            if rx.recv().await.is_none() {
                                break 'outer;
                            }
                        }
                        Load::Spin => black_box(()),
                    }
                }
            }
            tc.set_measuring(false);
        });
        let mut last = Last::new();
        while !t.done.load(Ordering::Relaxed) {
            tokio::time::sleep(TICK).await;
            t.tick(&mut last);
        }
        consumer.await.expect("consumer panicked");
    });
    // The load started and ended (phase 2).
    while ticker.phase.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(TICK).await;
    }
    ticker.done.store(true, Ordering::Relaxed);
    ticker_task.await.expect("ticker panicked");
    producer.abort();
    ticker.max_gap_ms()
}

// ----- Go ---------------------------------------------------------------------------------

/// Go: a buffered channel of 1024, `time.Sleep(1 ms)`, GOMAXPROCS=2.
pub fn go(config: &Config) -> Outcome {
    let span = span(config);
    let args: Vec<String> = vec![
        "starvation".into(),
        span.as_millis().to_string(),
        config.reps.to_string(),
    ];
    let finished = go_program::run(&args, span * (3 * config.reps as u32 + 10))?;
    let pairs = finished.result()?;
    let gaps = child::spread(&pairs, "value").ok_or("result without a value")?;
    let hog = child::get(&pairs, "hog").ok_or("result without the hog's gap")?;
    Ok(sample("Go", gaps, hog, span).note(go_program::version_note()))
}
