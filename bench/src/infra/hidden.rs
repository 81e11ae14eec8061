//! Hidden subcommands: this binary re-executed as a child process.
//!
//! - `corio-bench child NAME quick|full REPS` runs one in-process workload (from [`CHILD`])
//!   with REPS timed repetitions and prints its outcome in the [`crate::infra::child`]
//!   protocol. Used where a fresh process matters: may (its scheduler's worker count is fixed
//!   at first use), memory per task (a fresh heap), max-live (a hang or an abort must not take
//!   the bench down).
//! - `corio-bench serve NAME 127.0.0.1:PORT` runs one server (from [`SERVERS`]) until killed;
//!   the echo and HTTP rows start it pinned to core 0.
//!
//! Neither appears in `--help`: they are plumbing, not user interface.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use crate::infra::child::{self, Finished};
use crate::infra::timing::Config;
use crate::row::{Field, Outcome};
use crate::systems::{corio_runtime, floor, may, surge, tokio};

/// A workload that can run in a child process.
type ChildWorkload = fn(&Config) -> Outcome;
/// A server that runs until killed, listening on the given address.
type Server = fn(&str) -> io::Result<()>;

/// The workloads `child NAME` can run.
const CHILD: &[(&str, ChildWorkload)] = &[
    ("corio-parked", corio_runtime::parked_here),
    ("corio-max-live", corio_runtime::max_live_here),
    ("tokio-parked", tokio::parked_here),
    ("tokio-max-live", tokio::max_live_here),
    ("may-yield", may::yield_here),
    ("may-spawn", may::spawn_here),
    ("may-sleep", may::sleep_here),
    ("may-parked", may::parked_here),
    ("may-max-live", may::max_live_here),
    ("may-pingpong-1", may::pingpong_1_here),
    ("may-pingpong-2", may::pingpong_2_here),
    ("may-mpmc", may::mpmc_here),
    ("may-mutex", may::mutex_here),
    ("corio-surge", surge::corio_here),
    ("tokio-surge", surge::tokio_here),
];

/// The servers `serve NAME` can run.
const SERVERS: &[(&str, Server)] = &[
    ("tokio-echo", tokio::echo_server),
    ("tokio-http", tokio::http_server),
    ("may-echo", may::echo_server),
    ("may-http", may::http_server),
    ("floor-echo", floor::echo_server),
    ("floor-http", floor::http_server),
];

/// Runs a hidden subcommand if `args` (after the program name) name one.
pub fn dispatch(args: &[String]) -> Option<ExitCode> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["child", name, mode, reps] => {
            let config = if *mode == "quick" {
                Config::QUICK
            } else {
                Config::FULL
            };
            let config = config.with_reps(reps.parse().unwrap_or(config.reps));
            let Some((_, workload)) = CHILD.iter().find(|(n, _)| n == name) else {
                println!("ERROR no child workload `{name}`");
                return Some(ExitCode::from(2));
            };
            print_outcome(&workload(&config));
            Some(ExitCode::SUCCESS)
        }
        ["serve", name, addr] => {
            let Some((_, server)) = SERVERS.iter().find(|(n, _)| n == name) else {
                println!("ERROR no server `{name}`");
                return Some(ExitCode::from(2));
            };
            if let Err(e) = server(addr) {
                println!("ERROR {e}");
            }
            Some(ExitCode::FAILURE)
        }
        _ => None,
    }
}

/// Prints an outcome in the child protocol: notes, then the result (value and numeric
/// fields) or the error.
fn print_outcome(outcome: &Outcome) {
    match outcome {
        Ok(sample) => {
            for note in &sample.notes {
                println!("NOTE {note}");
            }
            let mut pairs = vec![
                ("value", sample.value),
                ("min", sample.min),
                ("max", sample.max),
            ];
            for (key, field) in &sample.fields {
                match field {
                    Field::Int(n) => pairs.push((key, *n as f64)),
                    Field::Float(x) => pairs.push((key, *x)),
                    Field::Bool(b) => pairs.push((key, f64::from(u8::from(*b)))),
                }
            }
            println!("{}", child::result_line(&pairs));
        }
        Err(why) => println!("ERROR {why}"),
    }
}

/// Runs the child workload `name` in a fresh process of this binary (killed after
/// `timeout`).
pub fn in_child(name: &str, config: &Config, timeout: Duration) -> Result<Finished, String> {
    child::run(child_command(name, config)?, None, timeout).map_err(|e| e.to_string())
}

/// The command running child workload `name` under `config` in a fresh process.
pub fn child_command(name: &str, config: &Config) -> Result<std::process::Command, String> {
    let mode = if config.quick { "quick" } else { "full" };
    let reps = config.reps.to_string();
    child::this_binary(&["child", name, mode, &reps]).map_err(|e| e.to_string())
}

/// The command starting server `name` on `addr` in a child process.
pub fn server_command(name: &str, addr: &str) -> io::Result<std::process::Command> {
    child::this_binary(&["serve", name, addr])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, (name, _)) in CHILD.iter().enumerate() {
            assert!(CHILD[..i].iter().all(|(n, _)| n != name), "{name}");
        }
        for (i, (name, _)) in SERVERS.iter().enumerate() {
            assert!(SERVERS[..i].iter().all(|(n, _)| n != name), "{name}");
        }
    }

    #[test]
    fn other_arguments_are_not_hidden_commands() {
        assert!(dispatch(&["--quick".to_owned()]).is_none());
        assert!(dispatch(&[]).is_none());
    }
}
