//! Panics inside a coroutine reach its resumer, with the coroutine's
//! locals dropped.

use corio_coroutine::{Coroutine, Yielder};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

struct CountDrop(Rc<Cell<usize>>);
impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

fn recurse_then_panic(yielder: &Yielder<(), ()>, depth: usize, drops: &Rc<Cell<usize>>) {
    let _guard = CountDrop(drops.clone());
    if depth == 1 {
        yielder.suspend(());
        panic!("boom at the bottom");
    }
    recurse_then_panic(yielder, depth - 1, drops);
}

fn panic_at_depth(depth: usize) {
    let drops = Rc::new(Cell::new(0));
    let inside = drops.clone();
    let stack = corio_coroutine::stack::DefaultStack::new(4 << 20).unwrap();
    let mut co = Coroutine::with_stack(stack, move |yielder, ()| {
        recurse_then_panic(yielder, depth, &inside);
    });
    let _ = co.resume(());
    assert_eq!(drops.get(), 0);
    let payload = catch_unwind(AssertUnwindSafe(|| co.resume(()))).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom at the bottom"));
    assert_eq!(drops.get(), depth, "every frame's local was dropped");
    assert!(co.done());
}

#[test]
fn panic_at_depth_1() {
    panic_at_depth(1);
}

#[test]
fn panic_at_depth_100() {
    panic_at_depth(100);
}

#[test]
fn panic_at_depth_10_000() {
    panic_at_depth(10_000);
}

#[test]
fn a_panic_before_the_first_suspend_propagates() {
    let mut co = Coroutine::<u32, (), ()>::new(|_, n| panic!("bad input {n}"));
    let payload = catch_unwind(AssertUnwindSafe(|| co.resume(3))).unwrap_err();
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "bad input 3");
    assert!(co.done());
}

#[test]
fn a_panic_in_a_nested_coroutine_crosses_both() {
    let mut outer = Coroutine::<(), (), ()>::new(|_, ()| {
        let mut inner = Coroutine::<(), (), ()>::new(|_, ()| panic!("inner"));
        let _ = inner.resume(());
    });
    let payload = catch_unwind(AssertUnwindSafe(|| outer.resume(()))).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"inner"));
}
