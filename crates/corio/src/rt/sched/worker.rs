//! One worker: its queues, its coroutines, its timers, and the run loop. Where a woken
//! coroutine goes on its own worker: [`Local::push_woken`] (the `lifo` slot, then `ready`).

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_deque::Steal;
use crossbeam_utils::Backoff;

use super::queue::Fresh;
use super::Shared;
use crate::rt::capture::{self, Captured};
use crate::rt::context::{self, CoroutineCtx, SuspendedCtx};
use crate::rt::coroutine::{self, Co, CoroutineResult, Resume, Suspend};
use crate::rt::scope::Mark;
use crate::rt::stats::WorkerStats;
use crate::rt::task::cell::{clone_raw, RawRef, RawTask, TaskRef, UNSET};
use crate::rt::task::harness::{cancel_if_requested, cancel_unstarted, finish, Cancelled};
use crate::rt::task::state::{
    AfterPark, CANCELLED, CANCEL_WAKE, COMPLETE, DEADLOCK, NOTIFIED, RUNNING, SCOPE,
};
use crate::rt::timer::wheel::{TimerKey, Wheel};

/// Most LIFO-slot runs in a row before the slot's task goes to the back of the queue.
pub(crate) const LIFO_STREAK: u32 = 3;
/// Every this many ticks the shared queues (inbox, injector) are checked first.
const SHARED_INTERVAL: u32 = 61;
/// Every this many picks from the queues an unstarted task runs before the started ones (so
/// a yielding coroutine lets new tasks start even on a single worker).
const FRESH_INTERVAL: u32 = 2;
/// Every this many ticks the timer wheel is advanced (if it holds timers).
const TIMER_INTERVAL: u32 = 32;
/// Operations a coroutine may complete without suspending, per resume, before the next one
/// yields if other coroutines of its worker are runnable (see `rt::coop`; tokio uses 128).
pub(crate) const COOP_BUDGET: u32 = 128;

/// The `finish`, `cancel` or `panic` event of a coroutine that ended (feature `tracing`).
#[inline(always)]
fn trace_end(id: u64, failure: Option<&(dyn std::any::Any + Send)>) {
    if !crate::trace::ENABLED {
        return;
    }
    match failure {
        None => crate::trace::finish(id),
        Some(p) if p.is::<Cancelled>() => crate::trace::cancel(id, true),
        Some(p) => crate::trace::panic(id, crate::trace::payload_message(p)),
    }
}

/// A started coroutine and its task. The task reference keeps the task cell alive for as long
/// as the coroutine exists (the coroutine's context points into it).
///
/// One cache line each: when the coroutine handle shrank by a word, slots of 56 bytes
/// straddled lines and the `yield` row lost about 5% (11.7-12.2 against 11.0-11.4 ns).
#[repr(align(64))]
struct StartedCoroutine {
    co: Co,
    task: RawRef,
    /// The cancellation was delivered (`Resume::Cancel`): it is delivered once, so waits in
    /// the destructors it runs park as usual.
    cancel_delivered: bool,
    /// A `Cancel` or `CancelAfterWake` was delivered: the next resume is `CancelNow`.
    cancel_now: bool,
    /// A `Scope` was delivered: the next resume is `ScopeNow`.
    scope_now: bool,
    /// The coarse clock (`Stats::coarse_ms`) when it last parked, for the dump.
    parked_at_ms: u64,
}

// A slot is exactly one cache line.
const _: () = assert!(std::mem::size_of::<Option<StartedCoroutine>>() == 64);

/// What became of a coroutine its worker resumed.
enum Outcome {
    /// It yielded, or parked with a wake already pending: back on the run queue.
    Requeue,
    /// It parked and released the task; the next wake schedules it. The handle is its
    /// context, where the worker leaves the run queue's task reference for the coroutine's
    /// next waiter handle ([`CoroutineCtx::keep_spare`]) instead of dropping it.
    Parked(SuspendedCtx),
    /// It returned: the task is complete.
    Finished,
}

/// Started coroutines of this worker, by slot.
///
/// Invariant: only the worker loop touches it, and never re-entrantly: coroutine code (which
/// runs inside `resume`, called from the loop) has no path to it. That is what lets `resume`
/// run the coroutine in place, through a pointer into `slots`, without a borrow flag and
/// without moving the coroutine in and out (which costs store-forwarding stalls on the
/// hottest path). It also means a coroutine never leaves the thread that created it.
#[derive(Default)]
struct Coroutines {
    slots: Vec<Option<StartedCoroutine>>,
    free: Vec<u32>,
}

impl Coroutines {
    fn insert(&mut self, co: Co, task: RawRef) -> u32 {
        let entry = Some(StartedCoroutine {
            co,
            task,
            cancel_delivered: false,
            cancel_now: false,
            scope_now: false,
            parked_at_ms: 0,
        });
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = entry;
                i
            }
            None => {
                self.slots.push(entry);
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn get(&mut self, slot: u32) -> &mut StartedCoroutine {
        self.slots[slot as usize]
            .as_mut()
            .expect("empty coroutine slot")
    }

    fn remove(&mut self, slot: u32) -> StartedCoroutine {
        self.free.push(slot);
        self.slots[slot as usize]
            .take()
            .expect("empty coroutine slot")
    }
}

/// Debug builds: the open `with_ready`/`with_coroutines` scope; a nested one panics.
#[cfg(debug_assertions)]
struct Exclusive<'a>(&'a Cell<bool>);

#[cfg(debug_assertions)]
impl<'a> Exclusive<'a> {
    fn enter(flag: &'a Cell<bool>) -> Self {
        assert!(!flag.replace(true), "worker storage borrowed twice");
        Exclusive(flag)
    }
}

#[cfg(debug_assertions)]
impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// The worker-local half of a worker. It lives on the worker thread's stack; coroutines on
/// that thread reach it through `context::worker`, so every field is `&self`-accessible.
pub(crate) struct Local {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    fresh: Fresh<TaskRef>,
    /// `false` only if `fresh` is empty (only this worker adds to it; thieves only take), so
    /// the hot loop skips looking at it.
    fresh_hint: Cell<bool>,
    /// Reached only through [`with_ready`](Self::with_ready).
    ready: UnsafeCell<VecDeque<TaskRef>>,
    lifo: Cell<Option<TaskRef>>,
    lifo_streak: Cell<u32>,
    tick: Cell<u32>,
    /// Picks from the queues (not from the LIFO slot).
    picks: Cell<u32>,
    /// Reached only through [`with_coroutines`](Self::with_coroutines).
    coroutines: UnsafeCell<Coroutines>,
    wheel: RefCell<Wheel>,
    /// What is left of the running coroutine's cooperative budget (see `rt::coop`).
    budget: Cell<u32>,
    /// Set during the last sweep of a shutdown: a coroutine still waiting after its
    /// cancellation was delivered is resumed with `Resume::Stuck`.
    stuck_sweep: Cell<bool>,
    /// Coroutines of this worker noted as parked while the thread was unwinding, until they
    /// look at the note again or finish (`context::parked_while_unwinding`): may count more
    /// than are still mid-unwind, never fewer.
    noted_unwinders: Cell<usize>,
    /// Debug builds check that `with_ready`/`with_coroutines` never nest.
    #[cfg(debug_assertions)]
    borrowed: Cell<bool>,
}

impl Local {
    pub(crate) fn new(index: usize, shared: Arc<Shared>, fresh: Fresh<TaskRef>) -> Self {
        Local {
            index,
            shared,
            fresh,
            fresh_hint: Cell::new(false),
            ready: UnsafeCell::new(VecDeque::with_capacity(64)),
            lifo: Cell::new(None),
            lifo_streak: Cell::new(0),
            tick: Cell::new(0),
            picks: Cell::new(0),
            coroutines: UnsafeCell::default(),
            wheel: RefCell::new(Wheel::new(Instant::now())),
            budget: Cell::new(COOP_BUDGET),
            stuck_sweep: Cell::new(false),
            noted_unwinders: Cell::new(0),
            #[cfg(debug_assertions)]
            borrowed: Cell::new(false),
        }
    }

    /// The worker thread's body: runs until the runtime shuts down, then unwinds and
    /// cancels everything it owns.
    pub(crate) fn run(self) {
        let _enter = context::enter_worker(&self);
        // Once shutdown starts no coroutine runs again, not even one woken by another worker
        // unwinding its coroutines: every coroutine is unwound where it is parked.
        loop {
            let Some(task) = self.next_local().or_else(|| self.search()) else {
                if self.shared.shutdown.load(Ordering::Acquire) {
                    break;
                }
                self.sleep();
                continue;
            };
            if self.shared.shutdown.load(Ordering::Acquire) {
                self.with_ready(|q| q.push_back(task)); // `shutdown` cancels or unwinds it
                break;
            }
            self.run_task(task);
        }
        self.shutdown();
    }

    /// This worker's counters (see `rt::stats`).
    #[inline]
    fn stats(&self) -> &WorkerStats {
        self.shared.stats.worker(self.index)
    }

    // ----- cooperative budget -------------------------------------------------------------

    /// Spends one unit of the running coroutine's budget; `true` when it is used up and
    /// another coroutine of this worker is runnable, so the caller should yield first.
    /// Called from coroutine code (through `rt::coop`).
    #[inline]
    pub(crate) fn spend_budget(&self) -> bool {
        let left = self.budget.get();
        if left > 0 {
            self.budget.set(left - 1);
            return false;
        }
        self.budget_spent()
    }

    /// The budget ran out: whether anything else is runnable here. Due timers are fired and
    /// the inbox is looked at first, since the busy coroutine keeps the loop from doing it.
    /// With nothing else to run the budget starts over.
    #[cold]
    #[inline(never)]
    fn budget_spent(&self) -> bool {
        // Coroutine code may touch the wheel and the ready queue (as `insert_timer` and
        // `push_woken` do): the loop holds neither while a coroutine runs.
        self.fire_timers();
        let lifo = self.lifo.take();
        let others = lifo.is_some()
            || !self.with_ready(|q| q.is_empty())
            || (self.fresh_hint.get() && !self.fresh.is_empty())
            || !self.shared.remotes[self.index].inbox.is_empty();
        self.lifo.set(lifo);
        if !others {
            self.budget.set(COOP_BUDGET);
        }
        others
    }

    // ----- queues -------------------------------------------------------------------------

    /// A task spawned on this worker.
    ///
    /// Only a push onto an *empty* queue wakes a sleeping worker (a full fence and a look at
    /// the sleepers, on every spawn, would dominate it): while the queue stays non-empty no
    /// worker can fall asleep (its last look sees the queue), and a worker that steals from
    /// it and leaves some behind wakes the next one ([`Self::steal`]), so the wake-ups chain.
    pub(crate) fn push_fresh(&self, task: TaskRef) {
        let was_empty = !self.fresh_hint.get() || self.fresh.is_empty();
        // Full: the older half goes to the injector, where every worker can take it.
        if self.fresh.push(task, &self.shared.injector) {
            self.shared.notify_idle();
        }
        self.fresh_hint.set(true);
        self.stats().spawned();
        if was_empty {
            self.shared.notify_idle();
        }
    }

    /// A started coroutine of this worker, woken on this thread: it runs next.
    pub(crate) fn push_woken(&self, task: TaskRef) {
        if let Some(prev) = self.lifo.replace(Some(task)) {
            self.with_ready(|q| q.push_back(prev));
        }
    }

    #[inline]
    fn next_local(&self) -> Option<TaskRef> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % SHARED_INTERVAL == 0 || tick % TIMER_INTERVAL == 0 {
            if let Some(t) = self.periodic(tick) {
                return Some(t);
            }
        }
        if let Some(t) = self.lifo.take() {
            let streak = self.lifo_streak.get();
            if streak < LIFO_STREAK {
                self.lifo_streak.set(streak + 1);
                return Some(t);
            }
            self.with_ready(|q| q.push_back(t));
        }
        self.next_queued()
    }

    /// The occasional duties of [`next_local`](Self::next_local), out of line so that the hot
    /// path spills no registers for them: every `SHARED_INTERVAL` ticks let I/O and the shared
    /// queues in, every `TIMER_INTERVAL` ticks advance the timer wheel.
    #[cold]
    #[inline(never)]
    fn periodic(&self, tick: u32) -> Option<TaskRef> {
        if tick % SHARED_INTERVAL == 0 {
            if self.shared.captures[self.index].pending() {
                self.serve_captures();
            }
            // A busy worker still lets I/O in (without blocking; see `reactor`).
            let _ = self.shared.reactor.poll_now();
            if let Some(t) = self.pop_shared() {
                return Some(t);
            }
        }
        if tick % TIMER_INTERVAL == 0 {
            self.fire_timers();
            let depth = self.with_ready(|q| q.len());
            self.stats().set_ready_depth(depth);
        }
        None
    }

    /// The next task from the run queues (the LIFO slot was empty or its streak is over).
    #[inline(never)]
    fn next_queued(&self) -> Option<TaskRef> {
        self.lifo_streak.set(0);
        // Counted here, not by `tick`: LIFO runs come in fixed-length streaks, and a tick-based
        // choice could then always land on the same parity and never look at `fresh`.
        let picks = self.picks.get().wrapping_add(1);
        self.picks.set(picks);
        if picks % FRESH_INTERVAL == 0 {
            if let Some(t) = self.pop_fresh() {
                return Some(t);
            }
        }
        let t = self.with_ready(VecDeque::pop_front);
        t.or_else(|| self.pop_fresh())
    }

    #[inline]
    fn pop_fresh(&self) -> Option<TaskRef> {
        if !self.fresh_hint.get() {
            return None;
        }
        let t = self.fresh.pop();
        if t.is_none() {
            self.fresh_hint.set(false);
        }
        t
    }

    /// Runs `f` on the run queue of started coroutines.
    ///
    /// `f` must not call back into `with_ready` or `with_coroutines`, nor run coroutine code
    /// (every caller passes a queue operation; debug builds check it).
    #[inline]
    fn with_ready<R>(&self, f: impl FnOnce(&mut VecDeque<TaskRef>) -> R) -> R {
        #[cfg(debug_assertions)]
        let _scope = Exclusive::enter(&self.borrowed);
        // SAFETY: only this worker's thread reaches `self` (it lives on the worker's stack and
        // is reached through a thread-local), and the borrow is confined to `f`, which does
        // not reach `ready` again (the contract above), so it is the only one.
        f(unsafe { &mut *self.ready.get() })
    }

    /// Runs `f` on the worker's coroutines, under the same contract as
    /// [`with_ready`](Self::with_ready).
    #[inline]
    fn with_coroutines<R>(&self, f: impl FnOnce(&mut Coroutines) -> R) -> R {
        #[cfg(debug_assertions)]
        let _scope = Exclusive::enter(&self.borrowed);
        // SAFETY: as in `with_ready`: one thread, and the borrow is confined to `f`.
        f(unsafe { &mut *self.coroutines.get() })
    }

    /// This worker's inbox, then the injector (taking a batch into `fresh`).
    fn pop_shared(&self) -> Option<TaskRef> {
        loop {
            match self.shared.remotes[self.index].inbox.steal() {
                Steal::Success(t) => return Some(t),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
        let t = self.shared.injector.pop_into(&self.fresh)?;
        self.fresh_hint.set(true);
        if !self.shared.injector.is_empty() {
            self.shared.notify_idle(); // chain, as in `steal`
        }
        Some(t)
    }

    /// Half of another worker's unstarted tasks (never a started coroutine: see `sched`).
    fn steal(&self) -> Option<TaskRef> {
        let n = self.shared.remotes.len();
        let start = self.tick.get() as usize % n;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == self.index {
                continue;
            }
            let stealer = &self.shared.remotes[victim].stealer;
            if let Some(t) = stealer.steal_into(&self.fresh) {
                self.fresh_hint.set(true);
                self.stats().stole();
                if !stealer.is_empty() {
                    self.shared.notify_idle(); // chain: more left for another thief
                }
                return Some(t);
            }
        }
        None
    }

    /// Nothing local: look everywhere, spinning briefly before giving up.
    fn search(&self) -> Option<TaskRef> {
        // I/O that is already there beats spinning (see `reactor`).
        if self.shared.reactor.poll_now() {
            if let Some(t) = self.next_local() {
                return Some(t);
            }
        }
        let backoff = Backoff::new();
        loop {
            if let Some(t) = self.pop_shared() {
                return Some(t);
            }
            if self.fire_timers() > 0 {
                if let Some(t) = self.next_local() {
                    return Some(t);
                }
            }
            if let Some(t) = self.steal() {
                return Some(t);
            }
            // A lone worker with sockets registered has nobody to steal from, and its work
            // arrives as I/O events: wait in the reactor (`sleep`) rather than burn the core.
            if backoff.is_completed()
                || self.shared.shutdown.load(Ordering::Relaxed)
                || (self.shared.remotes.len() == 1 && self.shared.sources.io_registrations() != 0)
            {
                return None;
            }
            backoff.snooze();
        }
    }

    /// Idle protocol W1–W5 (see `idle`), with the deadlock check when every worker sleeps.
    fn sleep(&self) {
        if self.shared.captures[self.index].pending() {
            self.serve_captures();
        }
        let idle = &self.shared.idle;
        self.stats().parked();
        idle.register(self.index);
        if self.shared.has_visible_work() || self.shared.shutdown.load(Ordering::SeqCst) {
            idle.unregister(self.index);
            return;
        }
        let (timeout, waking) = {
            let wheel = self.wheel.borrow();
            (wheel.next_deadline(), self.publish_timers(&wheel) != 0)
        };
        let timeout = timeout.map(|d| d.saturating_duration_since(Instant::now()));
        if !waking {
            // No timer here can wake anything (retries of an endless unwind may still fire).
            idle.if_all_asleep(|| self.shared.check_deadlock());
        }
        let sleeper = &self.shared.remotes[self.index].sleeper;
        // With sockets registered, one idle worker at a time sleeps in epoll_wait instead
        // (the reactor's waker ends that wait when this worker is roused).
        match self.shared.reactor.try_poller() {
            Some(mut poller) => sleeper.sleep_in(|| poller.poll(timeout)),
            None => sleeper.sleep(timeout),
        }
        self.shared.stats.update_clock(Instant::now());
        idle.unregister(self.index);
    }

    // ----- timers -------------------------------------------------------------------------

    /// Wakes the coroutines whose timers expired; returns how many.
    fn fire_timers(&self) -> usize {
        let mut wheel = self.wheel.borrow_mut();
        if wheel.is_empty() {
            return 0;
        }
        let mut fired = 0;
        let now = Instant::now();
        self.shared.stats.update_clock(now);
        wheel.advance(now, |task, scoped| {
            fired += 1;
            if task.header().state.notify(if scoped { SCOPE } else { 0 }) {
                self.with_ready(|q| q.push_back(task));
            }
        });
        self.publish_timers(&wheel);
        fired
    }

    /// Adds a timer that wakes `task` at `deadline` (the running coroutine's, see
    /// `rt::timer`), setting a timeout scope's `mark` first if given.
    pub(crate) fn insert_timer(
        &self,
        deadline: Instant,
        task: TaskRef,
        mark: Option<Mark>,
    ) -> TimerKey {
        let mut wheel = self.wheel.borrow_mut();
        let key = wheel.insert(deadline, task, mark);
        self.publish_timers(&wheel);
        key
    }

    /// [`insert_timer`](Self::insert_timer) for code that may run while the wheel is in use
    /// (its teardown at shutdown drops closures, whose destructors may start timers): gives
    /// `task` back then.
    pub(crate) fn try_insert_timer(
        &self,
        deadline: Instant,
        task: TaskRef,
    ) -> Result<TimerKey, TaskRef> {
        let Ok(mut wheel) = self.wheel.try_borrow_mut() else {
            return Err(task);
        };
        let key = wheel.insert(deadline, task, None);
        self.publish_timers(&wheel);
        Ok(key)
    }

    /// Adds a retry timer for `task`, the running coroutine's: what its thread's unwinding
    /// held back is tried again when it fires (see `rt::context`).
    pub(crate) fn insert_retry_timer(&self, deadline: Instant, task: TaskRef) {
        let mut wheel = self.wheel.borrow_mut();
        wheel.insert_retry(deadline, task);
        self.publish_timers(&wheel);
    }

    /// Removes a pending timer: `Some(true)` if it was pending, `Some(false)` if it had fired
    /// (or was removed) already, `None` during shutdown, when the wheel may already be
    /// borrowed for teardown.
    pub(crate) fn remove_timer(&self, key: TimerKey) -> Option<bool> {
        self.take_timer(key).map(|task| task.is_some())
    }

    /// Removes a pending timer and returns its task, dropped by the caller once the wheel is
    /// free again: `Some(None)` if it had fired or was removed, `None` during shutdown (as
    /// [`remove_timer`](Self::remove_timer)).
    pub(crate) fn take_timer(&self, key: TimerKey) -> Option<Option<TaskRef>> {
        let mut wheel = self.wheel.try_borrow_mut().ok()?;
        let task = wheel.take(key);
        if task.is_some() {
            self.publish_timers(&wheel);
        }
        Some(task)
    }

    /// Counts a coroutine noted as parked mid-unwind (`up`), or one whose note was cleared.
    pub(crate) fn note_unwinder(&self, up: bool) {
        let n = self.noted_unwinders.get();
        self.noted_unwinders.set(if up { n + 1 } else { n - 1 });
    }

    /// Coroutines of this worker that may be parked mid-unwind (see `noted_unwinders`).
    pub(crate) fn noted_unwinders(&self) -> usize {
        self.noted_unwinders.get()
    }

    /// Makes this worker's count of timers that may wake something visible to the deadlock
    /// check. A retry timer ([`insert_retry_timer`](Self::insert_retry_timer)) may not while
    /// the thread is unwinding (some coroutine of this worker waits mid-unwind): it only finds
    /// the unwind still going and re-arms, and only a real wake-up can end that unwind. Once
    /// the unwind is over it delivers what was held back, so it counts again. The panic
    /// count can drop with no timer change, so [`sleep`](Self::sleep) publishes again.
    /// Returns the count published.
    fn publish_timers(&self, wheel: &Wheel) -> usize {
        let idle = if wheel.retries() != 0 && std::thread::panicking() {
            wheel.retries()
        } else {
            0
        };
        let waking = wheel.len() - idle;
        self.shared.sources.set_timers(self.index, waking);
        waking
    }

    // ----- running ------------------------------------------------------------------------

    fn run_task(&self, task: TaskRef) {
        let snap = task.header().state.to_running();
        debug_assert!(snap & COMPLETE == 0);
        let slot = task.header().slot.load(Ordering::Relaxed);
        if slot != UNSET {
            let input = if snap & (CANCELLED | DEADLOCK | SCOPE) == 0 {
                Resume::Run
            } else {
                self.special_input(&*task, slot, snap)
            };
            match self.resume(slot, input) {
                Outcome::Requeue => self.with_ready(|q| q.push_back(task)),
                Outcome::Parked(ctx) => ctx.keep_spare(task),
                Outcome::Finished => {}
            }
            return;
        }
        if cancel_if_requested(&*task, snap) {
            return;
        }
        // The queue's reference moves into the new coroutine's slot.
        match self.start(task) {
            Ok((slot, ptr)) => {
                if let Outcome::Requeue = self.resume(slot, Resume::Run) {
                    // SAFETY: the coroutine is suspended, so its slot (and RawRef) is alive.
                    let task = unsafe { clone_raw(ptr) };
                    self.with_ready(|q| q.push_back(task));
                }
            }
            Err((task, e)) => self.start_failed(task, e),
        }
    }

    /// What a started coroutine whose task is cancelled, deadlocked or has a timeout scope
    /// due is resumed with: the cancellation once (then its destructors may wait like any
    /// code), the deadlock report every time (main only), a scope check once per `SCOPE`.
    #[cold]
    #[inline(never)]
    fn special_input(&self, task: &dyn RawTask, slot: u32, snap: usize) -> Resume {
        if snap & SCOPE != 0 {
            task.header().state.take_scope();
        }
        if snap & DEADLOCK != 0 {
            return Resume::Deadlock;
        }
        // Each delivery that a park may take as a spurious wake (`Cancel`,
        // `CancelAfterWake`, `Scope`) arms a second one for the coroutine's next suspension:
        // the task is notified now (it holds RUNNING, so that only makes its next park
        // requeue it) and the flag says what to deliver then (nothing, if the first one
        // unwound already).
        let (first, cancel_now, scope_now) = self.with_coroutines(|c| {
            let entry = c.get(slot);
            let first =
                snap & CANCELLED != 0 && !std::mem::replace(&mut entry.cancel_delivered, true);
            let cancel_now = std::mem::take(&mut entry.cancel_now);
            let scope_now = std::mem::take(&mut entry.scope_now);
            if first {
                entry.cancel_now = true;
            } else if !cancel_now && !scope_now && snap & SCOPE != 0 {
                entry.scope_now = true;
            }
            (first, cancel_now, scope_now)
        });
        if first {
            let _ = task.header().state.notify(0);
            if snap & CANCEL_WAKE != 0 {
                Resume::Cancel
            } else {
                Resume::CancelAfterWake
            }
        } else if cancel_now {
            Resume::CancelNow
        } else if snap & CANCELLED != 0 && self.stuck_sweep.get() {
            Resume::Stuck
        } else if scope_now {
            Resume::ScopeNow
        } else if snap & SCOPE != 0 {
            // SCOPE (not only NOTIFIED), so that the next run comes back here.
            let _ = task.header().state.notify(SCOPE);
            Resume::Scope
        } else {
            Resume::Run
        }
    }

    /// A task whose coroutine could not be created (no stack): its join gets the error, and
    /// the process hears of it (a detached task would vanish silently otherwise).
    #[cold]
    #[inline(never)]
    fn start_failed(&self, task: TaskRef, e: std::io::Error) {
        let msg = format!("corio: cannot create a coroutine: {e}");
        self.shared.report_start_failure(&msg);
        finish(&*task, Err(Box::new(msg)));
    }

    /// Resumes the coroutine in `slot` until it suspends or finishes.
    #[inline]
    fn resume(&self, slot: u32, input: Resume) -> Outcome {
        let (co, header) = self.with_coroutines(|c| {
            let entry = c.get(slot);
            (
                &mut entry.co as *mut Co,
                entry.task.get().header() as *const _,
            )
        });
        let stats = self.stats();
        stats.enter(header);
        self.budget.set(COOP_BUDGET);
        // SAFETY: `co` points into `coroutines`, which nothing touches until `resume`
        // returns (the `Coroutines` invariant), so it stays valid and unaliased meanwhile.
        // The coroutine catches its own panics (see `start`), so none comes out of `resume`.
        let result = coroutine::resume(unsafe { &mut *co }, input);
        let ctx = context::take_coroutine();
        match result {
            CoroutineResult::Yield(Suspend::Yield) => Outcome::Requeue,
            CoroutineResult::Yield(Suspend::Park) => {
                if std::thread::panicking() {
                    context::parked_while_unwinding(ctx);
                }
                let now_ms = self.shared.stats.coarse_ms();
                let after = self.with_coroutines(|c| {
                    let entry = c.get(slot);
                    entry.parked_at_ms = now_ms;
                    entry.task.get().header().state.after_park()
                });
                match after {
                    AfterPark::Requeue => Outcome::Requeue,
                    // SAFETY: a suspension leaves `ctx` pointing at the coroutine's own, live
                    // context (see `context::take_coroutine`); the coroutine stays in its
                    // slot, and so alive, until this worker removes it, after `run_task`
                    // used the handle.
                    AfterPark::Idle => Outcome::Parked(unsafe { SuspendedCtx::new(ctx) }),
                }
            }
            CoroutineResult::Return(()) => {
                // The output (or the panic payload) is already stored. The stall monitor
                // must let go of the task before it can be freed.
                stats.finished();
                let entry = self.with_coroutines(|c| c.remove(slot));
                coroutine::recycle(entry.co);
                finish(entry.task.get(), Ok(()));
                Outcome::Finished
            }
            CoroutineResult::Yield(Suspend::Abandon) => {
                stats.finished();
                self.abandon(slot);
                Outcome::Finished
            }
        }
    }

    /// Leaks a coroutine stuck at shutdown inside an unwind (`Suspend::Abandon`) and fails
    /// its task, saying so on stderr: resuming it to panic would abort the process.
    #[cold]
    #[inline(never)]
    fn abandon(&self, slot: u32) {
        let StartedCoroutine { co, task, .. } = self.with_coroutines(|c| c.remove(slot));
        coroutine::abandon(co);
        let h = task.get().header();
        let name = h
            .name
            .as_deref()
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        let msg = format!(
            "corio: coroutine {}{name} (spawned at {}) was still waiting inside an unwind \
             (a destructor that waits) when its runtime shut down; it was left behind, its \
             stack leaked and its remaining destructors not run",
            h.id, h.spawned_at
        );
        eprintln!("{msg}");
        finish(task.get(), Err(Box::new(msg)));
    }

    /// Creates the task's coroutine on this worker, which becomes its home for good; the
    /// task reference moves into the coroutine's slot.
    fn start(&self, task: TaskRef) -> Result<(u32, *const dyn RawTask), (TaskRef, std::io::Error)> {
        let stack_size = match task.header().stack_size {
            0 => self.shared.config.stack_size,
            own => own,
        };
        let raw = RawRef::new(task);
        let ptr = raw.ptr();
        let co = coroutine::create(stack_size, move |yielder, _| {
            let ctx = CoroutineCtx::new(yielder, ptr);
            context::set_coroutine(&ctx);
            // Drops the locals on return and on unwinding (cancel, panic, shutdown).
            struct Locals<'a>(&'a CoroutineCtx);
            impl Drop for Locals<'_> {
                fn drop(&mut self) {
                    self.0.destroy_locals();
                }
            }
            // Panics are caught here, once per coroutine, rather than around every resume.
            let out = panic::catch_unwind(AssertUnwindSafe(|| {
                let _locals = Locals(&ctx);
                // SAFETY: this coroutine only runs while its worker holds RUNNING on the task
                // (state rule 1), and `run` is called once, here.
                unsafe { ctx.task().run() };
            }));
            if out.is_ok() {
                trace_end(ctx.task().header().id, None);
            }
            if let Err(payload) = out {
                if coroutine::is_forced_unwind(&*payload) {
                    panic::resume_unwind(payload); // the coroutine crate's own unwind: let it pass
                }
                trace_end(ctx.task().header().id, Some(&*payload));
                // SAFETY: as above, we run under RUNNING.
                unsafe { ctx.task().set_error(payload) };
            }
        });
        let mut co = match co {
            Ok(co) => co,
            Err(e) => return Err((raw.into_arc(), e)),
        };
        let h = raw.get().header();
        if let Some(name) = &h.name {
            co.set_name(name); // named in the stack-overflow report
        }
        // Published to wakers by the release of RUNNING (`after_park`) or by `complete`.
        h.home.store(self.index as u32, Ordering::Relaxed);
        let slot = self.with_coroutines(|c| c.insert(co, raw));
        self.stats().started();
        // SAFETY: the slot now owns the reference `ptr` came from.
        unsafe { &*ptr }
            .header()
            .slot
            .store(slot, Ordering::Relaxed);
        Ok((slot, ptr))
    }

    // ----- dumps ----------------------------------------------------------------------------

    /// Answers the waiting dump requests with a backtrace of every suspended coroutine of
    /// this worker (see `rt::capture`).
    #[cold]
    #[inline(never)]
    fn serve_captures(&self) {
        let replies = self.shared.captures[self.index].take();
        if replies.is_empty() {
            return;
        }
        let slots: Vec<u32> = self.with_coroutines(|c| {
            (0..c.slots.len() as u32)
                .filter(|&i| c.slots[i as usize].is_some())
                .collect()
        });
        let mut list = Vec::with_capacity(slots.len());
        self.shared.stats.update_clock(Instant::now());
        let now_ms = self.shared.stats.coarse_ms();
        for slot in slots {
            let (co, task, parked_at_ms) = self.with_coroutines(|c| {
                let entry = c.get(slot);
                // SAFETY: the slot owns a reference, so the task is alive to count another.
                (
                    &mut entry.co as *mut Co,
                    unsafe { clone_raw(entry.task.ptr()) },
                    entry.parked_at_ms,
                )
            });
            // SAFETY: as in `resume`: `co` points into `coroutines`, untouched until this
            // returns. The coroutine is suspended inside `context::suspend` (every coroutine
            // in a slot is, between two resumes), which answers `Capture` by suspending again
            // with the same message, so no task state changes and no outcome is handled.
            let _ = coroutine::resume(unsafe { &mut *co }, Resume::Capture);
            let h = task.header();
            let runnable = h.state.load() & (NOTIFIED | RUNNING) != 0;
            let (backtrace, note) = match capture::taken() {
                Some((bt, note)) => (Some(Arc::new(bt)), note),
                None => (None, None),
            };
            list.push(Captured {
                id: h.id,
                name: h.name.as_deref().map(str::to_owned),
                spawned_at: h.spawned_at,
                worker: self.index,
                runnable,
                backtrace,
                note,
                parked_for: (!runnable)
                    .then(|| std::time::Duration::from_millis(now_ms.saturating_sub(parked_at_ms))),
            });
        }
        for reply in replies {
            reply(list.clone());
        }
    }

    // ----- shutdown -----------------------------------------------------------------------

    /// Unwinds every coroutine this worker owns and cancels every task it holds.
    ///
    /// Each coroutine is cancelled as by [`JoinHandle::cancel`](crate::JoinHandle::cancel)
    /// and unwound as itself (its destructors see it as `current()`; a wait in one parks
    /// it). The worker runs what those destructors wake until nothing is runnable, and waits
    /// for the other workers to get there too. A coroutine still waiting then can never be
    /// woken: it is resumed with `Resume::Stuck`, a clear panic ([`context::SHUTDOWN_WAIT`]),
    /// or, if it may be inside an unwind (where that panic would abort the process), it gives
    /// itself up and is leaked ([`abandon`](Self::abandon)); never a hang.
    fn shutdown(&self) {
        for task in self.live_tasks() {
            if task.header().state.cancel() {
                self.with_ready(|q| q.push_back(task));
            }
        }
        self.drain_at_shutdown();
        self.shared.shutdown_drained.fetch_add(1, Ordering::SeqCst);
        let workers = self.shared.remotes.len();
        loop {
            let all_drained = self.shared.shutdown_drained.load(Ordering::SeqCst) == workers;
            let ran = self.drain_at_shutdown();
            if !ran && all_drained {
                break;
            }
            if !ran {
                std::thread::yield_now();
            }
        }
        // Whatever still waits can never be woken now.
        self.stuck_sweep.set(true);
        loop {
            let stuck = self.live_tasks();
            if stuck.is_empty() {
                break;
            }
            let mut scheduled = false;
            for task in stuck {
                if task.header().state.notify(0) {
                    self.with_ready(|q| q.push_back(task));
                    scheduled = true;
                }
            }
            if !self.drain_at_shutdown() && !scheduled {
                // Unreachable by the state rules (a live coroutine is parked, or queued
                // here); leak rather than spin if that is ever wrong.
                debug_assert!(false, "shutdown: live coroutines neither parked nor queued");
                break;
            }
        }
        let wheel = std::mem::replace(&mut *self.wheel.borrow_mut(), Wheel::new(Instant::now()));
        drop(wheel);
    }

    /// A counted reference to the task of every coroutine this worker owns.
    fn live_tasks(&self) -> Vec<TaskRef> {
        self.with_coroutines(|c| {
            c.slots
                .iter()
                .flatten()
                // SAFETY: the slot owns a reference, so the task is alive to count another.
                .map(|s| unsafe { clone_raw(s.task.ptr()) })
                .collect()
        })
    }

    /// Runs this worker's runnable tasks at shutdown: started coroutines (cancelled, so they
    /// unwind) and their wakes; unstarted tasks are cancelled without running. Returns
    /// whether it ran anything.
    fn drain_at_shutdown(&self) -> bool {
        let mut ran = false;
        loop {
            let task = self
                .lifo
                .take()
                .or_else(|| self.with_ready(|q| q.pop_front()))
                .or_else(|| self.fresh.pop())
                .or_else(|| self.shared.remotes[self.index].inbox.steal().success());
            let Some(task) = task else {
                return ran;
            };
            ran = true;
            let h = task.header();
            if h.slot.load(Ordering::Relaxed) == UNSET {
                cancel_unstarted(task);
            } else if h.state.load() & COMPLETE == 0 {
                self.run_task(task);
            }
        }
    }
}
