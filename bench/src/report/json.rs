//! `--json` output: one object per line, written by hand (the suite needs no serde).
//!
//! Each line is `{"bench":..,"system":..,"value":..,"min":..,"max":..,"unit":..}` (`value`
//! is the median over the repetitions, `min` and `max` their extremes), then `"corio_ratio"`
//! (corio's figure divided by this one, same as the table's ratio column; absent on corio's
//! own lines), `"higher_is_better":true` for rates and counts, and any extra fields the
//! workload reported.

use std::fmt::Write;

use crate::report::{Measurement, Report};
use crate::row::Field;

/// Formats `m` as one JSON object, without a trailing newline.
pub fn line(report: &Report, m: &Measurement) -> String {
    let mut out = String::from("{");
    out += &format!("\"bench\":{}", string(m.bench));
    out += &format!(",\"system\":{}", string(m.system.name()));
    out += &format!(",\"value\":{}", number(m.value));
    out += &format!(",\"min\":{}", number(m.min));
    out += &format!(",\"max\":{}", number(m.max));
    out += &format!(",\"unit\":{}", string(m.unit.label()));
    if m.unit.higher_is_better() {
        out += ",\"higher_is_better\":true";
    }
    if let Some(ratio) = report.corio_ratio(m) {
        out += &format!(",\"corio_ratio\":{}", number(ratio));
    }
    for (key, value) in &m.fields {
        let value = match value {
            Field::Int(n) => n.to_string(),
            Field::Bool(b) => b.to_string(),
            Field::Float(x) => number(*x),
        };
        out += &format!(",{}:{}", string(key), value);
    }
    out.push('}');
    out
}

/// A JSON number; `null` for NaN and infinities, which JSON cannot represent.
fn number(x: f64) -> String {
    if x.is_finite() {
        // Display never uses exponents, so it is valid JSON. Trim float noise to 4 places;
        // large values get whole numbers (scaling them by 1e4 would lose precision).
        let rounded = if x.abs() < 1e9 {
            (x * 1e4).round() / 1e4
        } else {
            x.round()
        };
        format!("{rounded}")
    } else {
        "null".to_owned()
    }
}

/// A JSON string literal with the mandatory escapes.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::measurement;
    use crate::system::System;

    fn report() -> Report {
        let mut peer = measurement("switch", System::Corosensei, 4.0);
        (peer.min, peer.max) = (3.5, 5.0);
        peer.fields.push(("count", Field::Int(100_000)));
        peer.fields.push(("raised", Field::Bool(true)));
        Report {
            measurements: vec![measurement("switch", System::Corio, 3.0), peer],
            ..Report::default()
        }
    }

    #[test]
    fn corio_line_has_the_six_keys_only() {
        let r = report();
        assert_eq!(
            line(&r, &r.measurements[0]),
            r#"{"bench":"switch","system":"corio","value":3,"min":3,"max":3,"unit":"ns"}"#
        );
    }

    #[test]
    fn peer_line_adds_ratio_and_fields() {
        let r = report();
        assert_eq!(
            line(&r, &r.measurements[1]),
            r#"{"bench":"switch","system":"corosensei","value":4,"min":3.5,"max":5,"unit":"ns","corio_ratio":0.75,"count":100000,"raised":true}"#
        );
    }

    #[test]
    fn numbers_are_rounded_and_never_nan() {
        assert_eq!(number(3.123456), "3.1235");
        assert_eq!(number(1e21), "1000000000000000000000");
        assert_eq!(number(f64::NAN), "null");
        assert_eq!(number(f64::INFINITY), "null");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
    }
}
