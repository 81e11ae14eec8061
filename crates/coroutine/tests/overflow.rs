//! A stack overflow names the coroutine and its stack size, then aborts.
//! Each case runs in a child process, since the process must die, once in
//! each guard mode (slab guards where the kernel has them, and per-stack
//! `PROT_NONE` guards forced with `CORIO_STACK_GUARD=mprotect`).

mod util;

use corio_coroutine::stack::DefaultStack;
use corio_coroutine::{Coroutine, Yielder};
use std::process::Output;
use util::{assert_mode, in_child, killed_by, print_mode, run_child_in_mode, BOTH_MODES};

#[inline(never)]
#[allow(unconditional_recursion)] // overflowing is the point
fn small_frames(depth: u64) -> u64 {
    let local = [depth; 4];
    std::hint::black_box(&local);
    small_frames(depth + 1) + local[0]
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn huge_frames(depth: u64) -> u64 {
    // 64 KiB frames: stack probes must still hit the guard page.
    let local = [depth as u8; 64 * 1024];
    std::hint::black_box(&local);
    huge_frames(depth + 1) + u64::from(local[7])
}

fn overflow_in_named_coroutine(recurse: fn(u64) -> u64) {
    let stack = DefaultStack::new(128 * 1024).unwrap();
    let mut co = Coroutine::with_stack(stack, move |_: &Yielder<(), ()>, ()| {
        std::hint::black_box(recurse(0));
    });
    co.set_name("deep-thinker");
    let _ = co.resume(());
}

/// Runs test `name` in a child in each guard mode; checks the mode and
/// hands each output to `check`.
fn in_both_modes(name: &str, check: impl Fn(&Output, &str)) {
    for fallback in BOTH_MODES {
        let (output, mode) = run_child_in_mode(name, fallback);
        assert_mode(&output, mode);
        check(&output, &String::from_utf8_lossy(&output.stderr));
    }
}

fn assert_overflow_report(name: &str) {
    in_both_modes(name, |output, stderr| {
        assert!(
            stderr.contains("corio: coroutine 'deep-thinker' has overflowed its stack of 128 KiB"),
            "stderr was: {stderr}"
        );
        assert_eq!(
            killed_by(output),
            Some(libc::SIGABRT),
            "stderr was: {stderr}"
        );
    });
}

#[test]
fn overflow_with_small_frames_is_reported() {
    if in_child() {
        print_mode();
        overflow_in_named_coroutine(small_frames);
        return;
    }
    assert_overflow_report("overflow_with_small_frames_is_reported");
}

#[test]
fn overflow_with_64_kib_frames_is_reported() {
    if in_child() {
        print_mode();
        overflow_in_named_coroutine(huge_frames);
        return;
    }
    assert_overflow_report("overflow_with_64_kib_frames_is_reported");
}

#[test]
fn overflow_in_an_unnamed_nested_coroutine_is_reported() {
    if in_child() {
        print_mode();
        let mut outer = Coroutine::new(|_: &Yielder<(), ()>, ()| {
            let mut inner = Coroutine::new(|_: &Yielder<(), ()>, ()| {
                std::hint::black_box(small_frames(0));
            });
            let _ = inner.resume(());
        });
        let _ = outer.resume(());
        return;
    }
    in_both_modes(
        "overflow_in_an_unnamed_nested_coroutine_is_reported",
        |output, stderr| {
            assert!(
                stderr.contains("corio: coroutine <unnamed> has overflowed its stack of 256 KiB"),
                "stderr was: {stderr}"
            );
            assert_eq!(killed_by(output), Some(libc::SIGABRT));
        },
    );
}

#[test]
#[cfg_attr(feature = "asan", ignore = "under ASan the previous handler is ASan's")]
fn other_faults_keep_their_usual_outcome() {
    if in_child() {
        print_mode();
        // Make sure our handler is installed, then fault outside any guard.
        let mut co = Coroutine::new(|_: &Yielder<(), ()>, ()| {
            let wild = std::hint::black_box(16usize) as *mut u8;
            // SAFETY: deliberately invalid: the test expects SIGSEGV.
            unsafe { wild.write_volatile(1) };
        });
        let _ = co.resume(());
        return;
    }
    in_both_modes("other_faults_keep_their_usual_outcome", |output, stderr| {
        assert!(!stderr.contains("overflowed"), "stderr was: {stderr}");
        assert_eq!(killed_by(output), Some(libc::SIGSEGV));
    });
}

#[test]
#[cfg_attr(feature = "asan", ignore = "under ASan the previous handler is ASan's")]
fn thread_stack_overflow_is_still_reported_by_std() {
    if in_child() {
        print_mode();
        let _ = Coroutine::<(), (), ()>::new(|_, ()| ()); // installs our handler
        std::thread::Builder::new()
            .name("plain-thread".into())
            .stack_size(256 * 1024)
            .spawn(|| small_frames(0))
            .unwrap()
            .join()
            .unwrap();
        return;
    }
    in_both_modes(
        "thread_stack_overflow_is_still_reported_by_std",
        |output, stderr| {
            assert!(
                stderr.contains("has overflowed its stack"),
                "stderr was: {stderr}"
            );
            assert!(!stderr.contains("corio:"), "stderr was: {stderr}");
            assert_eq!(killed_by(output), Some(libc::SIGABRT));
        },
    );
}

#[test]
fn overflow_of_a_stack_amid_others_names_that_stack() {
    if in_child() {
        print_mode();
        // A size of its own: the stacks come from fresh slabs, this one
        // with neighbours on both sides in slab mode.
        let neighbours: Vec<_> = (0..5)
            .map(|_| DefaultStack::new(96 * 1024).unwrap())
            .collect();
        let stack = DefaultStack::new(96 * 1024).unwrap();
        let above = DefaultStack::new(96 * 1024).unwrap();
        let mut co = Coroutine::with_stack(stack, |_: &Yielder<(), ()>, ()| {
            std::hint::black_box(small_frames(0));
        });
        co.set_name("middle");
        let _ = co.resume(());
        drop((neighbours, above));
        return;
    }
    in_both_modes(
        "overflow_of_a_stack_amid_others_names_that_stack",
        |output, stderr| {
            assert!(
                stderr.contains("corio: coroutine 'middle' has overflowed its stack of 96 KiB"),
                "stderr was: {stderr}"
            );
            assert_eq!(killed_by(output), Some(libc::SIGABRT));
        },
    );
}

#[test]
fn overflow_of_a_stack_given_back_and_reused_is_caught() {
    if in_child() {
        use corio_coroutine::stack::{set_pool_capacity, trim_cache, Stack};
        print_mode();
        // Freed stacks skip this thread's pool and go to the cache, then all
        // back to their slab at once: adjacent ones in one MADV_DONTNEED,
        // which spans the guards between them.
        set_pool_capacity(0);
        let mut stacks: Vec<_> = (0..4)
            .map(|_| DefaultStack::new(112 * 1024).unwrap())
            .collect();
        let _keeps_the_slab_mapped = stacks.remove(0);
        drop(stacks);
        trim_cache();
        let mut again: Vec<_> = (0..3)
            .map(|_| DefaultStack::new(112 * 1024).unwrap())
            .collect();
        // The highest stack: in slab mode its guard lay inside the range given back.
        again.sort_by_key(|s| s.base());
        let stack = again.pop().unwrap();
        let mut co = Coroutine::with_stack(stack, |_: &Yielder<(), ()>, ()| {
            std::hint::black_box(small_frames(0));
        });
        co.set_name("reused");
        let _ = co.resume(());
        return;
    }
    in_both_modes(
        "overflow_of_a_stack_given_back_and_reused_is_caught",
        |output, stderr| {
            assert!(
                stderr.contains("corio: coroutine 'reused' has overflowed its stack of 112 KiB"),
                "stderr was: {stderr}"
            );
            assert_eq!(killed_by(output), Some(libc::SIGABRT));
        },
    );
}
