//! Backtraces walk from inside a coroutine into the code that resumed it.

use corio_coroutine::{Coroutine, Yielder};
use std::backtrace::Backtrace;

#[inline(never)]
fn captured_inside() -> String {
    Backtrace::force_capture().to_string()
}

#[inline(never)]
fn resumer_of_the_coroutine() -> String {
    let mut co = Coroutine::<(), (), String>::new(|_, ()| captured_inside());
    let trace = co.resume(()).as_return().unwrap();
    std::hint::black_box(trace)
}

#[test]
fn a_backtrace_inside_names_the_resumer() {
    let trace = resumer_of_the_coroutine();
    let inside = trace.find("captured_inside").expect(&trace);
    let resumer = trace.find("resumer_of_the_coroutine").expect(&trace);
    assert!(inside < resumer, "{trace}");
    // The walk continues to the test itself.
    assert!(
        trace.contains("a_backtrace_inside_names_the_resumer"),
        "{trace}"
    );
}

#[inline(never)]
fn outer_resumer() -> String {
    let mut outer = Coroutine::<(), (), String>::new(|_, ()| inner_resumer());
    std::hint::black_box(outer.resume(()).as_return().unwrap())
}

#[inline(never)]
fn inner_resumer() -> String {
    let mut inner = Coroutine::<(), (), String>::new(|_, ()| captured_inside());
    std::hint::black_box(inner.resume(()).as_return().unwrap())
}

#[test]
fn backtraces_link_through_nested_coroutines() {
    let trace = outer_resumer();
    let positions: Vec<usize> = ["captured_inside", "inner_resumer", "outer_resumer"]
        .iter()
        .map(|name| {
            trace
                .find(name)
                .unwrap_or_else(|| panic!("{name} missing:\n{trace}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{trace}");
}

#[inline(never)]
fn suspend_deep(yielder: &Yielder<(), String>) {
    let trace = Backtrace::force_capture().to_string();
    yielder.suspend(trace);
}

#[inline(never)]
fn second_resumer(co: &mut Coroutine<(), String, ()>) -> String {
    std::hint::black_box(co.resume(()).as_yield().unwrap())
}

#[test]
fn the_link_follows_whoever_resumes_now() {
    let mut co = Coroutine::new(|yielder: &Yielder<(), String>, ()| {
        yielder.suspend(String::new());
        suspend_deep(yielder);
    });
    let _ = co.resume(());
    let trace = second_resumer(&mut co);
    assert!(trace.contains("suspend_deep"), "{trace}");
    assert!(trace.contains("second_resumer"), "{trace}");
}
