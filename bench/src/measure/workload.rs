//! What the runtime rows share across systems: their sizes, and the measuring helpers every
//! system's version of a row uses, so each row's method is written once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::infra::timing::{time_per_op, Config, Spread};
use crate::row::{Field, Outcome, Sample};
use crate::system::System;
use corio_coroutine::stack::GuardMode;

/// `yield`: yields per repetition, split between the two tasks.
pub const YIELD_OPS: u64 = 1_000_000;
/// `spawn`: tasks spawned and joined per repetition.
pub const SPAWN_OPS: u64 = 1_000_000;
/// `spawn`: tasks per batch (spawn them all, then join them all).
pub const SPAWN_BATCH: u64 = 1_000;
/// `sleep-wakeups`: tasks that each sleep [`SLEEP`].
pub const SLEEP_TASKS: u64 = 100_000;
/// `sleep-wakeups`: how long each task sleeps.
pub const SLEEP: Duration = Duration::from_millis(1);
/// `pingpong-*`: round trips per repetition.
pub const PINGPONG_OPS: u64 = 200_000;
/// `mpmc`: messages per repetition, split between the producers.
pub const MPMC_MSGS: u64 = 1_000_000;
/// `mpmc`: producers, and as many consumers.
pub const MPMC_SIDES: u64 = 8;
/// `mpmc`: channel capacity, the same for every system.
pub const MPMC_CAPACITY: usize = 1024;
/// `mutex`: increments per repetition, split between the tasks.
pub const MUTEX_OPS: u64 = 1_000_000;
/// `mutex`: tasks contending for the lock.
pub const MUTEX_TASKS: u64 = 8;
/// Worker threads for rows that do not say otherwise (the machine has 2 cores).
pub const WORKERS: usize = 2;

/// Tasks parked for `parked-memory-rt` (1k under `--quick`).
pub fn parked_tasks(config: &Config) -> usize {
    if config.quick {
        1_000
    } else {
        100_000
    }
}

/// The most tasks `max-live` starts before declaring the system unbounded.
pub fn max_live_cap(config: &Config) -> usize {
    if config.quick {
        40_000
    } else {
        1_000_000
    }
}

/// Operations per second of `workload(ops)` (warm-up + repetitions, as every row).
pub fn per_second(config: &Config, ops: u64, workload: impl FnMut(u64)) -> Spread {
    time_per_op(config, ops, workload).map(|ns| 1e9 / ns)
}

/// Runs `workload` once to warm up, then `config.reps` times, and returns the wall time and
/// the process CPU time of a run, both in milliseconds, as one sample: its figure is the
/// wall time, and the CPU time rides in the fields `cpu_ms`, `cpu_ms_min` and `cpu_ms_max`
/// (a child process prints them so; [`split_wall_cpu`] makes the two rows' samples).
pub fn wall_and_cpu(config: &Config, mut workload: impl FnMut()) -> Sample {
    workload();
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    for _ in 0..config.reps.max(1) {
        let cpu = crate::infra::os::self_cpu();
        let start = Instant::now();
        workload();
        walls.push(start.elapsed().as_secs_f64() * 1e3);
        cpus.push((crate::infra::os::self_cpu() - cpu).as_secs_f64() * 1e3);
    }
    let cpu = Spread::of(&mut cpus);
    Sample::new(Spread::of(&mut walls))
        .field(CPU_MS, Field::Float(cpu.median))
        .field(CPU_MS_MIN, Field::Float(cpu.min))
        .field(CPU_MS_MAX, Field::Float(cpu.max))
}

/// The fields [`wall_and_cpu`] puts the CPU time in.
const CPU_MS: &str = "cpu_ms";
/// See [`CPU_MS`].
const CPU_MS_MIN: &str = "cpu_ms_min";
/// See [`CPU_MS`].
const CPU_MS_MAX: &str = "cpu_ms_max";

/// A float field of `sample`.
fn float_field(sample: &Sample, key: &str) -> Option<f64> {
    sample.fields.iter().find_map(|(k, v)| match v {
        Field::Float(x) if *k == key => Some(*x),
        _ => None,
    })
}

/// Counts started tasks for `max-live` and reports the count as `PROGRESS live=N` lines
/// every 100 ms from a thread, so a parent sees how far a child got even if it hangs.
#[derive(Debug, Clone)]
pub struct LiveCounter {
    started: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
}

impl LiveCounter {
    /// Starts the reporting thread.
    pub fn start() -> LiveCounter {
        let counter = LiveCounter {
            started: Arc::new(AtomicUsize::new(0)),
            done: Arc::new(AtomicBool::new(false)),
        };
        let c = counter.clone();
        thread::spawn(move || {
            while !c.done.load(Ordering::Relaxed) {
                println!("PROGRESS live={}", c.get());
                thread::sleep(Duration::from_millis(100));
            }
        });
        counter
    }

    /// Called by each task once it runs.
    pub fn started(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    /// Tasks started so far.
    pub fn get(&self) -> usize {
        self.started.load(Ordering::Relaxed)
    }

    /// Stops the reporting thread after one last line, marked `done=1`: counting is over,
    /// so the parent stops watching for a stall while the child tears down (releasing a
    /// million tasks can take longer than the stall limit).
    pub fn finish(&self) {
        self.done.store(true, Ordering::Relaxed);
        println!("PROGRESS live={} done=1", self.get());
    }
}

/// `max-live`: how long a child may go without news before it counts as hung.
pub const MAX_LIVE_STALL: Duration = Duration::from_secs(5);
/// `max-live`: how long a child may run at all.
pub const MAX_LIVE_TIMEOUT: Duration = Duration::from_secs(120);

/// Turns a `max-live` child's run into the row's figure: its result, or, if it was killed
/// for hanging, the last count it reported, noted as a hang.
pub fn max_live_outcome(who: &str, finished: &crate::infra::child::Finished) -> Outcome {
    if finished.status.is_some() {
        return finished.sample();
    }
    let live = finished
        .last_progress("live")
        .ok_or("hung before starting any task")?;
    let mut sample = Sample::new(live);
    sample.notes = finished.notes();
    Ok(sample.field("hung", Field::Bool(true)).note(format!(
        "{who}: hangs at {live} live tasks (no progress for {} s; child process killed)",
        MAX_LIVE_STALL.as_secs()
    )))
}

/// Resident bytes per task: growth of RSS over `count` tasks.
pub fn bytes_per(before: u64, after: u64, count: usize) -> f64 {
    after.saturating_sub(before) as f64 / count.max(1) as f64
}

/// Mappings a fresh child process is assumed to use besides its coroutine stacks (libraries,
/// thread stacks, allocator arenas: a few hundred in practice).
pub const CHILD_MAPPINGS: usize = 10_000;

/// Raises `vm.max_map_count` if `tasks` more guarded stacks (2 mappings each, none for
/// corio's slab stacks) would not fit beside `in_use` mappings, as `parked-memory` does:
/// only with `--raise-map-limit`, root only, restored when the guard drops, noted. A child's limit is raised by the parent (`in_use` = [`CHILD_MAPPINGS`]),
/// which outlives it: a child killed for hanging could not restore the limit itself.
pub fn room_for_stacks(
    who: &str,
    tasks: usize,
    in_use: usize,
    notes: &mut Vec<String>,
) -> Result<Option<crate::infra::mem::MapLimitRaise>, String> {
    let per_stack = match who {
        "corio" if corio_coroutine::stack::guard_mode() == GuardMode::Slab => 0,
        _ => 2,
    };
    let needed = in_use + per_stack * tasks + 2_000;
    let limit = crate::infra::mem::max_map_count().map_err(|e| e.to_string())?;
    if needed <= limit {
        return Ok(None);
    }
    if std::env::var_os(crate::measure::parked::NO_SYSCTL).is_some() {
        return Err(format!(
            "{tasks} coroutine stacks need vm.max_map_count >= {needed} (it is {limit}) and {} is set",
            crate::measure::parked::NO_SYSCTL
        ));
    }
    let raise = crate::infra::mem::MapLimitRaise::to(needed.max(1 << 20))
        .map_err(|e| format!("vm.max_map_count {limit} is too low and cannot be raised: {e}"))?;
    notes.push(format!(
        "{who}: raised vm.max_map_count from {} to {} for {tasks} stacks while measuring \
         (restored after)",
        raise.original, raise.raised
    ));
    Ok(Some(raise))
}

/// Results computed once and shared by two rows (e.g. wall and CPU time of one run).
type Memo = HashMap<(&'static str, System), Result<(Sample, Sample), String>>;

/// Shared by [`pair_of_all`].
static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

/// Measures a pair of figures for `system` once per run, keyed by `key`; the two rows
/// that show them call this with the same key and each takes its half.
pub fn pair(
    key: &'static str,
    system: System,
    measure: impl FnOnce() -> Result<(Sample, Sample), String>,
) -> Result<(Sample, Sample), String> {
    pair_of_all(key, system, || vec![(system, measure())])
}

/// Like [`pair`] for rows whose systems are measured together (the network rows'
/// interleaved rounds): the first call for `key` runs `measure_all` and remembers every
/// system's figures; each call returns `system`'s.
pub fn pair_of_all(
    key: &'static str,
    system: System,
    measure_all: impl FnOnce() -> Vec<(System, Result<(Sample, Sample), String>)>,
) -> Result<(Sample, Sample), String> {
    let measured = |memo: &mut Option<Memo>| {
        memo.get_or_insert_with(HashMap::new)
            .get(&(key, system))
            .cloned()
    };
    if let Some(hit) = measured(&mut MEMO.lock().unwrap()) {
        return hit;
    }
    let all = measure_all();
    let mut memo = MEMO.lock().unwrap();
    memo.get_or_insert_with(HashMap::new)
        .extend(all.into_iter().map(|(s, result)| ((key, s), result)));
    measured(&mut memo).unwrap_or_else(|| Err(format!("{key}: {} was not measured", system.name())))
}

/// The first figure of a [`pair`].
pub fn first(pair: Result<(Sample, Sample), String>) -> Outcome {
    pair.map(|(a, _)| a)
}

/// The second figure of a [`pair`].
pub fn second(pair: Result<(Sample, Sample), String>) -> Outcome {
    pair.map(|(_, b)| b)
}

/// Splits a wall/CPU sample from [`wall_and_cpu`] into the two rows' samples: the wall time
/// (with the notes and any other fields) and the CPU time.
pub fn split_wall_cpu(mut wall: Sample) -> Result<(Sample, Sample), String> {
    let cpu = |key| float_field(&wall, key).ok_or("no CPU figure");
    let cpu = Spread {
        min: cpu(CPU_MS_MIN)?,
        median: cpu(CPU_MS)?,
        max: cpu(CPU_MS_MAX)?,
    };
    wall.fields
        .retain(|(k, _)| ![CPU_MS, CPU_MS_MIN, CPU_MS_MAX].contains(k));
    Ok((wall, Sample::new(cpu)))
}

/// Turns the result pairs of a child that ran [`wall_and_cpu`] (a may or Go child) into the
/// two rows' samples.
pub fn wall_cpu_from_pairs(pairs: &[(String, f64)]) -> Result<(Sample, Sample), String> {
    use crate::infra::child::spread;
    let wall = spread(pairs, "value").ok_or("no wall time")?;
    let cpu = spread(pairs, CPU_MS).ok_or("no CPU time")?;
    Ok((Sample::new(wall), Sample::new(cpu)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_measures_once() {
        let mut calls = 0;
        for _ in 0..3 {
            let got = pair("test-pair", System::Go, || {
                calls += 1;
                Ok((Sample::new(1.0), Sample::new(2.0)))
            });
            assert_eq!(second(got).unwrap().value, 2.0);
        }
        assert_eq!(calls, 1);
    }

    #[test]
    fn wall_and_cpu_reports_both() {
        let config = Config::QUICK.with_reps(3);
        let s = wall_and_cpu(&config, || thread::sleep(Duration::from_millis(2)));
        assert!(s.min >= 2.0 && s.min <= s.value && s.value <= s.max);
        let (wall, cpu) = split_wall_cpu(s).unwrap();
        assert!(wall.value >= cpu.value);
        assert!(cpu.min <= cpu.value && cpu.value <= cpu.max);
        assert!(wall.fields.is_empty(), "{:?}", wall.fields);
    }

    #[test]
    fn a_hung_max_live_child_reports_its_last_count() {
        use crate::infra::child::{Finished, Line};
        let hung = Finished {
            lines: vec![Line::Progress(vec![("live".into(), 32740.0)])],
            status: None,
        };
        let s = max_live_outcome("may", &hung).unwrap();
        assert_eq!(s.value, 32740.0);
        assert!(s.notes[0].contains("hangs at 32740"), "{:?}", s.notes);
    }

    #[test]
    fn bytes_per_never_goes_negative() {
        assert_eq!(bytes_per(100, 50, 10), 0.0);
        assert_eq!(bytes_per(0, 1000, 10), 100.0);
    }
}
