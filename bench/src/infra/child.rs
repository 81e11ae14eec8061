//! Child processes: the line protocol they report in, a guard that always kills them, and
//! running one with a timeout.
//!
//! Some workloads must not run in the bench process: may's scheduler is a process-wide
//! singleton whose worker count is fixed at first use, its panic hook hangs when a spawn
//! fails at the mapping limit, memory rows need a fresh heap, and servers must sit on their
//! own core. Those run as children: either this binary re-executed with a hidden subcommand
//! (see [`crate::infra::hidden`]) or a Go program built at run time (see [`crate::infra::go_program`]).
//!
//! # Protocol
//! A child prints one line per fact on stdout; anything else is ignored:
//!
//! ```text
//! PROGRESS live=32000               # still going (max-live counts)
//! NOTE stacks of 32 KiB             # a caveat for the reader
//! RESULT value=47.2 min=46 max=49   # the figure (the median), its min and max,
//!        cpu_ms=12 cpu_ms_min=11 .. # then named extras (`K_min`/`K_max` for their spreads)
//! ERROR cannot create ...           # why there is no figure
//! ```
//!
//! A result without `min`/`max` was measured once: both equal the figure.

use std::io::{self, BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::infra::timing::Spread;
use crate::row::{Outcome, Sample};

/// One parsed line of a child's output.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// `RESULT key=value ...`: the figure and its extras.
    Result(Vec<(String, f64)>),
    /// `PROGRESS key=value ...`: how far the child got.
    Progress(Vec<(String, f64)>),
    /// `NOTE text`: a caveat.
    Note(String),
    /// `ERROR text`: the workload could not run.
    Error(String),
}

/// Parses one output line; `None` for lines outside the protocol.
pub fn parse_line(line: &str) -> Option<Line> {
    let line = line.trim_end();
    let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
    match tag {
        "RESULT" => Some(Line::Result(parse_pairs(rest)?)),
        "PROGRESS" => Some(Line::Progress(parse_pairs(rest)?)),
        "NOTE" => Some(Line::Note(rest.to_owned())),
        "ERROR" => Some(Line::Error(rest.to_owned())),
        _ => None,
    }
}

/// Parses `key=number key=number ...`; `None` if any pair is malformed.
fn parse_pairs(text: &str) -> Option<Vec<(String, f64)>> {
    text.split_whitespace()
        .map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

/// Formats a result line (the inverse of [`parse_line`] for [`Line::Result`]).
pub fn result_line(pairs: &[(&str, f64)]) -> String {
    let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("RESULT {}", pairs.join(" "))
}

/// Looks `key` up in a result's pairs.
pub fn get(pairs: &[(String, f64)], key: &str) -> Option<f64> {
    pairs.iter().find(|(k, _)| k == key).map(|&(_, v)| v)
}

/// The spread of `key` in a result's pairs: `key` is the median, `min`/`max` its extremes
/// for the figure (`key` = `value`), `K_min`/`K_max` for an extra `K`; an extreme that is
/// missing equals the median (measured once).
pub fn spread(pairs: &[(String, f64)], key: &str) -> Option<Spread> {
    let median = get(pairs, key)?;
    let (min, max) = if key == "value" {
        ("min".to_owned(), "max".to_owned())
    } else {
        (format!("{key}_min"), format!("{key}_max"))
    };
    Some(Spread {
        min: get(pairs, &min).unwrap_or(median),
        median,
        max: get(pairs, &max).unwrap_or(median),
    })
}

/// A running child process, killed and reaped when dropped (on success, error or panic).
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    /// Starts `cmd`, optionally pinned to one CPU core (set between fork and exec, so every
    /// thread of the child inherits it). Stdout is piped, stdin and stderr are discarded.
    pub fn spawn(mut cmd: Command, core: Option<usize>) -> io::Result<ChildGuard> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(core) = core {
            use std::os::unix::process::CommandExt;
            // SAFETY: the hook only calls `sched_setaffinity` (async-signal-safe) on stack
            // data, which is allowed between fork and exec.
            unsafe {
                cmd.pre_exec(move || crate::infra::os::pin_to_core(core));
            }
        }
        Ok(ChildGuard {
            child: cmd.spawn()?,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// How a child run ended.
#[derive(Debug)]
pub struct Finished {
    /// The protocol lines it printed, in order.
    pub lines: Vec<Line>,
    /// Its exit status, or `None` if it was killed for running past the timeout.
    pub status: Option<ExitStatus>,
}

impl Finished {
    /// The last progress pair named `key`, if any (e.g. how many tasks were live).
    pub fn last_progress(&self, key: &str) -> Option<f64> {
        self.lines.iter().rev().find_map(|l| match l {
            Line::Progress(pairs) => get(pairs, key),
            _ => None,
        })
    }

    /// The notes it printed.
    pub fn notes(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Note(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    /// Its result pairs, or why there are none (its error, a timeout, a bad exit).
    pub fn result(&self) -> Result<Vec<(String, f64)>, String> {
        for line in self.lines.iter().rev() {
            match line {
                Line::Result(pairs) => return Ok(pairs.clone()),
                Line::Error(e) => return Err(e.clone()),
                _ => {}
            }
        }
        Err(match self.status {
            None => "timed out".to_owned(),
            Some(s) => format!("exited ({s}) without a result"),
        })
    }

    /// The result as a sample: `value` (with `min`, `max`) is the figure, notes are kept,
    /// other keys dropped.
    pub fn sample(&self) -> Outcome {
        let pairs = self.result()?;
        let value = spread(&pairs, "value").ok_or("result without a value")?;
        let mut sample = Sample::new(value);
        sample.notes = self.notes();
        Ok(sample)
    }
}

/// Runs `cmd` to the end, or kills it after `timeout`; its protocol lines are collected.
pub fn run(cmd: Command, core: Option<usize>, timeout: Duration) -> io::Result<Finished> {
    run_watched(cmd, core, timeout, None)
}

/// Like [`run`], but with `stall` also kills the child once it has printed nothing new for
/// that long (a repeated identical `PROGRESS` line is not news): that is how a hang is told
/// from slow progress. A `PROGRESS` line with `done=1` ends the watch (the child has
/// finished counting; only `timeout` applies to the rest).
pub fn run_watched(
    cmd: Command,
    core: Option<usize>,
    timeout: Duration,
    stall: Option<Duration>,
) -> io::Result<Finished> {
    let mut guard = ChildGuard::spawn(cmd, core)?;
    let stdout = guard.child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    // A reader thread, so a silent, hung child cannot block us past the deadline.
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut lines: Vec<Line> = Vec::new();
    let mut news = Instant::now();
    loop {
        let now = Instant::now();
        let done = lines
            .iter()
            .any(|l| matches!(l, Line::Progress(p) if get(p, "done").is_some()));
        let stalled = !done && stall.is_some_and(|s| now.duration_since(news) >= s);
        if now >= deadline || stalled {
            drop(guard); // kills it
            return Ok(Finished {
                lines,
                status: None,
            });
        }
        let wait = deadline
            .saturating_duration_since(now)
            .min(Duration::from_millis(100));
        match rx.recv_timeout(wait) {
            Ok(line) => {
                if let Some(line) = parse_line(&line) {
                    if lines.last() != Some(&line) {
                        news = Instant::now();
                    }
                    lines.push(line);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = guard.child.wait()?;
                return Ok(Finished {
                    lines,
                    status: Some(status),
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

/// This binary, re-executed with `args` (a hidden subcommand).
pub fn this_binary(args: &[&str]) -> io::Result<Command> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(args);
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lines_are_parsed() {
        assert_eq!(
            parse_line("RESULT value=47.5 cpu_ms=12\n"),
            Some(Line::Result(vec![
                ("value".into(), 47.5),
                ("cpu_ms".into(), 12.0)
            ]))
        );
        assert_eq!(
            parse_line("PROGRESS live=32000"),
            Some(Line::Progress(vec![("live".into(), 32000.0)]))
        );
        assert_eq!(parse_line("NOTE a b"), Some(Line::Note("a b".into())));
        assert_eq!(parse_line("ERROR boom"), Some(Line::Error("boom".into())));
        assert_eq!(parse_line("hello"), None);
        assert_eq!(parse_line("RESULT value=abc"), None);
        assert_eq!(parse_line("RESULT value"), None);
    }

    #[test]
    fn result_lines_round_trip() {
        let line = result_line(&[("value", 1.5), ("cpu_ms", 3.0)]);
        assert_eq!(line, "RESULT value=1.5 cpu_ms=3");
        let Some(Line::Result(pairs)) = parse_line(&line) else {
            panic!("{line}")
        };
        assert_eq!(get(&pairs, "cpu_ms"), Some(3.0));
        assert_eq!(get(&pairs, "nope"), None);
    }

    #[test]
    fn spreads_are_read_with_their_extremes_or_without() {
        let Some(Line::Result(pairs)) =
            parse_line("RESULT value=2 min=1 max=4 cpu_ms=5 cpu_ms_min=4.5 cpu_ms_max=6")
        else {
            panic!("not a result")
        };
        let s = |min, median, max| Some(Spread { min, median, max });
        assert_eq!(spread(&pairs, "value"), s(1.0, 2.0, 4.0));
        assert_eq!(spread(&pairs, "cpu_ms"), s(4.5, 5.0, 6.0));
        let once = [("value".to_owned(), 3.0)];
        assert_eq!(spread(&once, "value"), s(3.0, 3.0, 3.0));
        assert_eq!(spread(&once, "cpu_ms"), None);
    }

    #[test]
    fn the_last_result_or_error_wins() {
        let f = Finished {
            lines: vec![
                Line::Progress(vec![("live".into(), 5.0)]),
                Line::Error("first".into()),
                Line::Result(vec![("value".into(), 2.0)]),
                Line::Note("n".into()),
            ],
            status: None,
        };
        assert_eq!(f.sample().unwrap().value, 2.0);
        assert_eq!(f.sample().unwrap().notes, ["n"]);
        assert_eq!(f.last_progress("live"), Some(5.0));
        let hung = Finished {
            lines: vec![],
            status: None,
        };
        assert_eq!(hung.result().unwrap_err(), "timed out");
    }

    #[test]
    fn a_hung_child_is_killed_at_the_timeout() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo PROGRESS live=3; sleep 30"]);
        let start = Instant::now();
        let f = run(cmd, None, Duration::from_millis(500)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(f.status.is_none());
        assert_eq!(f.last_progress("live"), Some(3.0));
    }

    #[test]
    fn a_child_done_counting_is_not_stalled() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo PROGRESS live=7 done=1; sleep 1; echo RESULT value=7",
        ]);
        let f = run_watched(
            cmd,
            None,
            Duration::from_secs(20),
            Some(Duration::from_millis(300)),
        )
        .unwrap();
        assert!(f.status.is_some());
        assert_eq!(f.sample().unwrap().value, 7.0);
    }

    #[test]
    fn a_child_repeating_itself_is_stalled() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "while true; do echo PROGRESS live=7; sleep 0.05; done",
        ]);
        let start = Instant::now();
        let f = run_watched(
            cmd,
            None,
            Duration::from_secs(20),
            Some(Duration::from_millis(400)),
        )
        .unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(f.status.is_none());
        assert_eq!(f.last_progress("live"), Some(7.0));
    }
}
