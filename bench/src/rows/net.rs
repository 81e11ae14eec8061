//! Network rows: one TCP echo client and `wrk` against each system's server, pinned to its
//! own core (method in [`crate::measure::net`]). corio's servers are its `echo` and `http`
//! examples (see [`crate::infra::corio_examples`]); the floor is a hand-written `mio` loop
//! ([`crate::systems::floor`]) that shows what the kernel and a minimal loop cost.

use std::process::Command;

use crate::infra::hidden::server_command;
use crate::infra::timing::Config;
use crate::measure::net;
use crate::measure::workload::{self as w, pair};
use crate::row::{Entry, Outcome, Row, Sample, Unit};
use crate::system::System;

/// What the floor is, for the notes.
const FLOOR_NOTE: &str =
    "floor: a hand-written single-threaded mio event loop (bench/src/systems/floor.rs): \
     read, answer, write; no runtime";

/// An entry of a row.
fn entry(system: System, run: fn(&Config) -> Outcome) -> Entry {
    Entry { system, run }
}

/// This binary serving `name` (a hidden `serve` subcommand).
fn ours(name: &str, addr: &str) -> Result<Command, String> {
    server_command(name, addr).map_err(|e| e.to_string())
}

/// The Go program serving `what` with one P.
fn go_server(what: &str, addr: &str) -> Result<Command, String> {
    let mut cmd = crate::infra::go_program::command(&[what.to_owned(), addr.to_owned()])?;
    cmd.env("GOMAXPROCS", "1");
    Ok(cmd)
}

/// Echo figures for `system`, measured once and shared by `echo` and `echo-cpu`.
fn echo(system: System, config: &Config) -> Result<(Sample, Sample), String> {
    pair("echo", system, || match system {
        System::Corio => net::echo(config, |a| crate::infra::corio_examples::server("echo", a))
            .map(|(r, c)| (r.note(crate::infra::corio_examples::note("echo")), c)),
        System::Tokio => net::echo(config, |a| ours("tokio-echo", a)),
        System::May => net::echo(config, |a| ours("may-echo", a)),
        System::Floor => {
            net::echo(config, |a| ours("floor-echo", a)).map(|(r, c)| (r.note(FLOOR_NOTE), c))
        }
        System::Go => net::echo(config, |a| go_server("echo-server", a))
            .map(|(r, c)| (r.note(crate::infra::go_program::version_note()), c)),
        _ => Err("no echo server".to_owned()),
    })
}

/// HTTP figures for `system`, measured once and shared by `http` and `http-cpu`.
fn http(system: System, config: &Config) -> Result<(Sample, Sample), String> {
    pair("http", system, || match system {
        System::Corio => net::http(config, |a| crate::infra::corio_examples::server("http", a))
            .map(|(r, c)| (r.note(crate::infra::corio_examples::note("http")), c)),
        System::Tokio => net::http(config, |a| ours("tokio-http", a)),
        System::May => net::http(config, |a| ours("may-http", a)),
        System::Floor => {
            net::http(config, |a| ours("floor-http", a)).map(|(r, c)| (r.note(FLOOR_NOTE), c))
        }
        System::Go => net::http(config, |a| go_server("http-server", a))
            .map(|(r, c)| (r.note(crate::infra::go_program::version_note()), c)),
        _ => Err("no HTTP server".to_owned()),
    })
}

/// The network rows, in table order. Each system's echo (or HTTP) traffic is measured once
/// and feeds both the rate row and the CPU row.
pub fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "echo",
            unit: Unit::RoundTripsPerSec,
            about: "TCP echo, 50 connections, 64 B, server on core 0 with 1 worker",
            entries: vec![
                entry(System::Corio, |c| w::first(echo(System::Corio, c))),
                entry(System::May, |c| w::first(echo(System::May, c))),
                entry(System::Tokio, |c| w::first(echo(System::Tokio, c))),
                entry(System::Go, |c| w::first(echo(System::Go, c))),
                entry(System::Floor, |c| w::first(echo(System::Floor, c))),
            ],
        },
        Row {
            name: "echo-cpu",
            unit: Unit::CpuUsPerRoundTrip,
            about: "the same run's server CPU time per round trip (/proc/PID/stat)",
            entries: vec![
                entry(System::Corio, |c| w::second(echo(System::Corio, c))),
                entry(System::May, |c| w::second(echo(System::May, c))),
                entry(System::Tokio, |c| w::second(echo(System::Tokio, c))),
                entry(System::Go, |c| w::second(echo(System::Go, c))),
                entry(System::Floor, |c| w::second(echo(System::Floor, c))),
            ],
        },
        Row {
            name: "http",
            unit: Unit::ReqPerSec,
            about: "wrk -t1 -c50 against a hello-world server on core 0 with 1 worker",
            entries: vec![
                entry(System::Corio, |c| w::first(http(System::Corio, c))),
                entry(System::May, |c| w::first(http(System::May, c))),
                entry(System::Tokio, |c| w::first(http(System::Tokio, c))),
                entry(System::Go, |c| w::first(http(System::Go, c))),
                entry(System::Floor, |c| w::first(http(System::Floor, c))),
            ],
        },
        Row {
            name: "http-cpu",
            unit: Unit::CpuUsPerRequest,
            about: "the same wrk runs' server CPU time per request (/proc/PID/stat)",
            entries: vec![
                entry(System::Corio, |c| w::second(http(System::Corio, c))),
                entry(System::May, |c| w::second(http(System::May, c))),
                entry(System::Tokio, |c| w::second(http(System::Tokio, c))),
                entry(System::Go, |c| w::second(http(System::Go, c))),
                entry(System::Floor, |c| w::second(http(System::Floor, c))),
            ],
        },
    ]
}
