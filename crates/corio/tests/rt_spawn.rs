//! Spawning, joining, naming, yielding, coroutine-locals.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod util;

fn rt(workers: usize) -> corio::Runtime {
    corio::Builder::new().workers(workers).build().unwrap()
}

#[test]
fn million_tiny_coroutines() {
    const N: u64 = 1_000_000;
    let sum = rt(2).block_on(|| {
        let handles: Vec<_> = (0..N).map(|i| corio::spawn(move || i)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, N * (N - 1) / 2);
}

#[test]
fn spawn_join_in_batches() {
    let sum = rt(2).block_on(|| {
        let mut sum = 0u64;
        for _ in 0..100 {
            let hs: Vec<_> = (0..1000u64).map(|i| corio::spawn(move || i)).collect();
            sum += hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>();
        }
        sum
    });
    assert_eq!(sum, 100 * 999 * 1000 / 2);
}

/// Bursts well past a worker's ring (so it spills to the injector), spawned at once from
/// coroutines on every worker and from plain threads (straight into the injector), with idle
/// workers stealing: every task runs exactly once.
#[test]
fn spawn_storm_runs_every_task_exactly_once() {
    util::watchdog(Duration::from_secs(60), spawn_storm);
}

fn spawn_storm() {
    const PER_SPAWNER: usize = 3_000;
    const COROUTINE_SPAWNERS: usize = 6;
    const THREAD_SPAWNERS: usize = 2;
    const TOTAL: usize = PER_SPAWNER * (COROUTINE_SPAWNERS + THREAD_SPAWNERS);
    let rt = rt(4);
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..TOTAL).map(|_| AtomicUsize::new(0)).collect());
    // Spawns tasks `first..first + PER_SPAWNER` through `spawn`, then joins them.
    fn spawn_range(
        first: usize,
        runs: &Arc<Vec<AtomicUsize>>,
        spawn: impl Fn(Box<dyn FnOnce() -> usize + Send>) -> corio::JoinHandle<usize>,
    ) -> usize {
        let handles: Vec<_> = (first..first + PER_SPAWNER)
            .map(|i| {
                let runs = runs.clone();
                spawn(Box::new(move || {
                    runs[i].fetch_add(1, Ordering::Relaxed);
                    i
                }))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    }
    let coroutines: Vec<_> = (0..COROUTINE_SPAWNERS)
        .map(|s| {
            let runs = runs.clone();
            rt.spawn(move || spawn_range(s * PER_SPAWNER, &runs, corio::spawn))
        })
        .collect();
    let threads: Vec<_> = (COROUTINE_SPAWNERS..COROUTINE_SPAWNERS + THREAD_SPAWNERS)
        .map(|s| {
            let (runs, handle) = (runs.clone(), rt.handle());
            std::thread::spawn(move || spawn_range(s * PER_SPAWNER, &runs, |f| handle.spawn(f)))
        })
        .collect();
    let sum: usize = coroutines
        .into_iter()
        .map(|h| h.join().unwrap())
        .sum::<usize>()
        + threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum::<usize>();
    assert_eq!(sum, TOTAL * (TOTAL - 1) / 2);
    let wrong: Vec<_> = (0..TOTAL)
        .filter(|&i| runs[i].load(Ordering::Relaxed) != 1)
        .collect();
    assert!(wrong.is_empty(), "tasks not run exactly once: {wrong:?}");
}

#[test]
fn nested_spawns_and_outside_spawn() {
    let rt = rt(2);
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let h = rt.spawn(move || {
        let hs: Vec<_> = (0..100)
            .map(|_| {
                let c = c.clone();
                corio::spawn(move || {
                    let inner = corio::spawn(move || c.fetch_add(1, Ordering::Relaxed));
                    inner.join().unwrap();
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    h.join().unwrap(); // from a plain thread: blocks it
    assert_eq!(count.load(Ordering::Relaxed), 100);
}

#[test]
fn names_ids_and_current() {
    rt(2).block_on(|| {
        assert_eq!(corio::task::current().name(), Some("main"));
        let h = corio::task::Builder::new().name("child").spawn(|| {
            let me = corio::task::current();
            (me.id(), me.name().map(str::to_owned))
        });
        let hid = h.id();
        assert_eq!(h.name(), Some("child"));
        let (id, name) = h.join().unwrap();
        assert_eq!(id, hid);
        assert_eq!(name.as_deref(), Some("child"));
        assert_ne!(corio::task::current().id(), hid);
    });
    assert!(corio::task::try_current().is_none());
}

#[test]
fn yield_now_interleaves() {
    let log = rt(1).block_on(|| {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let hs: Vec<_> = (0..2)
            .map(|t| {
                let log = log.clone();
                corio::spawn(move || {
                    for i in 0..3 {
                        log.lock().unwrap().push((t, i));
                        corio::yield_now();
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        Arc::try_unwrap(log).unwrap().into_inner().unwrap()
    });
    // Each yield lets the other coroutine run: neither finishes before the other starts.
    let pos = |x| log.iter().position(|&e| e == x).unwrap();
    assert!(pos((1, 0)) < pos((0, 2)), "{log:?}");
    assert!(pos((0, 0)) < pos((1, 2)), "{log:?}");
}

#[test]
fn is_finished_and_detach() {
    rt(2).block_on(|| {
        let h = corio::spawn(|| 1);
        while !h.is_finished() {
            corio::yield_now();
        }
        assert_eq!(h.join().unwrap(), 1);
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        drop(corio::spawn(move || d.store(1, Ordering::SeqCst))); // detached
        while done.load(Ordering::SeqCst) == 0 {
            corio::yield_now();
        }
    });
}

corio::coroutine_local! {
    static COUNTER: Cell<u32> = Cell::new(0);
    static HELD: Rc<u32> = Rc::new(7);
}

#[test]
fn coroutine_locals_are_per_coroutine_and_dropped() {
    struct Bomb(Arc<AtomicUsize>);
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    corio::coroutine_local! {
        static BOMB: std::cell::RefCell<Option<Bomb>> = std::cell::RefCell::new(None);
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    rt(2).block_on(move || {
        COUNTER.with(|c| c.set(5));
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let d = d.clone();
                corio::spawn(move || {
                    BOMB.with(|b| *b.borrow_mut() = Some(Bomb(d)));
                    COUNTER.with(|c| c.set(c.get() + 1));
                    corio::yield_now();
                    assert_eq!(HELD.with(|h| **h), 7);
                    COUNTER.with(|c| c.get())
                })
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), 1);
        }
        assert_eq!(COUNTER.with(|c| c.get()), 5);
    });
    assert_eq!(drops.load(Ordering::SeqCst), 50);
    assert!(COUNTER.try_with(|c| c.get()).is_err());
}

#[test]
fn workers_env_and_builder() {
    let rt = corio::Builder::new()
        .workers(3)
        .thread_name("named")
        .stack_size(64 * 1024)
        .build()
        .unwrap();
    assert_eq!(rt.workers(), 3);
    let name = rt.block_on(|| std::thread::current().name().unwrap().to_owned());
    assert!(name.starts_with("named-"), "{name}");
}
