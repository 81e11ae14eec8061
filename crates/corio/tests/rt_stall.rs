//! The stall detector, observed from outside: each test runs a scenario in a child process
//! (this test binary, re-run with `CORIO_STALL_CHILD` set) and reads its stderr. (With the
//! `tracing` feature the report is an event instead: see `trace_events`.)
#![cfg(not(feature = "tracing"))]

use std::process::Command;
use std::time::{Duration, Instant};

const CHILD: &str = "CORIO_STALL_CHILD";
const THRESHOLD: Duration = Duration::from_millis(50);

/// Runs the test `name` of this binary in a child process with `CORIO_STALL_CHILD=mode`;
/// returns its stdout and stderr.
fn run_child(name: &str, mode: &str) -> (String, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, mode)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// The child: a named coroutine spins for 10 thresholds without suspending while another
/// sleeps (parked: no stall); prints the spinner's id on stdout.
#[test]
fn child_spinner() {
    let Ok(mode) = std::env::var(CHILD) else {
        return; // only runs as a child
    };
    let threshold = (mode == "on").then_some(THRESHOLD);
    let rt = corio::Builder::new()
        .workers(2)
        .stall_threshold(threshold)
        .build()
        .unwrap();
    rt.block_on(|| {
        let sleeper = corio::spawn(|| corio::time::sleep(THRESHOLD * 6));
        let spinner = corio::task::Builder::new().name("spinner").spawn(|| {
            println!("spinner id {}", corio::task::current().id().as_u64());
            let start = Instant::now();
            while start.elapsed() < THRESHOLD * 10 {
                std::hint::spin_loop();
            }
        });
        spinner.join().unwrap();
        sleeper.join().unwrap();
    });
}

#[test]
fn a_spinning_coroutine_is_named_while_it_spins_and_once() {
    let (stdout, stderr) = run_child("child_spinner", "on");
    let id = stdout
        .lines()
        // libtest may print its `test NAME ... ` on the same line first.
        .find_map(|l| l.split("spinner id ").nth(1))
        .expect("the child prints the spinner's id");
    let stalls: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("has run for"))
        .collect();
    assert_eq!(stalls.len(), 1, "one report per stall:\n{stderr}");
    let stall = stalls[0];
    assert!(
        stall.starts_with(&format!("corio: coroutine {id} \"spinner\" has run for ")),
        "{stderr}"
    );
    assert!(stall.contains("without suspending"), "{stderr}");
    assert!(stall.contains("(spawned at "), "{stderr}");
    assert!(stall.contains("rt_stall.rs:"), "{stderr}");
    // It was named while it still ran: the end of the stall is reported after it.
    let start = stderr.find(stall).unwrap();
    let end = stderr
        .find(&format!(
            "corio: coroutine {id} \"spinner\" suspended after running for"
        ))
        .expect("the end of the stall is reported");
    assert!(start < end, "{stderr}");
}

#[test]
fn no_report_when_turned_off() {
    let (_, stderr) = run_child("child_spinner", "off");
    assert!(!stderr.contains("corio: coroutine"), "{stderr}");
}
