//! One module per measured system: the workloads rows point at.

pub mod corio_coroutine;
pub mod corio_runtime;
pub mod corosensei;
pub mod floor;
pub mod go;
pub mod may;
pub mod stackful;
pub mod stackless;
pub mod surge;
pub mod threads;
pub mod tokio;

use crate::infra::timing::{Config, Spread};
use crate::row::{Outcome, Sample};

/// Repeats a measurement that needs a fresh process each time (`measure` starts one) and
/// keeps the median, min and max; one run under `--quick`. Notes come from the first run.
pub fn fresh_processes(config: &Config, mut measure: impl FnMut() -> Outcome) -> Outcome {
    let first = measure()?;
    let mut values = vec![first.value];
    for _ in 1..config.reps {
        values.push(measure()?.value);
    }
    let spread = Spread::of(&mut values);
    Ok(Sample {
        value: spread.median,
        min: spread.min,
        max: spread.max,
        ..first
    })
}
