//! Rows comparing channels and locks between tasks (corio: `corio::sync`).

use crate::infra::timing::Config;
use crate::row::{Entry, Outcome, Row, Unit};
use crate::system::System;
use crate::systems::{corio_runtime, go, may, threads, tokio};

/// An entry of a row.
fn entry(system: System, run: fn(&Config) -> Outcome) -> Entry {
    Entry { system, run }
}

/// The channel and lock rows, in table order.
pub fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "pingpong-1w",
            unit: Unit::Ns,
            about: "round trip over a rendezvous/1-slot channel each way, 1 worker",
            entries: vec![
                entry(System::Corio, corio_runtime::pingpong_1),
                entry(System::May, may::pingpong_1),
                entry(System::Tokio, tokio::pingpong_1),
                entry(System::Go, go::pingpong_1),
            ],
        },
        Row {
            name: "pingpong-2w",
            unit: Unit::Ns,
            about: "round trip over a rendezvous/1-slot channel each way, 2 workers",
            entries: vec![
                entry(System::Corio, corio_runtime::pingpong_2),
                entry(System::May, may::pingpong_2),
                entry(System::Tokio, tokio::pingpong_2),
                entry(System::Go, go::pingpong_2),
            ],
        },
        Row {
            name: "mpmc",
            unit: Unit::MsgsPerSec,
            about: "8 producers x 8 consumers on one channel (1024 slots), 2 workers",
            entries: vec![
                entry(System::Corio, corio_runtime::mpmc),
                entry(System::May, may::mpmc),
                entry(System::Tokio, |_| Err("tokio has no MPMC channel".into())),
                entry(System::Go, go::mpmc),
                entry(System::Threads, threads::mpmc),
            ],
        },
        Row {
            name: "mutex",
            unit: Unit::IncrPerSec,
            about: "8 tasks incrementing one counter under the runtime's mutex, 2 workers",
            entries: vec![
                entry(System::Corio, corio_runtime::mutex),
                entry(System::May, may::mutex),
                entry(System::Tokio, tokio::mutex),
                entry(System::Go, go::mutex),
                entry(System::Threads, threads::mutex),
            ],
        },
    ]
}
