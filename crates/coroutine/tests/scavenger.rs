//! After a surge of coroutines, idle stacks give their memory back within a
//! few scavenger ticks, with no call to `trim_cache`.

mod util;

use corio_coroutine::stack::SCAVENGE_TICK;
use corio_coroutine::{Coroutine, CoroutineResult, Yielder};
use std::time::Instant;
use util::{in_child, rss_bytes, run_child_in_mode, BOTH_MODES};

/// Coroutines alive at once in the surge, each touching [`TOUCHED`] bytes.
const SURGE: usize = 4_000;
const TOUCHED: usize = 64 * 1024;

#[test]
#[cfg_attr(feature = "asan", ignore = "ASan's shadow memory changes RSS")]
fn memory_returns_after_a_surge() {
    if !in_child() {
        // Alone in a process: RSS is this test's.
        for fallback in BOTH_MODES {
            let (output, _) = run_child_in_mode("memory_returns_after_a_surge", fallback);
            assert!(
                output.status.success(),
                "fallback {fallback}: {}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        return;
    }
    surge(16); // warm up the allocator and this thread's pool
    let baseline = rss_bytes();
    surge(SURGE);
    let after_surge = rss_bytes();
    // The cache now holds thousands of stacks, 16 KiB resident each.
    assert!(
        after_surge > baseline + (32 << 20),
        "the surge did not show"
    );
    // Watchdog, not a speed check: the scavenger needs two ticks.
    let deadline = Instant::now() + SCAVENGE_TICK * 30;
    // This thread's pool keeps up to 256 stacks of 16 KiB: 4 MiB.
    let goal = baseline + (8 << 20);
    while rss_bytes() > goal {
        assert!(
            Instant::now() < deadline,
            "RSS stayed {} MiB above the baseline",
            (rss_bytes() - baseline) >> 20
        );
        std::thread::sleep(SCAVENGE_TICK / 10);
    }
}

/// Runs `n` coroutines at once, each touching `TOUCHED` bytes of its stack,
/// then finishes them all.
fn surge(n: usize) {
    let mut live: Vec<_> = (0..n)
        .map(|_| {
            let mut co = Coroutine::new(|yielder: &Yielder<(), ()>, ()| {
                let buffer = [1u8; TOUCHED];
                std::hint::black_box(&buffer);
                yielder.suspend(());
            });
            assert_eq!(co.resume(()), CoroutineResult::Yield(()));
            co
        })
        .collect();
    for co in &mut live {
        assert_eq!(co.resume(()), CoroutineResult::Return(()));
    }
}
