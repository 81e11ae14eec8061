//! What a stack overflow inside a coroutine looks like: one line naming the
//! coroutine and its stack size, then an abort.
//!
//! Run with `cargo run -p corio-coroutine --example overflow` (it aborts).

use corio_coroutine::stack::DefaultStack;
use corio_coroutine::{Coroutine, Yielder};

#[allow(unconditional_recursion)] // overflowing is the point
fn recurse(depth: u64) -> u64 {
    let frame = [depth; 16];
    std::hint::black_box(&frame);
    recurse(depth + 1) + frame[3]
}

fn main() {
    let stack = DefaultStack::new(64 * 1024).expect("map a stack");
    let mut co = Coroutine::with_stack(stack, |_: &Yielder<(), ()>, ()| {
        std::hint::black_box(recurse(0));
    });
    co.set_name("recursive-parser");
    let _ = co.resume(());
}
