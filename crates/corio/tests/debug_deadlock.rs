//! The deadlock report lists every coroutine with its frames, as Go's does.

mod util;

use std::time::Duration;

#[inline(never)]
fn main_waits_forever() -> u32 {
    corio::task::park();
    std::hint::black_box(1) // not a tail call
}

#[inline(never)]
fn helper_waits_for_a_message(rx: corio::sync::channel::Receiver<u32>) -> u32 {
    rx.recv().unwrap_or(0) + std::hint::black_box(1)
}

#[test]
fn the_deadlock_report_includes_the_dump() {
    util::watchdog(Duration::from_secs(60), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(|| {
                let (tx, rx) = corio::sync::channel::unbounded::<u32>();
                let helper = corio::task::Builder::new()
                    .name("helper")
                    .spawn(move || helper_waits_for_a_message(rx));
                std::mem::forget(tx); // never sends, never closes
                std::mem::forget(helper);
                main_waits_forever();
            })
        }));
        let payload = r.expect_err("expected the deadlock report");
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(msg.starts_with("corio: all coroutines are asleep"), "{msg}");
        assert!(msg.contains("\"main\" [park, worker "), "{msg}");
        assert!(msg.contains("main_waits_forever"), "{msg}");
        assert!(msg.contains("\"helper\" [chan receive, "), "{msg}");
        assert!(msg.contains("helper_waits_for_a_message"), "{msg}");
    });
}
