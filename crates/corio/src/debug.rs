//! Seeing inside a running runtime: [`dump`] lists every live coroutine with its state and
//! the backtrace of where it waits, like a Go goroutine dump.
//!
//! ```text
//! coroutine 1026 "consumer" [chan receive, 2.4s, worker 1]:
//! corio::sync::channel::Receiver<T>::recv
//!     at crates/corio/src/sync/channel/mod.rs:225:19
//! dump::consumer
//!     at crates/corio/examples/dump.rs:20:9
//! ...
//! ```
//!
//! # How, and what it costs
//!
//! A coroutine's stack may only be touched by its home worker (started coroutines never
//! migrate and may hold `!Send` values), so the dump asks each worker; between two resumes,
//! the worker resumes each of its suspended coroutines once with a *capture request*: the
//! coroutine takes a backtrace at its suspension point and suspends again at once, with the
//! same message. Nothing is woken, requeued or run, and no task state changes. That costs
//! each worker two context switches and one stack walk per coroutine (tens of microseconds
//! each); then the frames are symbolized (the first time, loading the debug info can take a
//! second), on a blocking-pool thread when the dump is taken inside a coroutine. Use it to
//! debug, not in a hot loop.
//!
//! A worker busy in a coroutine that does not suspend cannot answer; after
//! [`WORKER_WAIT`] the dump lists that coroutine as running, without frames (the stall
//! detector reports those too).
//!
//! The state of a parked coroutine (`chan receive`, `sleep`, `mutex`, ...) is read off the
//! innermost corio function in its backtrace; with inlining (release builds without debug
//! info) it may only say `parked`. What the frames cannot say comes from a note the wait
//! leaves in the coroutine's context (two stores per wait): the socket's fd for an IO wait,
//! the task a `join` waits for, the deadline of a `sleep` or timed wait
//! ([`CoroutineDump::waiting_on`]). How long each coroutine has been parked
//! ([`CoroutineDump::parked_for`]) comes from a coarse clock that the stall monitor, the
//! timers and waking workers keep (no clock read on the park path): it is behind by up to a
//! quarter of the stall threshold (25 ms by default), and by up to the time since the last
//! timer or wake-up when the stall detector is off.

use std::any::Any;
use std::backtrace::Backtrace;
use std::fmt;
use std::time::{Duration, Instant};

pub use crate::rt::capture::WaitTarget;

use crate::rt::capture::Captured;
use crate::rt::Shared;

/// How long a dump waits for a busy worker to reach a scheduling point.
pub const WORKER_WAIT: Duration = Duration::from_millis(500);

/// What a coroutine is doing, as far as the dump can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Running on its worker now (the coroutine that asked for the dump, or one its worker
    /// was busy with).
    Running,
    /// Woken (or yielded) and waiting for its worker to run it.
    Runnable,
    /// Waiting to be woken; the string says on what (`chan receive`, `chan send`, `select`,
    /// `mutex`, `rwlock`, `condvar`, `semaphore`, `wait group`, `barrier`, `once`, `sleep`,
    /// `IO wait`, `join`, `park`, `block_on`), or is `parked` when the frames do not say.
    Parked(&'static str),
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Running => f.write_str("running"),
            State::Runnable => f.write_str("runnable"),
            State::Parked(on) => f.write_str(on),
        }
    }
}

impl fmt::Display for WaitTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitTarget::Read(fd) => write!(f, "fd {fd} read"),
            WaitTarget::Write(fd) => write!(f, "fd {fd} write"),
            WaitTarget::Task(id) => write!(f, "task {id}"),
            WaitTarget::Until(at) => match at.checked_duration_since(Instant::now()) {
                Some(left) => write!(f, "{} left", Short(left)),
                None => f.write_str("deadline passed"),
            },
        }
    }
}

/// A duration in the dump's short form: `850ms`, `3.2s`, `12m5s`.
struct Short(Duration);

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d < Duration::from_secs(1) {
            write!(f, "{}ms", d.as_millis())
        } else if d < Duration::from_secs(60) {
            write!(f, "{:.1}s", d.as_secs_f64())
        } else {
            write!(f, "{}m{}s", d.as_secs() / 60, d.as_secs() % 60)
        }
    }
}

/// One coroutine in a [`Dump`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CoroutineDump {
    /// Its task id ([`TaskId::as_u64`](crate::task::TaskId::as_u64)).
    pub id: u64,
    /// Its name, if it has one ([`task::Builder::name`](crate::task::Builder::name)).
    pub name: Option<String>,
    /// What it is doing.
    pub state: State,
    /// The worker it lives on.
    pub worker: usize,
    /// Where it was spawned (`file:line:column` of the `spawn` call), when known (not for
    /// a coroutine only seen running on a busy worker).
    pub spawned_at: Option<String>,
    /// For a parked coroutine: what it waits for, when the wait says (an fd, a task, a
    /// deadline).
    pub waiting_on: Option<WaitTarget>,
    /// For a parked coroutine: how long it has been parked (to the coarse clock's
    /// resolution; see the [module docs](self)).
    pub parked_for: Option<Duration>,
    /// Its frames from the suspension point outwards, one `function\n    at file:line` entry
    /// each (runtime frames of the capture itself removed); empty when it could not be
    /// captured (a running coroutine).
    pub frames: Vec<String>,
}

/// A snapshot of every live coroutine of a runtime; `Display` prints it like a Go goroutine
/// dump.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Dump {
    /// The coroutines, by worker, then by id.
    pub coroutines: Vec<CoroutineDump>,
    /// Workers that did not answer within [`WORKER_WAIT`] (busy in a coroutine).
    pub busy_workers: Vec<usize>,
}

/// A dump of the runtime this thread belongs to (see the [module docs](self)). Inside a
/// coroutine only that coroutine waits for the workers.
///
/// # Panics
/// Outside a runtime (use [`Handle::dump`](crate::Handle::dump) there).
pub fn dump() -> Dump {
    let shared = crate::rt::context::shared()
        .expect("corio::debug::dump called outside a corio runtime (use Handle::dump)");
    take(&shared)
}

/// Takes a dump of `shared`'s coroutines.
pub(crate) fn take(shared: &Shared) -> Dump {
    let me = crate::task::try_current().map(|t| t.id().as_u64());
    let workers = shared.remotes.len();
    // Inside a coroutine the wait must park only the coroutine: its own worker answers too.
    let (tx, rx) = crate::sync::channel::unbounded::<Vec<Captured>>();
    let tx = std::sync::Mutex::new(tx);
    shared.request_captures(move |list| {
        let _ = tx.lock().unwrap().send(list);
    });
    let deadline = Instant::now() + WORKER_WAIT;
    let mut answered = vec![false; workers];
    let mut captured = Vec::new();
    for _ in 0..workers {
        let Ok(list) = rx.recv_deadline(deadline) else {
            break;
        };
        for c in list {
            answered[c.worker] = true;
            captured.push(c);
        }
    }
    // Symbolizing is slow (the first time, it loads the debug info): not on a worker.
    let symbolize =
        move || -> Vec<CoroutineDump> { captured.into_iter().map(|c| entry(c, me)).collect() };
    let mut coroutines = if crate::rt::context::in_coroutine() {
        crate::spawn_blocking(symbolize)
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_payload()))
    } else {
        symbolize()
    };
    let mut busy_workers = Vec::new();
    for (w, done) in answered.iter().enumerate() {
        // A worker with no coroutine at all answers with an empty list: count it by the
        // scheduling point instead.
        if !done && shared.stats.worker(w).snapshot().live > 0 {
            busy_workers.push(w);
            let (ticks, running) = shared.stats.worker(w).tick();
            if let Some(r) = running
                .then(|| shared.stats.worker(w).inspect(ticks))
                .flatten()
            {
                coroutines.push(CoroutineDump {
                    id: r.id,
                    name: r.name,
                    state: State::Running,
                    worker: w,
                    spawned_at: None,
                    waiting_on: None,
                    parked_for: None,
                    frames: Vec::new(),
                });
            }
        }
    }
    coroutines.sort_by_key(|c| (c.worker, c.id));
    Dump {
        coroutines,
        busy_workers,
    }
}

/// If `payload` is the deadlock report, prints the dump taken when the deadlock was found to
/// stderr (the report itself was printed by the panic hook) and appends it to the payload.
pub(crate) fn add_deadlock_dump(
    shared: &Shared,
    payload: Box<dyn Any + Send>,
) -> Box<dyn Any + Send> {
    let Some(list) = shared.deadlock_captures.lock().unwrap().take() else {
        return payload;
    };
    let Some(report) = payload.downcast_ref::<String>() else {
        return payload;
    };
    let mut coroutines: Vec<CoroutineDump> = list
        .into_iter()
        .map(|c| {
            let mut e = entry(c, None);
            // Nothing ran any more: a "runnable" one is main, woken only for the report.
            if e.state == State::Runnable {
                e.state = State::Parked(wait_kind(&e.frames));
            }
            e
        })
        .collect();
    coroutines.sort_by_key(|c| (c.worker, c.id));
    let dump = Dump {
        coroutines,
        busy_workers: Vec::new(),
    };
    let report = format!("{report}\n\n{dump}");
    if crate::trace::ENABLED {
        crate::trace::deadlock(&report);
    } else {
        eprintln!("\n{dump}");
    }
    Box::new(report)
}

/// A captured coroutine as a dump entry; `me` is the coroutine that asked, if any.
fn entry(c: Captured, me: Option<u64>) -> CoroutineDump {
    let mut frames = c.backtrace.as_deref().map(frames).unwrap_or_default();
    if Some(c.id) == me {
        // The dumping coroutine waits inside the dump: start at its caller.
        if let Some(i) = frames
            .iter()
            .rposition(|f| f.contains("src/debug.rs") || f.starts_with("corio::debug::"))
        {
            frames.drain(..=i);
        }
    }
    let state = if Some(c.id) == me {
        State::Running
    } else if c.runnable {
        State::Runnable
    } else {
        State::Parked(wait_kind(&frames))
    };
    let parked = matches!(state, State::Parked(_));
    CoroutineDump {
        waiting_on: c.note.filter(|_| parked),
        parked_for: c.parked_for.filter(|_| parked),
        id: c.id,
        name: c.name,
        state,
        worker: c.worker,
        spawned_at: Some(c.spawned_at.to_string()),
        frames,
    }
}

/// The frames of a capture, from the suspension point to the coroutine's entry.
fn frames(bt: &Backtrace) -> Vec<String> {
    let text = bt.to_string();
    let mut frames: Vec<String> = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        match t.split_once(": ") {
            Some((n, name)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                frames.push(name.to_owned());
            }
            _ => {
                if let Some(f) = frames.last_mut() {
                    f.push_str("\n    ");
                    f.push_str(t);
                }
            }
        }
    }
    // Drop the capture's own frames (through `context::suspend`) and the runtime's below
    // the coroutine's entry. Inlined frames carry short names, so files decide first.
    let is = |f: &String, file: &str, name: &str| f.contains(file) || f.starts_with(name);
    let start = frames
        .iter()
        .rposition(|f| is(f, "src/rt/context.rs", "corio::rt::context::"))
        .map_or(0, |i| i + 1);
    let end = frames[start..]
        .iter()
        .position(|f| {
            is(f, "src/rt/task/vtable.rs", "corio::rt::task::")
                || is(f, "src/rt/sched/worker.rs", "corio::rt::sched::")
        })
        .map_or(frames.len(), |i| start + i);
    frames.drain(start..end).collect()
}

/// What a corio frame says about the wait: `Some("")` for a corio frame that does not
/// say, `None` for a frame outside corio.
fn frame_kind(frame: &str) -> Option<&'static str> {
    const FILES: &[(&str, &str, &str)] = &[
        // (file, module path, kind); "chan" is refined by the function name.
        ("src/sync/channel/", "corio::sync::channel", "chan"),
        ("src/sync/mutex.rs", "corio::sync::mutex", "mutex"),
        ("src/sync/rwlock.rs", "corio::sync::rwlock", "rwlock"),
        ("src/sync/condvar.rs", "corio::sync::condvar", "condvar"),
        (
            "src/sync/semaphore.rs",
            "corio::sync::semaphore",
            "semaphore",
        ),
        (
            "src/sync/waitgroup.rs",
            "corio::sync::waitgroup",
            "wait group",
        ),
        ("src/sync/barrier.rs", "corio::sync::barrier", "barrier"),
        ("src/sync/once.rs", "corio::sync::once", "once"),
        ("src/sync/", "corio::sync::", ""),
        ("src/time/", "corio::time", "sleep"),
        ("src/rt/timer/", "corio::rt::timer", "sleep"),
        ("src/net/", "corio::net", "IO wait"),
        ("src/reactor/", "corio::reactor", "IO wait"),
        ("src/interop.rs", "corio::interop", "block_on"),
        ("src/task/join.rs", "corio::task::join", "join"),
        ("src/task/mod.rs", "corio::task::", "task"),
        ("src/blocking.rs", "corio::blocking", "join"),
        ("src/rt/", "corio::rt::", ""),
    ];
    let name = frame.lines().next().unwrap_or("");
    let (_, _, kind) = FILES
        .iter()
        .find(|(file, module, _)| frame.contains(file) || name.contains(module))?;
    Some(match *kind {
        "chan" if name.contains("select") => "select",
        "chan" if name.contains("recv") => "chan receive",
        "chan" if name.contains("send") => "chan send",
        "chan" => "",
        "task" if name.contains("park") => "park",
        "task" => "",
        k => k,
    })
}

/// What a parked coroutine waits on: the outermost corio frame that says, among the corio
/// frames from the suspension point up to the first frame of the program's own.
fn wait_kind(frames: &[String]) -> &'static str {
    let mut kind = "parked";
    for f in frames {
        match frame_kind(f) {
            None => break,
            Some("") => {}
            Some(k) => kind = k,
        }
    }
    kind
}

impl fmt::Display for CoroutineDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "coroutine {}", self.id)?;
        if let Some(n) = &self.name {
            write!(f, " {n:?}")?;
        }
        write!(f, " [{}", self.state)?;
        if let Some(on) = &self.waiting_on {
            write!(f, ", {on}")?;
        }
        if let Some(d) = self.parked_for {
            write!(f, ", {}", Short(d))?;
        }
        writeln!(f, ", worker {}]:", self.worker)?;
        if self.frames.is_empty() {
            writeln!(f, "(no frames: it is running)")?;
        }
        for frame in &self.frames {
            writeln!(f, "{frame}")?;
        }
        if let Some(at) = &self.spawned_at {
            writeln!(f, "created by spawn at {at}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.coroutines.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{c}")?;
        }
        for w in &self.busy_workers {
            writeln!(
                f,
                "\n(worker {w} did not answer within {WORKER_WAIT:?}: busy in a coroutine \
                 that does not suspend; its other coroutines are not listed)"
            )?;
        }
        Ok(())
    }
}

impl Dump {
    /// The entry of coroutine `id`, if it is live.
    pub fn get(&self, id: u64) -> Option<&CoroutineDump> {
        self.coroutines.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations() {
        let s = |ms| Short(Duration::from_millis(ms)).to_string();
        assert_eq!(s(0), "0ms");
        assert_eq!(s(850), "850ms");
        assert_eq!(s(3_240), "3.2s");
        assert_eq!(s(725_000), "12m5s");
    }

    #[test]
    fn wait_kinds_come_from_the_innermost_corio_frame() {
        let f = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            wait_kind(&f(&[
                "corio::task::park",
                "park\n    at ./src/sync/waiter.rs:59:17",
                "wait<u32>\n    at ./src/sync/channel/plain.rs:144:16",
                "recv<u32>\n    at ./src/sync/channel/mod.rs:226:19",
                "app::main\n    at ./src/main.rs:1:1",
                "corio::time::sleep",
            ])),
            "chan receive"
        );
        assert_eq!(wait_kind(&f(&["corio::task::park", "app::f"])), "park");
        assert_eq!(wait_kind(&f(&["corio::rt::timer::park_until"])), "sleep");
        assert_eq!(
            wait_kind(&f(&["corio::sync::mutex::Mutex<T>::lock_slow"])),
            "mutex"
        );
        assert_eq!(wait_kind(&f(&["app::main"])), "parked");
    }
}
