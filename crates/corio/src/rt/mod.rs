//! The runtime kernel: the parts that must know each other. Everything public (`task`,
//! `time`, `block_on`, `spawn_blocking`, `Runtime`, `net`, `sync`) sits *above* this folder
//! and uses it through the items re-exported here (plus `context`'s lookups); below it sit
//! only the `reactor` driver and the `corio-coroutine` crate.
//!
//! | module | what it holds |
//! |---|---|
//! | [`sched`] | `Shared` (one per runtime), the worker loop, idle protocol, sleepers; where a woken coroutine goes ([`sched::wake`]) |
//! | [`task`] | the task cell, its state word, completion (`harness`) |
//! | [`context`] | thread-locals: this thread's worker, coroutine and runtime; live runtimes by id |
//! | [`coop`] | the cooperative budget that sync and net fast paths spend |
//! | [`coroutine`] | the glue to the `corio-coroutine` crate (create, resume, recycle) |
//! | [`timer`] | the per-worker timer wheel and `park_until` |
//! | [`capture`] | backtraces of suspended coroutines for `debug::dump`, taken by their home worker |
//! | [`blocking`] | the blocking pool's threads |
//! | [`stats`] | per-worker counters (metrics, stall monitor), written without read-modify-writes |
//! | [`monitor`] | the stall detector's thread (looks down only) |
//! | [`deadlock`] | every wake-up source outside the queues, counted for the deadlock report |
//! | [`scope`] | a coroutine's open timeout scopes and the unwind that ends one |
//! | [`wait`](mod@wait) | waiting for a `Future` from blocking-style code (`block_on`, `join`) |
//!
//! Only `sched`, `sched::worker`, `context` and `blocking` import each other
//! (`scripts/import_cycles.py` checks that the largest cycle stays at 5 files); the others
//! are leaves or only look down.

pub(crate) mod blocking;
pub(crate) mod capture;
pub(crate) mod context;
pub(crate) mod coop;
pub(crate) mod coroutine;
pub(crate) mod deadlock;
pub(crate) mod monitor;
pub(crate) mod sched;
pub(crate) mod scope;
pub(crate) mod stats;
pub(crate) mod task;
pub(crate) mod timer;
pub(crate) mod wait;

pub(crate) use coroutine::Suspend;
pub(crate) use deadlock::ExternalWait;
pub(crate) use sched::{schedule, spawn, wake, Config, Shared};
pub(crate) use task::cell::{TaskCell, TaskRef};
pub(crate) use task::state::{COMPLETE, JOIN_WAKER};
pub(crate) use timer::{has_wheel, park_until, park_until_from, run_at, RunAt};
pub(crate) use wait::wait;
