//! A million parked coroutines fit at the default `vm.max_map_count` when stacks come
//! from slabs (Linux >= 6.13), and all of them run to the end.

mod util;

use corio_coroutine::stack::{guard_mode, GuardMode};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

const N: usize = 1_000_000;

/// Lines in /proc/self/maps: one per kernel mapping.
fn mapping_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn a_million_parked_coroutines_fit_in_a_few_hundred_mappings() {
    if guard_mode() != GuardMode::Slab {
        eprintln!(
            "stacks are guarded per mapping here ({}): skipped",
            guard_mode()
        );
        return;
    }
    let (parked_maps, sum) = util::watchdog(Duration::from_secs(300), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        rt.block_on(|| {
            let gate = Arc::new(corio::sync::Semaphore::new(0));
            let parked = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    let (gate, parked) = (gate.clone(), parked.clone());
                    corio::spawn(move || {
                        parked.fetch_add(1, Relaxed);
                        let _permit = gate.acquire();
                        i
                    })
                })
                .collect();
            while parked.load(Relaxed) < N {
                corio::time::sleep(Duration::from_millis(10));
            }
            // Every coroutine is alive and parked on the semaphore now.
            let parked_maps = mapping_count();
            gate.release(N);
            let sum: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
            (parked_maps, sum)
        })
    });
    assert_eq!(sum, N * (N - 1) / 2, "every coroutine ran to the end");
    assert!(
        parked_maps < 2_000,
        "{N} parked coroutines took {parked_maps} mappings"
    );
}
