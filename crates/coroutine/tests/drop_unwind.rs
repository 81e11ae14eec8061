//! Dropping a suspended coroutine unwinds it: destructors run exactly once.

use corio_coroutine::{Coroutine, CoroutineResult, Yielder};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct Guard(Arc<AtomicUsize>);
impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn dropping_ten_thousand_suspended_coroutines_runs_each_destructor_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut parked = Vec::new();
    for i in 0..10_000 {
        let counter = drops.clone();
        let mut co = Coroutine::new(move |yielder: &Yielder<(), usize>, ()| {
            let _guard = Guard(counter);
            let _boxed = Box::new([i; 4]);
            loop {
                yielder.suspend(i);
            }
        });
        assert_eq!(co.resume(()), CoroutineResult::Yield(i));
        parked.push(co);
    }
    assert_eq!(drops.load(Ordering::Relaxed), 0);
    drop(parked);
    assert_eq!(drops.load(Ordering::Relaxed), 10_000);
}

#[test]
fn dropping_an_unstarted_coroutine_drops_its_closure() {
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = Guard(drops.clone());
    let co = Coroutine::<(), (), ()>::new(move |_, ()| drop(guard));
    drop(co);
    assert_eq!(drops.load(Ordering::Relaxed), 1);
}

#[test]
fn force_unwind_leaves_a_finished_coroutine() {
    let drops = Arc::new(AtomicUsize::new(0));
    let counter = drops.clone();
    let mut co = Coroutine::new(move |yielder: &Yielder<(), ()>, ()| {
        let _guard = Guard(counter);
        yielder.suspend(());
    });
    let _ = co.resume(());
    co.force_unwind();
    assert!(co.done());
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    co.force_unwind(); // harmless when finished
    assert_eq!(drops.load(Ordering::Relaxed), 1);
}

#[test]
fn catching_the_forced_unwind_cannot_suspend_again() {
    let drops = Arc::new(AtomicUsize::new(0));
    let counter = drops.clone();
    let mut co = Coroutine::new(move |yielder: &Yielder<(), u32>, ()| {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let _guard = Guard(counter.clone());
            yielder.suspend(1);
        }));
        assert!(caught.is_err());
        // Still being dropped: this suspend unwinds again instead of yielding.
        let _second = Guard(counter);
        yielder.suspend(2);
        unreachable!();
    });
    assert_eq!(co.resume(()), CoroutineResult::Yield(1));
    drop(co);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
}

#[test]
fn catching_the_forced_unwind_and_returning_finishes() {
    let mut co = Coroutine::new(|yielder: &Yielder<(), ()>, ()| {
        let caught = catch_unwind(AssertUnwindSafe(|| yielder.suspend(())));
        assert!(caught.is_err());
        String::from("returned value is dropped")
    });
    let _ = co.resume(());
    co.force_unwind();
    assert!(co.done());
}

#[test]
fn dropping_a_coroutine_while_the_resumer_panics() {
    let drops = Arc::new(AtomicUsize::new(0));
    let counter = drops.clone();
    let result = catch_unwind(AssertUnwindSafe(move || {
        let mut co = Coroutine::new(move |yielder: &Yielder<(), ()>, ()| {
            let _guard = Guard(counter);
            yielder.suspend(());
        });
        let _ = co.resume(());
        panic!("resumer fails with a suspended coroutine in scope");
    }));
    assert!(result.is_err());
    assert_eq!(drops.load(Ordering::Relaxed), 1);
}

#[test]
fn force_reset_skips_destructors() {
    // A static counter: the guard is leaked on purpose, and owning no heap
    // memory keeps leak checkers quiet about it.
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct StaticGuard;
    impl Drop for StaticGuard {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut co = Coroutine::new(move |yielder: &Yielder<(), ()>, ()| {
        let _guard = StaticGuard;
        yielder.suspend(());
    });
    let _ = co.resume(());
    // SAFETY: nothing on the coroutine's stack is pinned or referenced.
    unsafe { co.force_reset() };
    assert!(co.done());
    drop(co);
    assert_eq!(DROPS.load(Ordering::Relaxed), 0, "leaked, as documented");
}
