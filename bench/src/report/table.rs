//! The default output: an aligned Markdown table, readable in a terminal and pasteable.
//!
//! Columns: bench | unit | one per system measured (corio first) | corio/peer. Each figure is
//! the median over the row's repetitions, marked `*` when the repetitions spread wider than
//! [`WIDE_SPREAD`] of it (their min and max are then listed under the table; `--json` has
//! them for every figure). The ratio column shows corio's median over each peer's in the row;
//! with one peer it is a bare number, with several each ratio is followed by the peer's name.

use crate::report::{Measurement, Report, WIDE_SPREAD};
use crate::system::System;

/// Renders the report as a table followed by its notes.
pub fn render(report: &Report) -> String {
    let systems = report.systems();
    let mut header = vec!["bench".to_owned(), "unit".to_owned()];
    header.extend(systems.iter().map(|s| s.name().to_owned()));
    header.push("corio/peer".to_owned());

    let mut rows = vec![header];
    for bench in report.benches() {
        let Some(unit) = report.measurements.iter().find(|m| m.bench == bench) else {
            continue;
        };
        let mut cells = vec![bench.to_owned(), unit.unit.label().to_owned()];
        cells.extend(systems.iter().map(|&s| match report.get(bench, s) {
            Some(m) if m.is_wide() => format!("{} *", value(m.value)),
            Some(m) => value(m.value),
            None => "–".to_owned(),
        }));
        cells.push(ratios(report, bench, &systems));
        rows.push(cells);
    }

    let mut out = aligned(&rows);
    out += "\nratio = corio / peer (medians): below 1 favours corio for times and bytes (ns, ms, \
            µs, B); above 1 favours corio for rates and counts (/s, tasks).\n";
    let wide: Vec<&Measurement> = report.measurements.iter().filter(|m| m.is_wide()).collect();
    if !wide.is_empty() {
        out += &format!(
            "\n* the repetitions spread wider than {:.0}% of the median ((max - min) / median):\n",
            WIDE_SPREAD * 100.0
        );
        for m in wide {
            out += &format!("- {}\n", spread(m));
        }
    }
    if !report.notes.is_empty() {
        out += "\nNotes:\n";
        for note in &report.notes {
            out += &format!("- {note}\n");
        }
    }
    out
}

/// The ratio cell for one row.
fn ratios(report: &Report, bench: &str, systems: &[System]) -> String {
    let ratios: Vec<(System, f64)> = systems
        .iter()
        .filter_map(|&s| {
            let m = report.get(bench, s)?;
            Some((s, report.corio_ratio(m)?))
        })
        .collect();
    match ratios.as_slice() {
        [] => "–".to_owned(),
        [(_, r)] => format!("{r:.2}"),
        many => many
            .iter()
            .map(|(s, r)| format!("{r:.2} {}", s.name()))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// One wide spread, for the list under the table: `mpmc / corio: 4,600,000 .. 70,000,000
/// (median 65,000,000, spread 101%)`.
fn spread(m: &Measurement) -> String {
    format!(
        "{} / {}: {} .. {} {} (median {}, spread {:.0}%)",
        m.bench,
        m.system.name(),
        value(m.min),
        value(m.max),
        m.unit.label(),
        value(m.value),
        m.spread().relative() * 100.0
    )
}

/// A figure with as many digits as are meaningful for a noisy measurement.
fn value(x: f64) -> String {
    if !x.is_finite() {
        "–".to_owned()
    } else if x >= 1000.0 {
        grouped(x.round() as u64)
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// An integer with thousands separators: `32740` → `32,740`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Lays out rows (the first is the header) as a Markdown table: text columns (the first two)
/// left-aligned, figures right-aligned.
fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, &w))| {
                if c < 2 {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(c, &w)| {
            if c < 2 {
                "-".repeat(w)
            } else {
                format!("{}:", "-".repeat(w.saturating_sub(1)))
            }
        })
        .collect();
    let mut out = line(&rows[0]);
    out += &line(&rule);
    for row in &rows[1..] {
        out += &line(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::measurement;

    #[test]
    fn values_keep_meaningful_digits() {
        assert_eq!(value(3.1849), "3.18");
        assert_eq!(value(47.26), "47.3");
        assert_eq!(value(254.4), "254");
        assert_eq!(value(8463.2), "8,463");
        assert_eq!(value(f64::NAN), "–");
    }

    #[test]
    fn grouping_puts_commas_every_three_digits() {
        assert_eq!(grouped(7), "7");
        assert_eq!(grouped(100), "100");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn table_has_a_column_per_system_and_a_ratio() {
        let report = Report {
            measurements: vec![
                measurement("switch", System::Corio, 3.0),
                measurement("switch", System::Corosensei, 4.0),
                measurement("stackless-switch", System::Corio, 3.0),
                measurement("stackless-switch", System::Async, 1.5),
            ],
            notes: vec!["a note".to_owned()],
            ..Report::default()
        };
        let expected = "\
| bench            | unit | corio | corosensei | async | corio/peer |
| ---------------- | ---- | ----: | ---------: | ----: | ---------: |
| switch           | ns   |  3.00 |       4.00 |     – |       0.75 |
| stackless-switch | ns   |  3.00 |          – |  1.50 |       2.00 |
";
        let out = render(&report);
        assert!(out.starts_with(expected), "{out}");
        assert!(out.ends_with("Notes:\n- a note\n"), "{out}");
    }

    #[test]
    fn wide_spreads_are_marked_and_listed() {
        let mut wide = measurement("mpmc", System::Go, 60.0);
        (wide.min, wide.max) = (5.0, 70.0);
        let mut narrow = measurement("mpmc", System::Corio, 65.0);
        (narrow.min, narrow.max) = (60.0, 70.0);
        let report = Report {
            measurements: vec![narrow, wide],
            ..Report::default()
        };
        let out = render(&report);
        assert!(out.contains("| mpmc  | ns   |  65.0 | 60.0 * |"), "{out}");
        assert!(
            out.contains("- mpmc / go: 5.00 .. 70.0 ns (median 60.0, spread 108%)\n"),
            "{out}"
        );
        assert!(!out.contains("mpmc / corio"), "{out}");
    }

    #[test]
    fn several_peers_are_named_in_the_ratio_cell() {
        let report = Report {
            measurements: vec![
                measurement("x", System::Corio, 2.0),
                measurement("x", System::Corosensei, 4.0),
                measurement("x", System::Async, 1.0),
            ],
            ..Report::default()
        };
        assert_eq!(
            ratios(&report, "x", &report.systems()),
            "0.50 corosensei, 2.00 async"
        );
    }
}
