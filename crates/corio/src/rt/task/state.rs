//! The task state word: documented bits, and the transitions that move them.
//!
//! | bit | set by | cleared by | meaning |
//! |---|---|---|---|
//! | `NOTIFIED` | a wake, `cancel`, spawn | the worker taking the task to run it, or the worker consuming it as a park permit | a wake is pending: the task sits in a run queue, or whoever holds `RUNNING` will requeue it |
//! | `RUNNING` | the worker taking it off a queue | the worker, when the coroutine parks with no pending wake, or on completion | a worker owns the task (running it, or holding it in its private queue after a yield) |
//! | `COMPLETE` | the worker (or blocking thread) that stored the output | never | terminal: the output slot is written |
//! | `CANCELLED` | `JoinHandle::cancel` | never | unwind at the next suspension point |
//! | `JOIN_WAKER` | the join side, after writing the join waker | the join side (before `COMPLETE`) | the waker slot holds a waker; once `COMPLETE` is also set the completer owns it |
//! | `DEADLOCK` | the deadlock detector | never | the main coroutine must panic with the deadlock report |
//! | `CANCEL_WAKE` | a cancel that found the task parked with no wake pending | never | nothing had woken it when the cancel came: a plain park unwinds at once; a `sync` wait still settles first (see [`State::cancel`]) |
//! | `SCOPE` | a timeout scope's timer, or its coroutine (both on the home worker) | the home worker, when it resumes the coroutine with `Resume::Scope` | a timeout scope may be due: the coroutine checks its scopes when resumed |
//!
//! # Rules the rest of the crate relies on (cited as "state rule N")
//!
//! 1. Only the thread that set `RUNNING` touches the task's stage (closure / output slot) until
//!    `COMPLETE` is set; after that only the `JoinHandle` reads it (once).
//! 2. A wake schedules the task (pushes it on a queue) only if it found none of `NOTIFIED`,
//!    `RUNNING` and `COMPLETE` set: exactly one party ever schedules a task at a time.
//! 3. While `JOIN_WAKER` is clear the join side owns the waker slot; once `COMPLETE` is set
//!    with `JOIN_WAKER` set, the completer owns it.

use crate::loom::{AtomicUsize, Ordering};

pub(crate) const NOTIFIED: usize = 1 << 0;
pub(crate) const RUNNING: usize = 1 << 1;
pub(crate) const COMPLETE: usize = 1 << 2;
pub(crate) const CANCELLED: usize = 1 << 3;
pub(crate) const JOIN_WAKER: usize = 1 << 4;
pub(crate) const DEADLOCK: usize = 1 << 5;
pub(crate) const CANCEL_WAKE: usize = 1 << 6;
pub(crate) const SCOPE: usize = 1 << 7;

/// The atomic state word (see the module docs for its bits).
#[derive(Debug)]
pub(crate) struct State(AtomicUsize);

/// What the worker should do after a coroutine parked.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterPark {
    /// A wake arrived meanwhile (it is consumed): requeue the task.
    Requeue,
    /// `RUNNING` released: the next waker schedules the task.
    Idle,
}

impl State {
    /// A new task is born scheduled: it goes straight onto a queue.
    pub(crate) fn new() -> Self {
        State(AtomicUsize::new(NOTIFIED))
    }

    /// The state of a task that nobody has scheduled yet: its first [`notify`](Self::notify)
    /// (a timer's, see `rt::timer::run_at`) schedules it.
    pub(crate) fn unscheduled() -> Self {
        State(AtomicUsize::new(0))
    }

    pub(crate) fn load(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// The worker took a scheduled task off a queue. Returns the new snapshot.
    pub(crate) fn to_running(&self) -> usize {
        let s = self.0.load(Ordering::Acquire);
        if s & RUNNING != 0 {
            return s; // requeued by its own worker (yield): still owned, nothing to do.
        }
        debug_assert!(s & NOTIFIED != 0);
        // NOTIFIED → RUNNING in one RMW (we know NOTIFIED is set and RUNNING clear, and only we
        // may change those two bits now, state rule 2). Acquire: see what the waker published.
        let prev = self.0.fetch_add(RUNNING - NOTIFIED, Ordering::Acquire);
        prev + RUNNING - NOTIFIED
    }

    /// The coroutine parked: release it, or consume a wake that came meanwhile.
    pub(crate) fn after_park(&self) -> AfterPark {
        let mut s = self.0.load(Ordering::Relaxed);
        loop {
            let (next, out) = if s & NOTIFIED != 0 {
                (s & !NOTIFIED, AfterPark::Requeue)
            } else {
                (s & !RUNNING, AfterPark::Idle)
            };
            // Release: a waker that then sees RUNNING clear must see the parked coroutine's
            // state (e.g. its home) as we left it. Acquire: see what a waker published.
            match self
                .0
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return out,
                Err(actual) => s = actual,
            }
        }
    }

    /// Clears `SCOPE` (its home worker does, holding `RUNNING`, as it delivers it).
    pub(crate) fn take_scope(&self) {
        self.0.fetch_and(!SCOPE, Ordering::Relaxed);
    }

    /// Sets `bits` (a wake: `NOTIFIED`, plus `CANCELLED`/`DEADLOCK`/`SCOPE`); returns `true` if the
    /// caller must schedule the task (state rule 2).
    pub(crate) fn notify(&self, bits: usize) -> bool {
        let prev = self.0.fetch_or(NOTIFIED | bits, Ordering::AcqRel);
        prev & (NOTIFIED | RUNNING | COMPLETE) == 0
    }

    /// `JoinHandle::cancel` (and shutdown): sets `CANCELLED` and wakes the task like
    /// [`notify`](Self::notify); returns `true` if the caller must schedule it. If the task was
    /// parked with no wake pending, `CANCEL_WAKE` says the cancel is what wakes it: a plain
    /// `task::park` then unwinds at once. The operation a `sync` wait waits for may still
    /// complete on another thread before the task runs (a receiver takes a parked sender's
    /// value), so such a wait settles under its own lock first whichever bit is set (see
    /// `rt::context::pending_interrupt`). Otherwise a wake came first (or it is running) and
    /// its wait returns what completed; it unwinds at its next suspension.
    pub(crate) fn cancel(&self) -> bool {
        let prev = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                Some(if s & (NOTIFIED | RUNNING | COMPLETE) == 0 {
                    s | NOTIFIED | CANCELLED | CANCEL_WAKE
                } else {
                    s | NOTIFIED | CANCELLED
                })
            })
            .unwrap_or_else(|s| s);
        prev & (NOTIFIED | RUNNING | COMPLETE) == 0
    }

    /// Deadlock detector: sets `NOTIFIED | DEADLOCK` only if the task is parked (none of
    /// `NOTIFIED`, `RUNNING`, `COMPLETE`): a queued (even unstarted) or running task is not
    /// deadlocked. Returns `true` if it did; the caller must then schedule the task.
    pub(crate) fn notify_deadlocked(&self) -> bool {
        self.update(|s| {
            (s & (NOTIFIED | RUNNING | COMPLETE) == 0).then_some(s | NOTIFIED | DEADLOCK)
        })
    }

    /// Output stored: set `COMPLETE`, drop `RUNNING`. Returns the previous state.
    pub(crate) fn complete(&self) -> usize {
        // Release: the output write happens-before a joiner's Acquire load of COMPLETE.
        // Acquire: see the join waker written before JOIN_WAKER was set.
        // We hold RUNNING and COMPLETE is clear (state rule 1), so one add flips both.
        debug_assert!(self.0.load(Ordering::Relaxed) & (RUNNING | COMPLETE) == RUNNING);
        self.0.fetch_add(COMPLETE - RUNNING, Ordering::AcqRel)
    }

    /// Join side: publish a written waker. Fails (returns false) if the task completed.
    pub(crate) fn set_join_waker(&self) -> bool {
        self.update(|s| (s & COMPLETE == 0).then_some(s | JOIN_WAKER))
    }

    /// Join side: take the waker slot back. Fails (returns false) if the task completed.
    pub(crate) fn unset_join_waker(&self) -> bool {
        self.update(|s| (s & COMPLETE == 0).then_some(s & !JOIN_WAKER))
    }

    fn update(&self, f: impl Fn(usize) -> Option<usize>) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, f)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_parked_task_can_be_found_deadlocked() {
        let s = State::new();
        assert!(!s.notify_deadlocked(), "queued, not started");
        s.to_running();
        assert!(!s.notify_deadlocked(), "running");
        assert_eq!(s.after_park(), AfterPark::Idle);
        assert!(s.notify_deadlocked(), "parked");
        assert_eq!(s.load() & (NOTIFIED | DEADLOCK), NOTIFIED | DEADLOCK);
        assert!(!s.notify_deadlocked(), "already woken");
    }

    #[test]
    fn a_cancel_marks_whether_it_was_the_wake() {
        let parked = State::new();
        parked.to_running();
        assert_eq!(parked.after_park(), AfterPark::Idle);
        assert!(parked.cancel(), "parked: the cancel schedules it");
        assert_ne!(parked.load() & CANCEL_WAKE, 0, "and nothing completed");

        let woken = State::new();
        woken.to_running();
        assert_eq!(woken.after_park(), AfterPark::Idle);
        assert!(woken.notify(0), "a wake came first");
        assert!(!woken.cancel(), "already scheduled");
        assert_eq!(woken.load() & (CANCELLED | CANCEL_WAKE), CANCELLED);
    }

    #[test]
    fn lifecycle() {
        let s = State::new();
        assert!(!s.notify(0), "a new task is already scheduled");
        assert_eq!(s.to_running() & (RUNNING | NOTIFIED), RUNNING);
        assert!(!s.notify(0), "running: its worker requeues it");
        assert_eq!(s.after_park(), AfterPark::Requeue);
        assert_eq!(s.after_park(), AfterPark::Idle);
        assert!(s.notify(0), "idle: the waker schedules");
        assert!(!s.notify(0), "second wake coalesces");
        s.to_running();
        assert!(s.set_join_waker());
        let prev = s.complete();
        assert!(prev & JOIN_WAKER != 0);
        assert!(!s.unset_join_waker());
        assert!(!s.notify(CANCELLED), "cancel after completion is a no-op");
    }
}

/// Models of the state word's races (run with `--cfg loom`, see `crate::loom`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    /// A wake racing a park: exactly one of them schedules the task (state rule 2), so the
    /// wake is never lost and the task is never queued twice.
    #[test]
    fn loom_wake_vs_park() {
        loom::model(|| {
            let s = Arc::new(State::new());
            s.to_running();
            let waker = {
                let s = s.clone();
                thread::spawn(move || s.notify(0))
            };
            let requeued = s.after_park() == AfterPark::Requeue;
            let scheduled = waker.join().unwrap();
            assert!(
                requeued ^ scheduled,
                "requeued {requeued}, scheduled {scheduled}"
            );
        });
    }

    /// A cancel racing the coroutine's completion: the cancel schedules the task only if it
    /// is neither running nor complete, so a completed task is never run again.
    #[test]
    fn loom_cancel_vs_complete() {
        loom::model(|| {
            let s = Arc::new(State::new());
            s.to_running();
            let canceller = {
                let s = s.clone();
                thread::spawn(move || s.notify(CANCELLED))
            };
            let prev = s.complete();
            assert_eq!(prev & COMPLETE, 0);
            assert!(
                !canceller.join().unwrap(),
                "running, then complete: never scheduled"
            );
        });
    }

    /// The join side registering its waker while the task completes: the joiner either sees
    /// `COMPLETE` (and reads the output) or its waker is woken by the completer; the waker
    /// slot is never touched by both (loom's `UnsafeCell` checks the accesses).
    #[test]
    fn loom_join_waker_vs_completion() {
        loom::model(|| {
            struct Task {
                state: State,
                output: UnsafeCell<Option<u32>>,
                waker: UnsafeCell<Option<Arc<loom::sync::atomic::AtomicBool>>>,
            }
            // SAFETY: the model's accesses follow state rules 1 and 3, which loom checks.
            unsafe impl Sync for Task {}
            let t = Arc::new(Task {
                state: State::new(),
                output: UnsafeCell::new(None),
                waker: UnsafeCell::new(None),
            });
            t.state.to_running();
            let completer = {
                let t = t.clone();
                thread::spawn(move || {
                    // SAFETY: we hold RUNNING (state rule 1).
                    t.output.with_mut(|o| unsafe { *o = Some(7) });
                    let prev = t.state.complete();
                    if prev & JOIN_WAKER != 0 {
                        // SAFETY: COMPLETE and JOIN_WAKER set: the completer owns the slot
                        // (state rule 3).
                        let w = t.waker.with_mut(|w| unsafe { (*w).take() });
                        w.expect("a registered waker")
                            .store(true, Ordering::Release);
                    }
                })
            };
            let woken = Arc::new(loom::sync::atomic::AtomicBool::new(false));
            // SAFETY: JOIN_WAKER is clear: the join side owns the slot (state rule 3).
            t.waker.with_mut(|w| unsafe { *w = Some(woken.clone()) });
            let registered = t.state.set_join_waker();
            completer.join().unwrap();
            if registered {
                assert!(woken.load(Ordering::Acquire), "a registered waker is woken");
            }
            assert_ne!(t.state.load() & COMPLETE, 0);
            // SAFETY: COMPLETE is set: only the join side reads the output (state rule 1).
            assert_eq!(t.output.with(|o| unsafe { *o }), Some(7));
        });
    }
}
