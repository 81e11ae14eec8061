//! What a bench row is: a named figure, its unit, and one workload per system.

use crate::infra::timing::{Config, Spread};
use crate::system::System;

/// The unit of a row's figures; [`Unit::higher_is_better`] says which way its ratio reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds per operation (lower is better).
    Ns,
    /// Resident bytes per parked coroutine (lower is better).
    BytesPerCoroutine,
    /// Resident bytes per parked runtime task, its `JoinHandle` included (lower is better).
    BytesPerTask,
    /// Milliseconds of wall-clock time (lower is better).
    WallMs,
    /// Milliseconds of CPU time, user + system (lower is better).
    CpuMs,
    /// Microseconds of server CPU time per round trip (lower is better).
    CpuUsPerRoundTrip,
    /// Microseconds of server CPU time per HTTP request (lower is better).
    CpuUsPerRequest,
    /// Tasks alive at once (higher is better).
    Tasks,
    /// Messages per second (higher is better).
    MsgsPerSec,
    /// Mutex-protected increments per second (higher is better).
    IncrPerSec,
    /// Request/response round trips per second (higher is better).
    RoundTripsPerSec,
    /// HTTP requests per second (higher is better).
    ReqPerSec,
    /// Mebibytes of resident memory (lower is better).
    MiB,
}

impl Unit {
    /// The label printed in the table and as the JSON `"unit"` value.
    pub fn label(self) -> &'static str {
        match self {
            Unit::Ns => "ns",
            Unit::BytesPerCoroutine => "B/coroutine",
            Unit::BytesPerTask => "B/task",
            Unit::WallMs => "ms",
            Unit::CpuMs => "CPU ms",
            Unit::CpuUsPerRoundTrip => "CPU µs/rt",
            Unit::CpuUsPerRequest => "CPU µs/req",
            Unit::Tasks => "tasks",
            Unit::MsgsPerSec => "msg/s",
            Unit::IncrPerSec => "incr/s",
            Unit::RoundTripsPerSec => "rt/s",
            Unit::ReqPerSec => "req/s",
            Unit::MiB => "MiB",
        }
    }

    /// Whether a bigger figure is better (counts and rates), so a corio/peer ratio above 1
    /// favours corio.
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Unit::Tasks
                | Unit::MsgsPerSec
                | Unit::IncrPerSec
                | Unit::RoundTripsPerSec
                | Unit::ReqPerSec
        )
    }
}

/// One row of the table: the same figure measured for several systems in one run.
pub struct Row {
    /// Short name, used by `--only` and as the JSON `"bench"` value.
    pub name: &'static str,
    /// Unit of every figure in the row.
    pub unit: Unit,
    /// One line saying what is measured, shown by `--list`.
    pub about: &'static str,
    /// The workloads, one per system, run in this order.
    pub entries: Vec<Entry>,
}

/// One system's workload for a row.
pub struct Entry {
    /// The system the workload exercises.
    pub system: System,
    /// Runs the workload under `config`: a sample, or why it was skipped.
    pub run: fn(&Config) -> Outcome,
}

/// What a workload returns: a figure, or the reason it could not run here (never a panic).
pub type Outcome = Result<Sample, String>;

/// A measured figure plus whatever a reader needs to interpret it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// The figure, in the row's unit: the median over the repetitions.
    pub value: f64,
    /// The smallest repetition (equal to `value` when measured once).
    pub min: f64,
    /// The largest repetition (equal to `value` when measured once).
    pub max: f64,
    /// Extra JSON fields (e.g. the coroutine count or stack size actually used).
    pub fields: Vec<(&'static str, Field)>,
    /// Caveats printed under the table (or to stderr with `--json`).
    pub notes: Vec<String>,
}

impl Sample {
    /// A figure (a [`Spread`], or a bare `f64` measured once) with no extra fields or notes.
    pub fn new(value: impl Into<Spread>) -> Self {
        let spread = value.into();
        Sample {
            value: spread.median,
            min: spread.min,
            max: spread.max,
            ..Sample::default()
        }
    }

    /// Adds an extra JSON field.
    pub fn field(mut self, key: &'static str, value: Field) -> Self {
        self.fields.push((key, value));
        self
    }

    /// Adds a note for the reader.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// An extra JSON field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A count or size.
    Int(u64),
    /// A flag.
    Bool(bool),
    /// A measured quantity (e.g. the CPU milliseconds beside a wall-clock figure).
    Float(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_counts_are_higher_is_better() {
        assert!(Unit::ReqPerSec.higher_is_better());
        assert!(Unit::Tasks.higher_is_better());
        assert!(!Unit::Ns.higher_is_better());
        assert!(!Unit::CpuUsPerRoundTrip.higher_is_better());
    }
}
