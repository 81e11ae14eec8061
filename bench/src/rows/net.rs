//! Network rows: one TCP echo client and `wrk` against each system's server, pinned to its
//! own core (method in [`crate::measure::net`]). corio's servers are its `echo` and `http`
//! examples (see [`crate::infra::corio_examples`]); the floor is a hand-written `mio` loop
//! ([`crate::systems::floor`]) that shows what the kernel and a minimal loop cost.

use std::process::Command;

use crate::infra::hidden::server_command;
use crate::infra::timing::Config;
use crate::measure::net;
use crate::measure::workload as w;
use crate::row::{Entry, Outcome, Row, Unit};
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

/// The systems of the network rows, in table order.
const SYSTEMS: [System; 5] = [
    System::Corio,
    System::May,
    System::Tokio,
    System::Go,
    System::Floor,
];

/// Every system's server for `protocol` (`echo` or `http`).
fn contenders(protocol: &'static str) -> Vec<(System, net::MakeServer)> {
    SYSTEMS
        .into_iter()
        .map(|system| {
            let make: net::MakeServer = match system {
                System::Corio => {
                    Box::new(move |a| crate::infra::corio_examples::server(protocol, a))
                }
                System::Go => Box::new(move |a| go_server(&format!("{protocol}-server"), a)),
                System::Tokio => Box::new(move |a| ours(&format!("tokio-{protocol}"), a)),
                System::May => Box::new(move |a| ours(&format!("may-{protocol}"), a)),
                _ => Box::new(move |a| ours(&format!("floor-{protocol}"), a)),
            };
            (system, make)
        })
        .collect()
}

/// What a system's rate figure notes: how its server was built.
fn with_note(system: System, protocol: &str, figures: net::Figures) -> net::Figures {
    let note = match system {
        System::Corio => crate::infra::corio_examples::note(protocol),
        System::Go => crate::infra::go_program::version_note(),
        System::Floor => FLOOR_NOTE.to_owned(),
        _ => return figures,
    };
    figures.map(|(rate, cpu)| (rate.note(note), cpu))
}

/// How a protocol's figures are measured for all its servers: [`net::echo`], [`net::http`].
type Measure = fn(&Config, Vec<(System, net::MakeServer)>) -> Vec<(System, net::Figures)>;

/// The figures of `system` for `protocol` (`echo` or `http`, measured by `measure`); the
/// first call measures every system, in interleaved rounds, and both rows of the protocol
/// (rate and CPU) take from that one run.
fn figures(
    protocol: &'static str,
    measure: Measure,
    system: System,
    config: &Config,
) -> net::Figures {
    w::pair_of_all(protocol, system, || {
        measure(config, contenders(protocol))
            .into_iter()
            .map(|(s, figures)| (s, with_note(s, protocol, figures)))
            .collect()
    })
}

/// Echo figures for `system`, shared by `echo` and `echo-cpu`.
fn echo(system: System, config: &Config) -> net::Figures {
    figures("echo", net::echo, system, config)
}

/// HTTP figures for `system`, shared by `http` and `http-cpu`.
fn http(system: System, config: &Config) -> net::Figures {
    figures("http", net::http, system, config)
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
