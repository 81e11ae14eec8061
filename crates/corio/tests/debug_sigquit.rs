//! `Builder::dump_on_sigquit`: SIGQUIT writes the dump to stderr and the program goes on.
//! The scenario runs in a child process (this test binary with `CORIO_SIGQUIT_CHILD` set).

mod util;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD: &str = "CORIO_SIGQUIT_CHILD";

#[inline(never)]
fn sleepy_loop() {
    loop {
        corio::time::sleep(Duration::from_millis(50));
        std::hint::black_box(());
    }
}

/// The child: a named coroutine sleeps in a loop; prints `ready`, then ticks until killed.
#[test]
fn child_waits_for_sigquit() {
    if std::env::var(CHILD).is_err() {
        return; // only runs as a child
    }
    let rt = corio::Builder::new()
        .workers(2)
        .dump_on_sigquit(true)
        .build()
        .unwrap();
    let _sleepy = {
        let _g = rt.enter();
        corio::task::Builder::new()
            .name("sleepy")
            .spawn(sleepy_loop)
    };
    println!("ready");
    // Still running after the dump: keeps printing ticks until the parent kills it.
    loop {
        rt.block_on(|| corio::time::sleep(Duration::from_millis(20)));
        println!("tick");
    }
}

#[test]
fn sigquit_writes_the_dump_and_the_program_goes_on() {
    util::watchdog(Duration::from_secs(60), || {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["child_waits_for_sigquit", "--exact", "--nocapture"])
            .env(CHILD, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("ready") {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "child ended early");
        }
        // SAFETY: sends a signal to our own child process.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGQUIT) }, 0);
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        loop {
            line.clear();
            assert!(err.read_line(&mut line).unwrap() > 0, "no dump:\n{seen}");
            seen.push_str(&line);
            if seen.contains("sleepy_loop") {
                break;
            }
        }
        assert!(seen.contains("corio: SIGQUIT"), "{seen}");
        assert!(seen.contains("\"sleepy\" [sleep, "), "{seen}");
        // It goes on: more ticks after the dump.
        let mut rest = [0u8; 64];
        let mut ticks = String::new();
        while !ticks.contains("tick") {
            let n = out.read(&mut rest).unwrap();
            assert!(n > 0, "the child stopped after the dump");
            ticks.push_str(&String::from_utf8_lossy(&rest[..n]));
        }
        assert!(child.try_wait().unwrap().is_none(), "the child exited");
        child.kill().unwrap();
        child.wait().unwrap();
    });
}
