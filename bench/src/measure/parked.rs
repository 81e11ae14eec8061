//! Resident memory per parked coroutine, for any stackful system.
//!
//! Method: in a fresh thread (so per-thread stack pools start empty and are freed on exit),
//! read VmRSS, create N coroutines and resume each once so it writes a small frame on its stack
//! and suspends, read VmRSS again, and divide the growth by N.
//!
//! The slots holding the N handles are faulted in before the first reading, so the figure is
//! what the library itself costs per coroutine (stack pages plus any heap it allocates) and
//! does not depend on whether malloc happens to reuse resident memory from an earlier
//! repetition (glibc's dynamic mmap threshold makes that the norm). The handle's size is
//! reported beside it (`handle_bytes`).
//!
//! N is 100k when the kernel's mapping cap allows it. Each guarded stack needs a few mappings
//! (counted, not assumed, by a small probe); if 100k do not fit, the cap is raised for the
//! duration of the row when we may (root), and otherwise N shrinks to what fits. Either way the
//! output says so: the figure must never come from a hang, an abort or a silent change.

use std::hint::black_box;
use std::io;
use std::thread;

use crate::infra::mem::{self, MapLimitRaise};
use crate::infra::timing::{spread_of, Config};
use crate::row::{Field, Outcome, Sample};

/// Coroutines parked in a full run.
const FULL_COUNT: usize = 100_000;
/// Coroutines parked in a `--quick` run: enough to see the per-stack pages, fast to create.
const QUICK_COUNT: usize = 1_000;
/// Coroutines created to count the mappings each one costs.
const PROBE_COUNT: usize = 64;
/// Mappings left free for everything else (allocator arenas, thread stacks, the handle `Vec`).
const HEADROOM: usize = 1_000;
/// Environment variable that forbids raising `vm.max_map_count` (e.g. on a shared machine).
pub const NO_SYSCTL: &str = "CORIO_BENCH_NO_SYSCTL";
/// What `vm.max_map_count` is raised to when 100k coroutines do not fit.
const RAISED_MAP_COUNT: usize = 1 << 20;

/// Stack bytes each parked coroutine writes before suspending, so its stack is really touched.
pub const FRAME_BYTES: usize = 1024;

/// Writes a [`FRAME_BYTES`] array on the current stack and keeps it observable; coroutine
/// bodies call it before suspending.
#[inline(never)]
pub fn touch_stack() {
    let mut frame = [0u8; FRAME_BYTES];
    for (i, byte) in frame.iter_mut().enumerate() {
        *byte = i as u8;
    }
    black_box(&mut frame);
}

/// Measures resident bytes per parked coroutine for one system.
///
/// `park` creates one coroutine whose stack is `stack_size` bytes, resumes it once (it must
/// call [`touch_stack`] and suspend) and returns it.
pub fn bytes_per_parked<T: 'static>(
    config: &Config,
    stack_size: usize,
    park: fn() -> io::Result<T>,
) -> Outcome {
    let wanted = if config.quick {
        QUICK_COUNT
    } else {
        FULL_COUNT
    };
    let maps_each = in_thread(move || maps_per_1000_coroutines(park))?;
    let (count, raise, mut notes) = fit(wanted, maps_each).map_err(|e| e.to_string())?;

    let value = spread_of(config, || in_thread(move || rss_growth_per(park, count)))?;
    let raised = raise.is_some();
    drop(raise);

    // Worded without the system's name so identical setups print one note.
    notes.push(format!(
        "parked-memory: stacks of {} KiB + guard page; {count} coroutines each wrote a \
         {FRAME_BYTES}-byte frame then suspended; handles excluded (see handle_bytes in --json)",
        stack_size / 1024
    ));
    let mut sample = Sample::new(value)
        .field("count", Field::Int(count as u64))
        .field("stack_size", Field::Int(stack_size as u64))
        .field("handle_bytes", Field::Int(std::mem::size_of::<T>() as u64))
        .field(
            "maps_per_coroutine",
            Field::Float(maps_each as f64 / 1000.0),
        )
        .field("max_map_count_raised", Field::Bool(raised));
    sample.notes = notes;
    Ok(sample)
}

/// How many coroutines to park: `wanted` if they fit under `vm.max_map_count` (raising it if
/// needed and allowed), else as many as fit; `maps_each` is mappings per 1000 coroutines.
/// Returns the count, the raise guard to hold while
/// measuring, and notes saying what happened.
fn fit(wanted: usize, maps_each: usize) -> io::Result<(usize, Option<MapLimitRaise>, Vec<String>)> {
    let in_use = mem::map_count()?;
    let needed = in_use + (wanted * maps_each).div_ceil(1000) + HEADROOM;
    let mut limit = mem::max_map_count()?;
    let mut notes = Vec::new();
    let mut raise = None;
    if needed > limit {
        let raised = if std::env::var_os(NO_SYSCTL).is_some() {
            Err(io::Error::other(format!("{NO_SYSCTL} is set")))
        } else {
            MapLimitRaise::to(needed.max(RAISED_MAP_COUNT))
        };
        match raised {
            Ok(guard) => {
                notes.push(format!(
                    "parked-memory: raised vm.max_map_count from {} to {} while measuring \
                     (restored after)",
                    guard.original, guard.raised
                ));
                limit = guard.raised;
                raise = Some(guard);
            }
            Err(e) => notes.push(format!(
                "parked-memory: vm.max_map_count is {limit} and could not be raised ({e}); \
                 parking only as many coroutines as fit"
            )),
        }
    }
    let count = count_that_fits(wanted, maps_each, in_use, limit);
    if count == 0 {
        return Err(io::Error::other(format!(
            "no room for any coroutine under vm.max_map_count {limit}"
        )));
    }
    Ok((count, raise, notes))
}

/// How many of `wanted` coroutines costing `maps_each` mappings per 1000 fit when `in_use` of
/// `limit` mappings are taken, keeping [`HEADROOM`] free.
fn count_that_fits(wanted: usize, maps_each: usize, in_use: usize, limit: usize) -> usize {
    wanted.min(limit.saturating_sub(in_use + HEADROOM) * 1000 / maps_each.max(1))
}

/// Counts the kernel mappings 1000 parked coroutines cost, rounding up (stacks that share
/// slab mappings cost a fraction of one each).
fn maps_per_1000_coroutines<T>(park: fn() -> io::Result<T>) -> io::Result<usize> {
    let before = mem::map_count()?;
    let parked = (0..PROBE_COUNT)
        .map(|_| park())
        .collect::<io::Result<Vec<_>>>()?;
    let after = mem::map_count()?;
    drop(parked);
    Ok((after.saturating_sub(before) * 1000).div_ceil(PROBE_COUNT))
}

/// Parks `count` coroutines and returns the resident-set growth per coroutine.
fn rss_growth_per<T>(park: fn() -> io::Result<T>, count: usize) -> io::Result<f64> {
    // `None` writes every slot, faulting the storage in before the baseline.
    let mut parked: Vec<Option<T>> = (0..count).map(|_| None).collect();
    let before = mem::resident_bytes()?;
    for slot in &mut parked {
        *slot = Some(park()?);
    }
    let after = mem::resident_bytes()?;
    black_box(&parked);
    drop(parked);
    Ok(after.saturating_sub(before) as f64 / count as f64)
}

/// Runs `f` on a fresh thread; a panic or an error becomes the skip reason.
fn in_thread<R: Send + 'static>(
    f: impl FnOnce() -> io::Result<R> + Send + 'static,
) -> Result<R, String> {
    match thread::spawn(f).join() {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("the measuring thread panicked".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_fits_under_a_high_limit() {
        assert_eq!(count_that_fits(100_000, 2_000, 500, 1 << 20), 100_000);
    }

    #[test]
    fn default_limit_fits_about_thirty_thousand_guarded_stacks() {
        assert_eq!(count_that_fits(100_000, 2_000, 530, 65_530), 32_000);
    }

    #[test]
    fn slab_stacks_fit_by_the_hundred_thousand() {
        assert_eq!(count_that_fits(100_000, 16, 530, 65_530), 100_000);
    }

    #[test]
    fn nothing_fits_when_the_limit_is_used_up() {
        assert_eq!(count_that_fits(100_000, 2_000, 65_000, 65_530), 0);
    }

    #[test]
    fn touch_stack_writes_its_frame() {
        touch_stack(); // must not fault or be optimised into nothing observable
    }
}
