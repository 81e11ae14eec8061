//! A backtrace taken inside a coroutine continues into the code that
//! resumed it, as does a panic's backtrace with `RUST_BACKTRACE=1`.
//!
//! Run with `cargo run -p corio-coroutine --example backtrace`.

use corio_coroutine::{Coroutine, Yielder};
use std::backtrace::Backtrace;

#[inline(never)]
fn deep_inside(yielder: &Yielder<(), String>) {
    yielder.suspend(Backtrace::force_capture().to_string());
}

#[inline(never)]
fn resumer(co: &mut Coroutine<(), String, ()>) -> String {
    co.resume(())
        .as_yield()
        .expect("the coroutine yields its backtrace")
}

fn main() {
    let mut co = Coroutine::new(|yielder, ()| deep_inside(yielder));
    let trace = resumer(&mut co);
    // The frames that matter: the coroutine's, the switch, the resumer's.
    let marks = [
        "deep_inside",
        "entry<",
        "trampoline",
        "resume<",
        "resumer",
        ": main",
    ];
    for line in trace
        .lines()
        .filter(|l| marks.iter().any(|m| l.contains(m)))
    {
        println!("{}", line.trim());
    }
}
