//! The results of one run, in the order measured, plus the ratios both outputs print, and
//! the two outputs: [`table`] (the default) and [`json`] (`--json`).

pub mod json;
pub mod table;

use crate::infra::timing::Spread;
use crate::row::{Field, Unit};
use crate::system::System;

/// One system's figure for one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The row's name.
    pub bench: &'static str,
    /// The system measured.
    pub system: System,
    /// The row's unit.
    pub unit: Unit,
    /// The figure, in `unit`: the median over the repetitions.
    pub value: f64,
    /// The smallest repetition.
    pub min: f64,
    /// The largest repetition.
    pub max: f64,
    /// Extra JSON fields from the workload.
    pub fields: Vec<(&'static str, Field)>,
}

/// Spreads ((max - min) / median) above this are marked in the table.
pub const WIDE_SPREAD: f64 = 0.25;

impl Measurement {
    /// The figure with its min and max.
    pub fn spread(&self) -> Spread {
        Spread {
            min: self.min,
            median: self.value,
            max: self.max,
        }
    }

    /// Whether the repetitions disagree by more than [`WIDE_SPREAD`] of the figure.
    pub fn is_wide(&self) -> bool {
        self.spread().relative() > WIDE_SPREAD
    }
}

/// Everything one run measured, and the notes to print beside it.
#[derive(Debug, Default)]
pub struct Report {
    /// Figures in the order they were measured.
    pub measurements: Vec<Measurement>,
    /// Caveats and skips, in the order they arose.
    pub notes: Vec<String>,
    /// Workloads that panicked (each also has a note).
    pub failures: usize,
}

impl Report {
    /// corio's figure divided by `m`'s, from the same row; `None` for corio itself, when the
    /// row has no corio figure, or when the ratio would be meaningless (zero or non-finite).
    pub fn corio_ratio(&self, m: &Measurement) -> Option<f64> {
        if m.system == System::Corio {
            return None;
        }
        let corio = self
            .measurements
            .iter()
            .find(|c| c.bench == m.bench && c.system == System::Corio)?;
        let ratio = corio.value / m.value;
        ratio.is_finite().then_some(ratio)
    }

    /// The row names in the order first measured.
    pub fn benches(&self) -> Vec<&'static str> {
        let mut benches: Vec<&'static str> = Vec::new();
        for m in &self.measurements {
            if !benches.contains(&m.bench) {
                benches.push(m.bench);
            }
        }
        benches
    }

    /// The systems with at least one figure, in column order.
    pub fn systems(&self) -> Vec<System> {
        System::ALL
            .into_iter()
            .filter(|s| self.measurements.iter().any(|m| m.system == *s))
            .collect()
    }

    /// The figure for `bench` and `system`, if measured.
    pub fn get(&self, bench: &str, system: System) -> Option<&Measurement> {
        self.measurements
            .iter()
            .find(|m| m.bench == bench && m.system == system)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A measurement taken once with no extra fields, for tests.
    pub(crate) fn measurement(bench: &'static str, system: System, value: f64) -> Measurement {
        Measurement {
            bench,
            system,
            unit: Unit::Ns,
            value,
            min: value,
            max: value,
            fields: Vec::new(),
        }
    }

    #[test]
    fn a_spread_wider_than_a_quarter_of_the_median_is_wide() {
        let mut m = measurement("x", System::Corio, 10.0);
        assert!(!m.is_wide());
        (m.min, m.max) = (8.0, 10.5);
        assert!(!m.is_wide());
        m.max = 10.6;
        assert!(m.is_wide());
    }

    fn report(ms: Vec<Measurement>) -> Report {
        Report {
            measurements: ms,
            ..Report::default()
        }
    }

    #[test]
    fn ratio_is_corio_over_peer_in_the_same_row() {
        let r = report(vec![
            measurement("switch", System::Corosensei, 4.0),
            measurement("create", System::Corio, 100.0),
            measurement("switch", System::Corio, 3.0),
        ]);
        assert_eq!(r.corio_ratio(&r.measurements[0]), Some(0.75));
        assert_eq!(r.corio_ratio(&r.measurements[2]), None);
    }

    #[test]
    fn no_ratio_without_corio_or_with_zero_peer() {
        let r = report(vec![
            measurement("switch", System::Corosensei, 4.0),
            measurement("create", System::Corio, 1.0),
            measurement("create", System::Corosensei, 0.0),
        ]);
        assert_eq!(r.corio_ratio(&r.measurements[0]), None);
        assert_eq!(r.corio_ratio(&r.measurements[2]), None);
    }

    #[test]
    fn benches_and_systems_keep_their_orders() {
        let r = report(vec![
            measurement("b", System::Async, 1.0),
            measurement("a", System::Corio, 1.0),
            measurement("b", System::Corio, 1.0),
        ]);
        assert_eq!(r.benches(), ["b", "a"]);
        assert_eq!(r.systems(), [System::Corio, System::Async]);
    }
}
