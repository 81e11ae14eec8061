//! `tracing` events (feature `tracing`, off by default): spawn, finish, cancel, panic, stall
//! and deadlock, all with target `corio` and the task's id (and name where known). Without
//! the feature every function here is an empty `#[inline(always)]` one: zero cost.
//!
//! | event | level | fields |
//! |---|---|---|
//! | `spawn` | DEBUG | `task_id`, `task_name`, `parent_id` (the spawning coroutine) |
//! | `finish` | DEBUG | `task_id` |
//! | `cancel` | DEBUG | `task_id`, `started` |
//! | `panic` | ERROR | `task_id`, `message` |
//! | `stall` | WARN | `task_id`, `task_name`, `worker`, `ms` (replaces the stderr line) |
//! | `stall end` | WARN | `task_id`, `worker`, `ms` |
//! | `deadlock` | ERROR | `report` (with the dump) |
//!
//! A leaf: callers pass plain values.

#![cfg_attr(not(feature = "tracing"), allow(unused_variables))]

/// Whether events go to `tracing` (and the stall report with them, instead of stderr).
pub(crate) const ENABLED: bool = cfg!(feature = "tracing");

/// A task was spawned.
#[inline(always)]
pub(crate) fn spawn(id: u64, name: Option<&str>, parent: Option<u64>) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "corio", task_id = id, task_name = name, parent_id = parent, "spawn");
}

/// A coroutine returned.
#[inline(always)]
pub(crate) fn finish(id: u64) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "corio", task_id = id, "finish");
}

/// A task ended by its cancellation (`started`: as a coroutine that unwound).
#[inline(always)]
pub(crate) fn cancel(id: u64, started: bool) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "corio", task_id = id, started, "cancel");
}

/// A coroutine panicked (`message`: the payload, if it is a string).
#[inline(always)]
pub(crate) fn panic(id: u64, message: &str) {
    #[cfg(feature = "tracing")]
    tracing::error!(target: "corio", task_id = id, message, "panic");
}

/// The stall detector noticed a coroutine running without suspending.
#[inline(always)]
pub(crate) fn stall(id: u64, name: Option<&str>, worker: usize, ms: u128) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "corio", task_id = id, task_name = name, worker, ms = ms as u64, "stall");
}

/// A reported stall ended: the coroutine suspended.
#[inline(always)]
pub(crate) fn stall_end(id: u64, worker: usize, ms: u128) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "corio", task_id = id, worker, ms = ms as u64, "stall end");
}

/// The deadlock report (the dump included).
#[inline(always)]
pub(crate) fn deadlock(report: &str) {
    #[cfg(feature = "tracing")]
    tracing::error!(target: "corio", report, "deadlock");
}

/// The message of a panic payload, if it has one.
pub(crate) fn payload_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(non-string payload)")
}
