//! Running out of coroutine stacks (the `vm.max_map_count` limit) is a clear error, not a
//! hang or an abort.

use corio_coroutine::stack::{guard_mode, GuardMode, GUARD_MODE_ENV};
use std::time::Duration;

#[test]
fn hitting_the_mapping_limit_is_a_clear_error() {
    // Only per-stack guards meet the limit (slab stacks run out of memory first): run
    // this test again in a child process that forces them.
    if guard_mode() != GuardMode::Mapping {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "hitting_the_mapping_limit_is_a_clear_error",
                "--exact",
                "--nocapture",
            ])
            .env(GUARD_MODE_ENV, "mprotect")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "child failed: {stderr}");
        return;
    }
    let limit: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65530);
    // Each guarded stack costs two mappings, so this many parked coroutines cannot all exist.
    // (Few beyond it: the coroutine crate reads /proc/self/maps to word each failure.)
    let n = limit / 2 + 50;
    if n > 150_000 {
        eprintln!("vm.max_map_count is {limit}: the limit is out of this test's reach, skipped");
        return;
    }
    let rt = corio::Builder::new().workers(2).build().unwrap();
    let started = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (failed, message) = rt.block_on(move || {
        use std::sync::atomic::Ordering::Relaxed;
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            let started = started.clone();
            handles.push(corio::spawn(move || {
                started.fetch_add(1, Relaxed);
                corio::time::sleep(Duration::from_secs(3600))
            }));
        }
        // Wait until every task has started or failed to.
        let t = std::time::Instant::now();
        loop {
            corio::time::sleep(Duration::from_millis(10));
            let failed = handles.iter().filter(|h| h.is_finished()).count();
            if started.load(Relaxed) + failed >= n {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "tasks neither start nor fail"
            );
        }
        for h in &handles {
            h.cancel();
        }
        let mut failed = 0;
        let mut message = String::new();
        for h in handles {
            let err = h.join().unwrap_err();
            if !err.is_cancelled() {
                failed += 1;
                message = *err.into_panic().downcast::<String>().unwrap();
            }
        }
        (failed, message)
    });
    assert!(
        failed > 0,
        "expected some coroutines to fail at vm.max_map_count={limit}"
    );
    assert!(
        message.contains("max_map_count"),
        "unclear error: {message}"
    );
}
