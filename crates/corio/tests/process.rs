//! `corio::process`: status, output, piped streams, and a wait that parks only its coroutine.

mod util;

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use corio::process::Command;
use util::watchdog;

fn one_worker() -> corio::Runtime {
    corio::Builder::new().workers(1).build().unwrap()
}

#[test]
fn status_of_true_and_false() {
    watchdog(Duration::from_secs(30), || {
        corio::run(|| {
            assert!(Command::new("true").status().unwrap().success());
            assert_eq!(Command::new("false").status().unwrap().code(), Some(1));
            let missing = Command::new("/nonexistent/corio-test").status();
            assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
        })
    });
}

#[test]
fn output_collects_stdout_stderr_and_code() {
    let out = watchdog(Duration::from_secs(30), || {
        corio::run(|| {
            Command::new("sh")
                .args(["-c", "echo out; echo err >&2; exit 3"])
                .output()
                .unwrap()
        })
    });
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(3));
}

/// More than a pipe buffer (64 KiB) on each stream: reading one after the other would stall.
#[test]
fn output_reads_both_pipes_at_once() {
    let out = watchdog(Duration::from_secs(30), || {
        one_worker().block_on(|| {
            let script = "head -c 300000 /dev/zero >&2; head -c 200000 /dev/zero";
            Command::new("sh").args(["-c", script]).output().unwrap()
        })
    });
    assert!(out.status.success());
    assert_eq!((out.stdout.len(), out.stderr.len()), (200_000, 300_000));
}

#[test]
fn piped_stdin_and_stdout_are_streams() {
    let got = watchdog(Duration::from_secs(30), || {
        one_worker().block_on(|| {
            let mut child = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            // 1 MiB through cat: both sides park on full/empty pipes in turn.
            let writer = corio::spawn(move || {
                let chunk = [b'x'; 4096];
                for _ in 0..256 {
                    stdin.write_all(&chunk).unwrap();
                }
            });
            let mut out = Vec::new();
            child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
            writer.join().unwrap();
            assert!(child.wait().unwrap().success());
            out.len()
        })
    });
    assert_eq!(got, 1 << 20);
}

/// The child runs until a neighbour coroutine on the only worker kills it: if `wait` blocked
/// the worker, the neighbour could never run.
#[test]
fn wait_parks_only_its_coroutine() {
    let status = watchdog(Duration::from_secs(30), || {
        one_worker().block_on(|| {
            let mut child = Command::new("sleep").arg("600").spawn().unwrap();
            let pid = child.id() as libc::pid_t;
            corio::spawn(move || {
                corio::yield_now();
                // SAFETY: sends a signal to our own child, which has not been reaped yet.
                assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
            });
            child.wait().unwrap()
        })
    });
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn works_on_a_plain_thread() {
    assert!(Command::new("true").status().unwrap().success());
    let out = Command::new("sh")
        .args(["-c", "echo a; echo b >&2"])
        .output()
        .unwrap();
    assert_eq!(
        (&out.stdout[..], &out.stderr[..]),
        (&b"a\n"[..], &b"b\n"[..])
    );
}
