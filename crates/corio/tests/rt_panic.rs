//! Panics inside coroutines stay inside their task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn panicking_coroutines_never_stop_the_runtime() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    let ok = Arc::new(AtomicUsize::new(0));
    let o = ok.clone();
    rt.block_on(move || {
        let hs: Vec<_> = (0..1000u32)
            .map(|i| {
                let o = o.clone();
                corio::spawn(move || {
                    corio::yield_now();
                    if i % 3 == 0 {
                        std::panic::panic_any(i);
                    }
                    o.fetch_add(1, Ordering::Relaxed);
                    i
                })
            })
            .collect();
        for (i, h) in hs.into_iter().enumerate() {
            match h.join() {
                Ok(v) => assert_eq!(v as usize, i),
                Err(payload) => {
                    assert_eq!(i % 3, 0);
                    assert_eq!(*payload.into_panic().downcast::<u32>().unwrap() as usize, i);
                }
            }
        }
    });
    assert_eq!(ok.load(Ordering::Relaxed), 666);
    // The runtime still works afterwards.
    assert_eq!(rt.block_on(|| corio::spawn(|| 5).join().unwrap()), 5);
}

#[test]
fn string_payload_like_std() {
    let rt = corio::Builder::new().workers(1).build().unwrap();
    let n = std::hint::black_box(1);
    let err = rt.block_on(move || corio::spawn(move || panic!("boom {n}")).join().unwrap_err());
    assert_eq!(
        err.to_string(),
        format!("task {} panicked with message \"boom 1\"", err.id())
    );
    assert_eq!(*err.into_panic().downcast::<String>().unwrap(), "boom 1");
}

#[test]
fn main_panic_propagates_from_block_on() {
    let rt = corio::Builder::new().workers(1).build().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(|| panic!("main failed"))
    }));
    assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "main failed");
    assert_eq!(rt.block_on(|| 3), 3);
}
