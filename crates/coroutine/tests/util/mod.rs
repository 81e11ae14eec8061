//! Helpers shared by the integration tests.
#![allow(dead_code)]

use corio_coroutine::stack::{guard_mode, GuardMode, GUARD_MODE_ENV};
use std::process::{Command, Output};

/// Whether this process is a child started by [`run_child`].
pub fn in_child() -> bool {
    std::env::var_os("CORIO_TEST_CHILD").is_some()
}

/// Runs test `name` of the current test binary in a child process (for
/// behaviour that must kill the process) and returns its output.
pub fn run_child(name: &str) -> Output {
    child(name).output().unwrap()
}

/// Runs test `name` in a child process like [`run_child`], with stack guards
/// made per stack (`CORIO_STACK_GUARD=mprotect`) if `fallback`, else as the
/// kernel allows; returns the output and the mode the child must be in.
pub fn run_child_in_mode(name: &str, fallback: bool) -> (Output, GuardMode) {
    let mut command = child(name);
    let mode = if fallback {
        command.env(GUARD_MODE_ENV, "mprotect");
        GuardMode::Mapping
    } else {
        guard_mode()
    };
    (command.output().unwrap(), mode)
}

/// Both guard modes, for tests that must hold in each.
pub const BOTH_MODES: [bool; 2] = [false, true];

fn child(name: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("CORIO_TEST_CHILD", "1")
        .env("RUST_BACKTRACE", "0");
    command
}

/// Prints this process's guard mode to stderr, for [`assert_mode`].
pub fn print_mode() {
    eprintln!("guard mode: {:?}", guard_mode());
}

/// Asserts that a child that called [`print_mode`] ran in `mode`.
pub fn assert_mode(output: &Output, mode: GuardMode) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("guard mode: {mode:?}")),
        "expected {mode:?}; stderr was: {stderr}"
    );
}

/// The signal that killed a child, if one did.
pub fn killed_by(output: &Output) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    output.status.signal()
}

/// Lines in /proc/self/maps: one per kernel mapping.
pub fn mapping_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// Resident set size of this process, in bytes.
pub fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}
