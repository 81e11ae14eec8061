//! corio-bench: measures corio beside its peers in one run.
//!
//! Each row (see `rows/`) names a figure and gives one workload per system (see `systems/`);
//! `infra::timing` times them all the same way (warm-up, repetitions, median). The run prints a table
//! with corio/peer ratios, or JSON lines with `--json`. `--help` lists the options.
//!
//! A workload that cannot run here (missing tool, kernel limit) is skipped with a note; one
//! that panics is noted as FAILED and makes the exit status non-zero, so CI's `--quick` run
//! catches a broken bench without losing the other rows.

mod cli;
mod infra;
mod measure;
mod report;
mod row;
mod rows;
mod system;
mod systems;

use std::any::Any;
use std::io::{IsTerminal, Write};
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;

use infra::timing::Config;
use infra::{go_program, hidden};
use report::{json, table, Measurement, Report};
use row::Row;

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = hidden::dispatch(&raw) {
        return code;
    }
    let args = match cli::parse(raw) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("corio-bench: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    if args.help {
        println!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    let rows = rows::all();
    if args.list {
        for row in &rows {
            println!("{:<20} {:<12} {}", row.name, row.unit.label(), row.about);
        }
        return ExitCode::SUCCESS;
    }
    let rows = match select(rows, args.only.as_deref()) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("corio-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if args.raise_map_limit {
        infra::mem::allow_raising_the_map_limit();
    }
    let mut config = if args.quick {
        Config::QUICK
    } else {
        Config::FULL
    };
    if let Some(reps) = args.repeat {
        config = config.with_reps(reps);
    }

    let report = run(&rows, &config, args.json);
    go_program::clean_up();
    if args.json {
        for note in &report.notes {
            eprintln!("note: {note}");
        }
    } else {
        print!("{}", table::render(&report));
    }
    if report.failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The rows to run: all of them, or the one `--only` names.
fn select(rows: Vec<Row>, only: Option<&str>) -> Result<Vec<Row>, String> {
    let Some(list) = only else {
        return Ok(rows);
    };
    let names: Vec<_> = rows.iter().map(|r| r.name).collect();
    let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
    if let Some(unknown) = wanted.iter().find(|w| !names.contains(w)) {
        return Err(format!("no row `{unknown}`; rows: {}", names.join(", ")));
    }
    // In the table's order, so rows that run one after the other in a full run still do.
    Ok(rows
        .into_iter()
        .filter(|r| wanted.contains(&r.name))
        .collect())
}

/// Runs every workload of `rows`, printing progress to stderr (or, with `json`, each line as
/// soon as it is measured, so a long run shows results early).
fn run(rows: &[Row], config: &Config, json: bool) -> Report {
    // Progress overwrites one terminal line; it would only clutter a log or a pipe.
    let progress = !json && std::io::stderr().is_terminal();
    let mut report = Report::default();
    for row in rows {
        for entry in &row.entries {
            if progress {
                eprint!("\r\x1b[Kmeasuring {} / {}", row.name, entry.system.name());
            }
            // A panicking workload is a bug to report, not a reason to lose the other rows.
            match panic::catch_unwind(AssertUnwindSafe(|| (entry.run)(config))) {
                Ok(Ok(sample)) => {
                    for note in sample.notes {
                        add_note(&mut report, note);
                    }
                    report.measurements.push(Measurement {
                        bench: row.name,
                        system: entry.system,
                        unit: row.unit,
                        value: sample.value,
                        min: sample.min,
                        max: sample.max,
                        fields: sample.fields,
                    });
                }
                Ok(Err(why)) => add_note(
                    &mut report,
                    format!("{} / {}: skipped: {why}", row.name, entry.system.name()),
                ),
                Err(payload) => {
                    report.failures += 1;
                    let why = panic_message(payload.as_ref());
                    let name = entry.system.name();
                    add_note(&mut report, format!("{} / {name}: FAILED: {why}", row.name));
                }
            }
        }
        if json {
            let mut out = std::io::stdout().lock();
            for m in report.measurements.iter().filter(|m| m.bench == row.name) {
                // Ratios need the whole row, so lines are printed once the row is done.
                let _ = writeln!(out, "{}", json::line(&report, m));
            }
        }
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    report
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "panicked"
    }
}

/// Adds a note unless the same text is already there (systems share setup notes).
fn add_note(report: &mut Report, note: String) {
    if !report.notes.contains(&note) {
        report.notes.push(note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_keeps_all_or_the_named_row() {
        assert_eq!(select(rows::all(), None).unwrap().len(), rows::all().len());
        let only = select(rows::all(), Some("switch")).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].name, "switch");
        let two = select(rows::all(), Some("mpmc,switch")).unwrap();
        let names: Vec<_> = two.iter().map(|r| r.name).collect();
        assert_eq!(names, ["switch", "mpmc"], "table order");
    }

    #[test]
    fn panic_messages_are_recovered() {
        assert_eq!(panic_message(&"literal"), "literal");
        assert_eq!(panic_message(&format!("formatted {}", 1)), "formatted 1");
        assert_eq!(panic_message(&7u8), "panicked");
    }

    #[test]
    fn select_rejects_unknown_names_and_lists_the_rows() {
        let err = select(rows::all(), Some("switch,nope")).err().unwrap();
        assert!(err.contains("`nope`"), "{err}");
        assert!(err.contains("switch"), "{err}");
    }
}
