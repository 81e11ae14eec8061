//! Creating and dropping coroutines leaks neither mappings nor memory, and
//! running out of mappings is an error, not an abort.

mod util;

use corio_coroutine::stack::{guard_mode, DefaultStack, GuardMode};
use corio_coroutine::{Coroutine, CoroutineResult, Yielder};
use util::{
    assert_mode, in_child, mapping_count, print_mode, rss_bytes, run_child, run_child_in_mode,
};

#[test]
#[cfg_attr(
    feature = "asan",
    ignore = "ASan's shadow memory changes mappings and RSS"
)]
fn a_million_coroutines_leave_mappings_and_rss_flat() {
    if !in_child() {
        // Alone in a process: other test threads come and go with mappings.
        let output = run_child("a_million_coroutines_leave_mappings_and_rss_flat");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
        return;
    }
    // Warm up: fill this thread's pool and the allocator.
    churn(10_000);
    let maps_before = mapping_count();
    let rss_before = rss_bytes();
    churn(1_000_000);
    let maps_after = mapping_count();
    let rss_after = rss_bytes();
    assert_eq!(maps_before, maps_after, "mappings leaked");
    assert!(
        rss_after < rss_before + (1 << 20),
        "RSS grew by {} bytes",
        rss_after.saturating_sub(rss_before)
    );
}

/// Creates, resumes and drops `n` coroutines; every other one is dropped
/// while suspended (so it is unwound), the rest run to completion.
fn churn(n: usize) {
    for i in 0..n {
        let mut co = Coroutine::new(move |yielder: &Yielder<(), usize>, ()| {
            let owned = Box::new([i; 2]);
            yielder.suspend(owned[1]);
            owned.len()
        });
        assert_eq!(co.resume(()), CoroutineResult::Yield(i));
        if i % 2 == 0 {
            assert_eq!(co.resume(()), CoroutineResult::Return(2));
        }
    }
}

#[test]
#[cfg_attr(
    feature = "asan",
    ignore = "ASan's shadow memory changes mappings and RSS"
)]
fn the_mapping_limit_is_an_error_that_names_it() {
    if in_child() {
        print_mode();
        let max: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        if max > 200_000 {
            // The limit was raised on this machine: nothing to hit cheaply.
            println!("SKIP: vm.max_map_count is {max}");
            return;
        }
        // Allocate the holder up front: near the limit even malloc may fail.
        let mut live = Vec::with_capacity(max);
        let error = loop {
            match Coroutine::<(), (), ()>::try_new(|_, ()| ()) {
                Ok(co) => live.push(co),
                Err(error) => break error,
            }
        };
        println!("LIVE {} ERROR {error}", live.len());
        return;
    }
    // Only per-stack guards come near the limit (slab stacks would fill
    // memory first): force them.
    let (output, mode) = run_child_in_mode("the_mapping_limit_is_an_error_that_names_it", true);
    assert_mode(&output, mode);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed: {output:?}");
    if stdout.contains("SKIP") {
        return;
    }
    assert!(stdout.contains("vm.max_map_count"), "stdout: {stdout}");
    assert!(
        stdout.contains("sysctl -w vm.max_map_count="),
        "stdout: {stdout}"
    );
    let live: usize = stdout
        .split("LIVE ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(live > 20_000, "only {live} coroutines before the error");
}

#[test]
#[cfg_attr(
    feature = "asan",
    ignore = "ASan's shadow memory changes mappings and RSS"
)]
fn slab_stacks_go_far_past_the_per_stack_mapping_limit() {
    if guard_mode() != GuardMode::Slab {
        println!("SKIP: this kernel has no MADV_GUARD_INSTALL");
        return;
    }
    if !in_child() {
        let output = run_child("slab_stacks_go_far_past_the_per_stack_mapping_limit");
        assert!(output.status.success(), "child failed: {output:?}");
        return;
    }
    // Twice what per-stack guards allow at the default vm.max_map_count.
    let n = 70_000;
    let before = mapping_count();
    let mut live = Vec::with_capacity(n);
    for _ in 0..n {
        let co = Coroutine::<(), (), ()>::try_new(|_, ()| ()).expect("slab stacks fit");
        live.push(co);
    }
    let during = mapping_count();
    assert!(
        during < before + 100,
        "{n} live stacks took {} mappings",
        during - before
    );
    drop(live);
    corio_coroutine::stack::trim_cache();
    // The scavenger or trim gave the slabs back: back near where we started.
    assert!(mapping_count() <= before + 20, "slabs stayed mapped");
}

#[test]
fn a_stack_in_the_middle_of_a_slab_is_its_own() {
    // A size no other test uses, so these stacks share fresh slabs.
    const SIZE: usize = 44 * 1024;
    let stacks: Vec<DefaultStack> = (0..20).map(|_| DefaultStack::new(SIZE).unwrap()).collect();
    let mut spans: Vec<(usize, usize)> = stacks
        .iter()
        .map(|s| {
            use corio_coroutine::stack::Stack;
            (s.limit() - s.guard_size(), s.base())
        })
        .collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "stacks overlap: {pair:?}");
    }
    for stack in &stacks {
        use corio_coroutine::stack::Stack;
        // SAFETY: every byte of [limit, base) is ours to write.
        unsafe { std::ptr::write_bytes(stack.limit() as *mut u8, 0xa5, SIZE) };
    }
}
