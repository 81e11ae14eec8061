//! Timing: a warm-up run, then a few timed repetitions, reported as the median.
//!
//! Every timed figure in the suite goes through [`time_per_op`], so all rows share one method:
//! the workload runs `ops` operations per repetition, the first run is discarded (page faults,
//! stack pools, branch predictors), and the median of the rest is kept because the machine is
//! shared and noisy: one descheduled repetition must not move the figure.

use std::time::Instant;

/// How hard to measure: set once from the command line, read by every row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Timed repetitions after the warm-up; the figure is their median.
    pub reps: usize,
    /// Multiplies each row's operation count; tiny under `--quick`.
    pub scale: f64,
    /// Smoke run: rows also shrink costly setups (e.g. 100k parked coroutines).
    pub quick: bool,
}

impl Config {
    /// The full run: 5 repetitions at the rows' nominal sizes.
    pub const FULL: Config = Config {
        reps: 5,
        scale: 1.0,
        quick: false,
    };

    /// The CI smoke run: one repetition of a thousandth of the work, so the suite cannot rot.
    pub const QUICK: Config = Config {
        reps: 1,
        scale: 0.001,
        quick: true,
    };

    /// Scales a row's nominal operation count, never below one.
    pub fn ops(&self, nominal: u64) -> u64 {
        ((nominal as f64 * self.scale) as u64).max(1)
    }
}

/// Runs `workload(ops)` once to warm up, then `config.reps` times, and returns the median
/// nanoseconds per operation.
///
/// The workload must perform exactly `ops` operations and keep its results observable
/// (`std::hint::black_box`) so the optimiser cannot delete them.
pub fn time_per_op(config: &Config, ops: u64, mut workload: impl FnMut(u64)) -> f64 {
    workload(ops);
    let mut samples: Vec<f64> = (0..config.reps.max(1))
        .map(|_| {
            let start = Instant::now();
            workload(ops);
            start.elapsed().as_nanos() as f64 / ops as f64
        })
        .collect();
    median(&mut samples)
}

/// Repeats a measurement that is not a timing (e.g. resident bytes) and returns the median.
///
/// The first sample is a warm-up and is dropped unless it is the only one (`--quick`).
pub fn median_of<E>(config: &Config, mut sample: impl FnMut() -> Result<f64, E>) -> Result<f64, E> {
    let warm_up = sample()?;
    if config.reps <= 1 {
        return Ok(warm_up);
    }
    let mut samples = (0..config.reps)
        .map(|_| sample())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(median(&mut samples))
}

/// The median of `samples` (the mean of the middle two for an even count); NaN when empty.
///
/// Sorts in place; NaNs sort last so they cannot poison the middle.
pub fn median(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_count_is_middle() {
        assert_eq!(median(&mut [5.0, 1.0, 3.0]), 3.0);
    }

    #[test]
    fn median_of_even_count_is_mean_of_middle_two() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn median_of_one_and_of_none() {
        assert_eq!(median(&mut [7.0]), 7.0);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn median_ignores_one_outlier() {
        assert_eq!(median(&mut [3.1, 3.2, 900.0, 3.0, 3.3]), 3.2);
    }

    #[test]
    fn ops_scale_and_never_reach_zero() {
        assert_eq!(Config::FULL.ops(1_000_000), 1_000_000);
        assert_eq!(Config::QUICK.ops(1_000_000), 1_000);
        assert_eq!(Config::QUICK.ops(10), 1);
    }

    #[test]
    fn time_per_op_warms_up_then_runs_each_rep() {
        let mut calls = Vec::new();
        let config = Config {
            reps: 3,
            ..Config::FULL
        };
        let ns = time_per_op(&config, 10, |ops| calls.push(ops));
        assert_eq!(calls, [10; 4]);
        assert!(ns >= 0.0);
    }

    #[test]
    fn median_of_drops_warm_up_unless_alone() {
        let mut values = [100.0, 1.0, 2.0, 3.0].into_iter();
        let config = Config {
            reps: 3,
            ..Config::FULL
        };
        assert_eq!(
            median_of(&config, || Ok::<_, ()>(values.next().unwrap())),
            Ok(2.0)
        );
        assert_eq!(median_of(&Config::QUICK, || Ok::<_, ()>(42.0)), Ok(42.0));
    }
}
