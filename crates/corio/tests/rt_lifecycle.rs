//! Runtime create/drop: everything parked is unwound, every resource is given back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Guard(Arc<AtomicUsize>);
impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// These tests count the process's threads: run them one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn count_dir(path: &str) -> usize {
    std::fs::read_dir(path).unwrap().count()
}

/// Mapping count once the process-wide stack cache is emptied: stacks kept there are
/// bounded, not leaked, and how many a cycle leaves depends on its timing.
fn maps_lines() -> usize {
    corio_coroutine::stack::trim_cache();
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// One cycle: a runtime whose coroutines are parked in every way (sleep, park, join on a
/// parked task, yield loop, never started) when it is dropped.
fn cycle(drops: &Arc<AtomicUsize>) -> usize {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    let mut guards = 0;
    let d = drops.clone();
    let handles = rt.block_on(move || {
        let mut hs = Vec::new();
        for kind in 0..8 {
            let g = Guard(d.clone());
            hs.push(corio::spawn(move || {
                let _g = g;
                match kind % 4 {
                    0 => corio::time::sleep(Duration::from_secs(3600)),
                    1 => loop {
                        corio::task::park();
                    },
                    2 => {
                        let inner = corio::spawn(|| loop {
                            corio::task::park();
                        });
                        let _ = inner.join();
                    }
                    _ => loop {
                        corio::time::sleep(Duration::from_millis(1));
                    },
                }
            }));
        }
        // Let them all start and park.
        corio::time::sleep(Duration::from_millis(2));
        hs
    });
    guards += 8;
    // Unstarted work in the injector when the runtime goes.
    let g = Guard(drops.clone());
    let late = rt.spawn(move || drop(g));
    guards += 1;
    drop(rt);
    for (kind, h) in handles.into_iter().enumerate() {
        match h.join() {
            // The joiner's wait can complete (its inner task was cancelled first) before the
            // shutdown's cancel reaches it: it then returns, as a completed wait does.
            Ok(()) => assert_eq!(kind % 4, 2, "only the joiner can finish"),
            Err(e) => assert!(e.is_cancelled()),
        }
    }
    let _ = late.join(); // ran or cancelled: either way, joinable after drop
    guards
}

#[test]
fn thousand_create_drop_cycles_give_everything_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let drops = Arc::new(AtomicUsize::new(0));
    // Warm up: glibc caches thread stacks and malloc arenas on first use.
    let mut expected = 0;
    for _ in 0..5 {
        expected += cycle(&drops);
    }
    let threads = count_dir("/proc/self/task");
    let fds = count_dir("/proc/self/fd");
    let maps = maps_lines();
    for _ in 0..1000 {
        expected += cycle(&drops);
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        expected,
        "every guard fires exactly once"
    );
    // A thread that has just exited may still be unmapping its stack (under load, the last
    // cycle's threads can lag): give the counts a moment to come back. A leak never does.
    let settled = |read: &dyn Fn() -> usize, baseline: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let now = read();
            if now <= baseline || std::time::Instant::now() >= deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    assert_eq!(
        settled(&|| count_dir("/proc/self/task"), threads),
        threads,
        "threads back to baseline"
    );
    assert_eq!(count_dir("/proc/self/fd"), fds, "fds back to baseline");
    let after = settled(&maps_lines, maps);
    assert!(
        after <= maps,
        "/proc/self/maps grew from {maps} to {after} lines"
    );
}

#[test]
fn blocking_threads_exit_when_idle() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = corio::Builder::new()
        .workers(1)
        .blocking_keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    // Only the pool's own threads: others may start or end meanwhile (the stack
    // scavenger runs for a few seconds after stacks go back to the process-wide cache).
    let blocking = || {
        thread_names()
            .iter()
            .filter(|n| *n == "corio-blocking")
            .count()
    };
    let before = blocking();
    rt.block_on(|| {
        let hs: Vec<_> = (0..4)
            .map(|_| corio::spawn_blocking(|| std::thread::sleep(Duration::from_millis(20))))
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while blocking() > before && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        blocking() <= before,
        "idle blocking threads did not exit: {:?}",
        thread_names()
    );
}

/// The names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim_end().to_owned())
        .collect()
}
