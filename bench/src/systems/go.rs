//! Go: the workloads of `go/peers.go` (built at run time by [`crate::infra::go_program`]), each run as a
//! child process that times itself the way [`crate::infra::timing`] does (warm-up, then the median of
//! the repetitions) and prints its figure.

use std::time::Duration;

use crate::infra::go_program;
use crate::infra::timing::Config;
use crate::measure::workload as w;
use crate::row::{Outcome, Sample};
use crate::systems::fresh_processes;

/// Time allowed to one Go child.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Arguments for the Go program.
fn args(list: &[&dyn ToString]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

/// `yield`: two goroutines with GOMAXPROCS=1 calling `runtime.Gosched`.
pub fn yield_(config: &Config) -> Outcome {
    let a = args(&[&"yield", &config.ops(w::YIELD_OPS), &config.reps]);
    go_program::sample(&a, TIMEOUT)
}

/// `spawn`: batches of 1k goroutines joined by a WaitGroup, GOMAXPROCS=2.
pub fn spawn(config: &Config) -> Outcome {
    let a = args(&[&"spawn", &config.ops(w::SPAWN_OPS), &config.reps]);
    go_program::sample(&a, TIMEOUT)
}

/// `sleep-wakeups` and `sleep-wakeups-cpu`: goroutines each in `time.Sleep(1ms)`.
pub fn sleep_wakeups(config: &Config) -> Result<(Sample, Sample), String> {
    let a = args(&[&"sleep", &config.ops(w::SLEEP_TASKS), &config.reps]);
    let pairs = go_program::run(&a, TIMEOUT)?.result()?;
    let (wall, cpu) = w::wall_cpu_from_pairs(&pairs)?;
    Ok((wall.note(go_program::version_note()), cpu))
}

/// `parked-memory-rt`: goroutines blocked on a channel; one fresh process per repetition.
pub fn parked(config: &Config) -> Outcome {
    let a = args(&[&"parked", &w::parked_tasks(config)]);
    fresh_processes(config, || go_program::sample(&a, TIMEOUT))
}

/// `max-live`: goroutines blocked on a channel, up to the cap.
pub fn max_live(config: &Config) -> Outcome {
    let a = args(&[&"maxlive", &w::max_live_cap(config)]);
    let cmd = go_program::command(&a)?;
    let finished =
        crate::infra::child::run_watched(cmd, None, w::MAX_LIVE_TIMEOUT, Some(w::MAX_LIVE_STALL))
            .map_err(|e| e.to_string())?;
    w::max_live_outcome("go", &finished)
}

/// Ping-pong over two unbuffered channels with GOMAXPROCS=`procs`.
fn pingpong(config: &Config, procs: usize) -> Outcome {
    let a = args(&[
        &"pingpong",
        &config.ops(w::PINGPONG_OPS),
        &config.reps,
        &procs,
    ]);
    go_program::sample(&a, TIMEOUT)
}

/// `pingpong-1w`.
pub fn pingpong_1(config: &Config) -> Outcome {
    pingpong(config, 1)
}

/// `pingpong-2w`.
pub fn pingpong_2(config: &Config) -> Outcome {
    pingpong(config, 2)
}

/// `mpmc`: 8 producers and 8 consumers on one channel of 1024 slots.
pub fn mpmc(config: &Config) -> Outcome {
    let a = args(&[&"mpmc", &config.ops(w::MPMC_MSGS), &config.reps]);
    go_program::sample(&a, TIMEOUT)
}

/// `mutex`: 8 goroutines incrementing under `sync.Mutex`.
pub fn mutex(config: &Config) -> Outcome {
    let a = args(&[&"mutex", &config.ops(w::MUTEX_OPS), &config.reps]);
    go_program::sample(&a, TIMEOUT)
}
