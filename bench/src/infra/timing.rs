//! Timing: a warm-up run, then a few timed repetitions, reported as their median, min and
//! max.
//!
//! Every timed figure in the suite goes through [`time_per_op`], so all rows share one method:
//! the workload runs `ops` operations per repetition, the first run is discarded (page faults,
//! stack pools, branch predictors), and the median of the rest is the figure because the
//! machine is shared and noisy: one descheduled repetition must not move it. The min and max
//! ride along ([`Spread`]) so a reader sees how much the repetitions disagreed.

use std::time::Instant;

/// How hard to measure: set once from the command line, read by every row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Timed repetitions after the warm-up; the figure is their median (`--repeat` sets it).
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

    /// This configuration with `reps` timed repetitions (at least one).
    pub fn with_reps(self, reps: usize) -> Config {
        Config {
            reps: reps.max(1),
            ..self
        }
    }

    /// Scales a row's nominal operation count, never below one.
    pub fn ops(&self, nominal: u64) -> u64 {
        ((nominal as f64 * self.scale) as u64).max(1)
    }
}

/// A figure over its repetitions: the median (the figure), and the smallest and largest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The smallest repetition.
    pub min: f64,
    /// The median repetition: the figure the table shows and ratios use.
    pub median: f64,
    /// The largest repetition.
    pub max: f64,
}

impl Spread {
    /// The spread of `samples` (NaN throughout when empty); sorts them in place.
    pub fn of(samples: &mut [f64]) -> Spread {
        let median = median(samples);
        Spread {
            min: samples.first().copied().unwrap_or(f64::NAN),
            median,
            max: samples.last().copied().unwrap_or(f64::NAN),
        }
    }

    /// `(max - min) / median`: how far apart the repetitions were, relative to the figure.
    /// Zero for a single repetition; NaN when the median is zero or not finite.
    pub fn relative(&self) -> f64 {
        let r = (self.max - self.min) / self.median.abs();
        if r.is_finite() {
            r
        } else {
            f64::NAN
        }
    }

    /// The spread of `f` applied to every repetition, for a monotonic `f` (e.g. a rate from
    /// a time per operation: the slowest repetition gives the lowest rate).
    pub fn map(self, f: impl Fn(f64) -> f64) -> Spread {
        let (a, b) = (f(self.min), f(self.max));
        Spread {
            min: a.min(b),
            median: f(self.median),
            max: a.max(b),
        }
    }
}

impl From<f64> for Spread {
    /// A figure measured once: min, median and max are the same.
    fn from(x: f64) -> Spread {
        Spread {
            min: x,
            median: x,
            max: x,
        }
    }
}

/// Runs `workload(ops)` once to warm up, then `config.reps` times, and returns nanoseconds
/// per operation over the repetitions.
///
/// The workload must perform exactly `ops` operations and keep its results observable
/// (`std::hint::black_box`) so the optimiser cannot delete them.
pub fn time_per_op(config: &Config, ops: u64, mut workload: impl FnMut(u64)) -> Spread {
    workload(ops);
    let mut samples: Vec<f64> = (0..config.reps.max(1))
        .map(|_| {
            let start = Instant::now();
            workload(ops);
            start.elapsed().as_nanos() as f64 / ops as f64
        })
        .collect();
    Spread::of(&mut samples)
}

/// Repeats a measurement that is not a timing (e.g. resident bytes) and returns its spread.
///
/// The first sample is a warm-up and is dropped unless it is the only one (`--quick`).
pub fn spread_of<E>(
    config: &Config,
    mut sample: impl FnMut() -> Result<f64, E>,
) -> Result<Spread, E> {
    let warm_up = sample()?;
    if config.reps <= 1 {
        return Ok(warm_up.into());
    }
    let mut samples = (0..config.reps)
        .map(|_| sample())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Spread::of(&mut samples))
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
        assert!(ns.min >= 0.0 && ns.min <= ns.median && ns.median <= ns.max);
    }

    #[test]
    fn spread_of_drops_warm_up_unless_alone() {
        let mut values = [100.0, 1.0, 3.0, 2.0].into_iter();
        let config = Config::FULL.with_reps(3);
        let spread = spread_of(&config, || Ok::<_, ()>(values.next().unwrap()));
        assert_eq!(
            spread,
            Ok(Spread {
                min: 1.0,
                median: 2.0,
                max: 3.0
            })
        );
        assert_eq!(
            spread_of(&Config::QUICK, || Ok::<_, ()>(42.0)),
            Ok(Spread::from(42.0))
        );
    }

    #[test]
    fn spread_is_relative_to_the_median() {
        let s = Spread::of(&mut [12.0, 8.0, 10.0]);
        assert_eq!((s.min, s.median, s.max), (8.0, 10.0, 12.0));
        assert_eq!(s.relative(), 0.4);
        assert_eq!(Spread::from(5.0).relative(), 0.0);
        assert!(Spread::from(0.0).relative().is_nan());
        assert!(Spread::of(&mut []).median.is_nan());
    }

    #[test]
    fn a_decreasing_map_swaps_min_and_max() {
        let ns = Spread::of(&mut [1.0, 2.0, 4.0]);
        let rate = ns.map(|x| 1.0 / x);
        assert_eq!((rate.min, rate.median, rate.max), (0.25, 0.5, 1.0));
    }

    #[test]
    fn with_reps_never_goes_below_one() {
        assert_eq!(Config::FULL.with_reps(0).reps, 1);
        assert_eq!(Config::QUICK.with_reps(7).reps, 7);
    }
}
