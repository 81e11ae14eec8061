//! One module per measured system: the workloads rows point at.

pub mod corio;
pub mod corio_rt;
pub mod corosensei;
pub mod go;
pub mod may;
pub mod stackful;
pub mod stackless;
pub mod surge;
pub mod threads;
pub mod tokio;

use crate::harness::{median, Config};
use crate::row::Outcome;

/// Repeats a measurement that needs a fresh process each time (`measure` starts one) and
/// keeps the median; one run under `--quick`. Notes come from the first run.
pub fn fresh_processes(config: &Config, mut measure: impl FnMut() -> Outcome) -> Outcome {
    let mut first = measure()?;
    let mut values = vec![first.value];
    for _ in 1..config.reps {
        values.push(measure()?.value);
    }
    first.value = median(&mut values);
    Ok(first)
}
