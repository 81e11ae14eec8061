//! Rows comparing whole runtimes: corio beside may, tokio and Go, measured in the same run
//! (method: `bench/README.md`).

use std::time::Duration;

use crate::infra::hidden::in_child;
use crate::infra::timing::Config;
use crate::measure::workload::{self as w, pair};
use crate::row::{Entry, Field, Outcome, Row, Unit};
use crate::system::System;
use crate::systems::{corio_runtime, fresh_processes, go, may, tokio};

/// Time allowed to a child measuring memory.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// An entry of a row.
fn entry(system: System, run: fn(&Config) -> Outcome) -> Entry {
    Entry { system, run }
}

/// The runtime rows, in table order.
pub fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "yield",
            unit: Unit::Ns,
            about: "two tasks on one worker yielding to each other; per yield",
            entries: vec![
                entry(System::Corio, corio_runtime::yield_),
                entry(System::May, may::yield_),
                entry(System::Tokio, tokio::yield_),
                entry(System::Go, go::yield_),
            ],
        },
        Row {
            name: "spawn",
            unit: Unit::Ns,
            about: "spawn + join in batches of 1k from a task, 2 workers; per task",
            entries: vec![
                entry(System::Corio, corio_runtime::spawn),
                entry(System::May, may::spawn),
                entry(System::Tokio, tokio::spawn),
                entry(System::Go, go::spawn),
            ],
        },
        Row {
            name: "sleep-wakeups",
            unit: Unit::WallMs,
            about: "100k tasks each sleeping 1 ms, 2 workers: wall time until all joined",
            entries: vec![
                entry(System::Corio, |c| {
                    w::first(pair("sleep", System::Corio, || {
                        corio_runtime::sleep_wakeups(c)
                    }))
                }),
                entry(System::May, |c| {
                    w::first(pair("sleep", System::May, || may::sleep_wakeups(c)))
                }),
                entry(System::Tokio, |c| {
                    w::first(pair("sleep", System::Tokio, || tokio::sleep_wakeups(c)))
                }),
                entry(System::Go, |c| {
                    w::first(pair("sleep", System::Go, || go::sleep_wakeups(c)))
                }),
            ],
        },
        Row {
            name: "sleep-wakeups-cpu",
            unit: Unit::CpuMs,
            about: "the same run's process CPU time (user + system)",
            entries: vec![
                entry(System::Corio, |c| {
                    w::second(pair("sleep", System::Corio, || {
                        corio_runtime::sleep_wakeups(c)
                    }))
                }),
                entry(System::May, |c| {
                    w::second(pair("sleep", System::May, || may::sleep_wakeups(c)))
                }),
                entry(System::Tokio, |c| {
                    w::second(pair("sleep", System::Tokio, || tokio::sleep_wakeups(c)))
                }),
                entry(System::Go, |c| {
                    w::second(pair("sleep", System::Go, || go::sleep_wakeups(c)))
                }),
            ],
        },
        Row {
            name: "parked-memory-rt",
            unit: Unit::BytesPerTask,
            about: "resident bytes per blocked task (100k, JoinHandles kept), fresh process",
            entries: vec![
                entry(System::Corio, |c| {
                    parked_in_child("corio", "corio-parked", c)
                }),
                entry(System::May, |c| parked_in_child("may", "may-parked", c)),
                entry(System::Tokio, |c| {
                    parked_in_child("tokio", "tokio-parked", c)
                }),
                entry(System::Go, go::parked),
            ],
        },
        Row {
            name: "max-live",
            unit: Unit::Tasks,
            about: "most blocked tasks live at once at the machine's vm.max_map_count",
            entries: vec![
                entry(System::Corio, corio_max_live),
                entry(System::May, |c| max_live_in_child("may", "may-max-live", c)),
                entry(System::Tokio, |c| {
                    max_live_in_child("tokio", "tokio-max-live", c)
                }),
                entry(System::Go, go::max_live),
            ],
        },
    ]
}

/// `parked-memory-rt` through `child NAME`, one fresh process per repetition; for stackful
/// systems the mapping limit is raised first if their stacks need it.
fn parked_in_child(who: &str, name: &str, config: &Config) -> Outcome {
    let mut notes = Vec::new();
    let stacks = if who == "tokio" {
        0
    } else {
        w::parked_tasks(config)
    };
    let raise = w::room_for_stacks(who, stacks, w::CHILD_MAPPINGS, &mut notes)?;
    let mut sample = fresh_processes(config, || in_child(name, config, CHILD_TIMEOUT)?.sample())?;
    drop(raise);
    sample.notes.extend(notes);
    Ok(sample)
}

/// `max-live` through `child NAME`, watched for hangs.
fn max_live_in_child(who: &str, name: &str, config: &Config) -> Outcome {
    let cmd = crate::infra::hidden::child_command(name, config)?;
    let finished =
        crate::infra::child::run_watched(cmd, None, w::MAX_LIVE_TIMEOUT, Some(w::MAX_LIVE_STALL))
            .map_err(|e| e.to_string())?;
    w::max_live_outcome(who, &finished)
}

/// corio's `max-live`: at the machine's limit (the figure), then, in a full run, again with
/// `vm.max_map_count` raised for the cap (a field and a note).
fn corio_max_live(config: &Config) -> Outcome {
    let limit = crate::infra::mem::max_map_count().map_err(|e| e.to_string())?;
    let mut sample = max_live_in_child("corio", "corio-max-live", config)?
        .note(format!("max-live: measured at vm.max_map_count {limit}"))
        .note(format!(
            "corio: stack guards: {}",
            corio_coroutine::stack::guard_mode()
        ));
    // A second run with the limit raised, when the first stopped short of the cap.
    if !config.quick && sample.value < w::max_live_cap(config) as f64 {
        let mut notes = Vec::new();
        let raise = w::room_for_stacks(
            "corio",
            w::max_live_cap(config),
            w::CHILD_MAPPINGS,
            &mut notes,
        );
        let raised = raise.and_then(|guard| {
            let run = max_live_in_child("corio", "corio-max-live", config);
            drop(guard);
            run
        });
        sample.notes.extend(notes);
        match raised {
            Ok(raised) => {
                sample = sample
                    .field("live_with_limit_raised", Field::Int(raised.value as u64))
                    .note(format!(
                        "corio: with vm.max_map_count raised: {} live tasks",
                        raised.value
                    ));
                sample.notes.extend(raised.notes);
            }
            Err(e) => sample = sample.note(format!("corio: max-live with the limit raised: {e}")),
        }
    }
    Ok(sample)
}
