//! Stack sizes a runtime user can reach: per task, the main coroutine's, and the setting an
//! overflow report names. Cases that may overflow run in a child process (an overflow aborts).

use std::process::{Command, Output};

fn in_child() -> bool {
    std::env::var_os("CORIO_TEST_CHILD").is_some()
}

/// Runs test `name` of this binary alone in a child process.
fn run_child(name: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("CORIO_TEST_CHILD", "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

/// Touches a `N`-byte local.
#[inline(never)]
fn big_local<const N: usize>() -> usize {
    let big = [1u8; N];
    std::hint::black_box(&big)
        .iter()
        .map(|&b| usize::from(b))
        .sum()
}

#[test]
fn the_main_coroutine_has_a_thread_sized_stack() {
    if in_child() {
        assert_eq!(corio::run(big_local::<{ 1 << 20 }>), 1 << 20);
        return;
    }
    let output = run_child("the_main_coroutine_has_a_thread_sized_stack");
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn a_task_can_have_a_larger_stack_of_its_own() {
    if in_child() {
        let n = corio::run(|| {
            corio::task::Builder::new()
                .stack_size(2 << 20)
                .spawn(big_local::<{ 1 << 20 }>)
                .join()
                .unwrap()
        });
        assert_eq!(n, 1 << 20);
        return;
    }
    let output = run_child("a_task_can_have_a_larger_stack_of_its_own");
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn an_overflow_names_the_settings_that_give_a_larger_stack() {
    if in_child() {
        corio::run(|| {
            corio::task::Builder::new()
                .name("greedy")
                .stack_size(64 * 1024)
                .spawn(big_local::<{ 1 << 20 }>)
                .join()
                .unwrap()
        });
        return;
    }
    let output = run_child("an_overflow_names_the_settings_that_give_a_larger_stack");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("coroutine 'greedy' has overflowed its stack of 64 KiB"),
        "stderr was: {stderr}"
    );
    assert!(
        stderr.contains("corio::Builder::stack_size")
            && stderr.contains("corio::task::Builder::stack_size"),
        "stderr was: {stderr}"
    );
    assert!(!output.status.success());
}
