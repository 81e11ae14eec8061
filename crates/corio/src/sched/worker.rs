//! One worker: its queues, its coroutines, its timers, and the run loop.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_deque::{Steal, Worker as Deque};
use crossbeam_utils::Backoff;

use super::Shared;
use crate::context::{self, CoCtx};
use crate::coro::{self, Co, CoroutineResult, Resume, Suspend};
use crate::task::raw::{clone_raw, RawRef, RawTask, TaskRef, UNSET};
use crate::task::state::{AfterPark, CANCELLED, COMPLETE, DEADLOCK, JOIN_WAKER};
use crate::task::Cancelled;
use crate::time::wheel::Wheel;

/// Capacity of the stealable `fresh` queue before half of it overflows to the injector.
pub(crate) const LOCAL_CAP: usize = 256;
/// Most LIFO-slot runs in a row before the slot's task goes to the back of the queue.
pub(crate) const LIFO_STREAK: u32 = 3;
/// Every this many ticks the shared queues (inbox, injector) are checked first.
const SHARED_INTERVAL: u32 = 61;
/// Every this many picks from the queues an unstarted task runs before the started ones (so
/// a yielding coroutine lets new tasks start even on a single worker).
const FRESH_INTERVAL: u32 = 2;
/// Every this many ticks the timer wheel is advanced (if it holds timers).
const TIMER_INTERVAL: u32 = 32;

/// A started coroutine and its task. The task reference keeps the task cell alive for as long
/// as the coroutine exists (the coroutine's context points into it).
struct Slot {
    co: Co,
    task: RawRef,
}

/// What became of a coroutine its worker resumed.
enum Outcome {
    /// It yielded, or parked with a wake already pending: back on the run queue.
    Requeue,
    /// It parked and released the task; the next wake schedules it. The pointer is its
    /// context, where the worker leaves the run queue's task reference for the coroutine's
    /// next waiter handle ([`CoCtx::keep_spare`]) instead of dropping it.
    Parked(*const CoCtx),
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
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
}

impl Coroutines {
    fn insert(&mut self, co: Co, task: RawRef) -> u32 {
        let entry = Some(Slot { co, task });
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

    fn get(&mut self, slot: u32) -> &mut Slot {
        self.slots[slot as usize]
            .as_mut()
            .expect("empty coroutine slot")
    }

    fn remove(&mut self, slot: u32) -> Slot {
        self.free.push(slot);
        self.slots[slot as usize]
            .take()
            .expect("empty coroutine slot")
    }
}

/// The worker-local half of a worker. It lives on the worker thread's stack; coroutines on
/// that thread reach it through `context::worker`, so every field is `&self`-accessible.
pub(crate) struct Local {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    fresh: Deque<TaskRef>,
    /// `false` only if `fresh` is empty (only this worker adds to it; thieves only take), so
    /// the hot loop skips looking at it.
    fresh_hint: Cell<bool>,
    /// Invariant: each use of `ready()` is one statement that runs no coroutine code.
    ready: UnsafeCell<VecDeque<TaskRef>>,
    lifo: Cell<Option<TaskRef>>,
    lifo_streak: Cell<u32>,
    tick: Cell<u32>,
    /// Picks from the queues (not from the LIFO slot).
    picks: Cell<u32>,
    coroutines: UnsafeCell<Coroutines>,
    pub(crate) wheel: RefCell<Wheel>,
}

impl Local {
    pub(crate) fn new(index: usize, shared: Arc<Shared>, fresh: Deque<TaskRef>) -> Self {
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
                cancel_unstarted(task); // a started one is unwound from its slot below
                break;
            }
            self.run_task(task);
        }
        self.shutdown();
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
        if !was_empty && self.fresh.len() >= LOCAL_CAP {
            // Full: move the older half to the injector, where every worker can take it.
            for _ in 0..LOCAL_CAP / 2 {
                match self.fresh.pop() {
                    Some(t) => self.shared.injector.push(t),
                    None => break,
                }
            }
            self.shared.notify_idle();
        }
        self.fresh.push(task);
        self.fresh_hint.set(true);
        if was_empty {
            self.shared.notify_idle();
        }
    }

    /// A started coroutine of this worker, woken on this thread: it runs next.
    pub(crate) fn push_woken(&self, task: TaskRef) {
        if let Some(prev) = self.lifo.replace(Some(task)) {
            self.ready().push_back(prev);
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
            self.ready().push_back(t);
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
            // A busy worker still lets I/O in (without blocking; see `reactor`).
            let _ = self.shared.reactor.poll_now();
            if let Some(t) = self.pop_shared() {
                return Some(t);
            }
        }
        if tick % TIMER_INTERVAL == 0 {
            self.fire_timers();
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
        let t = self.ready().pop_front();
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

    /// The run queue of started coroutines.
    #[allow(clippy::mut_from_ref)]
    #[inline]
    fn ready(&self) -> &mut VecDeque<TaskRef> {
        // SAFETY: only this worker's thread reaches `self` (it lives on the worker's stack and
        // is reached through a thread-local), and no use of the returned reference outlives
        // its statement or runs code that could call `ready()` again (the field invariant).
        unsafe { &mut *self.ready.get() }
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
        loop {
            match self.shared.injector.steal_batch_and_pop(&self.fresh) {
                Steal::Success(t) => {
                    self.fresh_hint.set(true);
                    if !self.shared.injector.is_empty() {
                        self.shared.notify_idle(); // chain, as in `steal`
                    }
                    return Some(t);
                }
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
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
            loop {
                match stealer.steal_batch_with_limit_and_pop(&self.fresh, LOCAL_CAP / 2) {
                    Steal::Success(t) => {
                        self.fresh_hint.set(true);
                        if !stealer.is_empty() {
                            self.shared.notify_idle(); // chain: more left for another thief
                        }
                        return Some(t);
                    }
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
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
                || (self.shared.remotes.len() == 1 && self.shared.reactor.registrations() != 0)
            {
                return None;
            }
            backoff.snooze();
        }
    }

    /// Idle protocol W1–W5 (see `idle`), with the deadlock check when every worker sleeps.
    fn sleep(&self) {
        let idle = &self.shared.idle;
        idle.register(self.index);
        if self.shared.has_visible_work() || self.shared.shutdown.load(Ordering::SeqCst) {
            idle.unregister(self.index);
            return;
        }
        let timeout = self
            .wheel
            .borrow()
            .next_deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        if timeout.is_none() {
            idle.if_all_asleep(|| self.shared.check_deadlock());
        }
        let parker = &self.shared.remotes[self.index].parker;
        // With sockets registered, one idle worker at a time sleeps in epoll_wait instead.
        if !self.shared.reactor.park(parker, timeout) {
            parker.park(timeout);
        }
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
        wheel.advance(Instant::now(), |task| {
            fired += 1;
            if task.header().state.notify(0) {
                self.ready().push_back(task);
            }
        });
        self.publish_timers(&wheel);
        fired
    }

    /// Makes this worker's timer count visible to the deadlock check.
    pub(crate) fn publish_timers(&self, wheel: &Wheel) {
        self.shared.remotes[self.index]
            .timers
            .store(wheel.len(), Ordering::SeqCst);
    }

    // ----- running ------------------------------------------------------------------------

    fn run_task(&self, task: TaskRef) {
        let snap = task.header().state.to_running();
        debug_assert!(snap & COMPLETE == 0);
        let slot = task.header().slot.load(Ordering::Relaxed);
        if slot != UNSET {
            if snap & CANCELLED != 0 {
                drop(task);
                let entry = self.coroutines().remove(slot);
                context::force_unwind(entry.co); // its destructors run here, on its thread
                finish(entry.task.get(), Err(Box::new(Cancelled)));
                return;
            }
            match self.resume(slot, snap) {
                Outcome::Requeue => self.ready().push_back(task),
                // SAFETY: `Parked` carries the live context of this very task's coroutine.
                Outcome::Parked(ctx) => unsafe { &*ctx }.keep_spare(task),
                Outcome::Finished => {}
            }
            return;
        }
        if snap & CANCELLED != 0 {
            // SAFETY: we hold RUNNING (state rule 1).
            unsafe { task.drop_closure() };
            finish(&*task, Err(Box::new(Cancelled)));
            return;
        }
        // The queue's reference moves into the new coroutine's slot.
        match self.start(task) {
            Ok((slot, ptr)) => {
                if let Outcome::Requeue = self.resume(slot, snap) {
                    // SAFETY: the coroutine is suspended, so its slot (and RawRef) is alive.
                    self.ready().push_back(unsafe { clone_raw(ptr) });
                }
            }
            Err((task, e)) => {
                let msg = format!("corio: cannot create a coroutine: {e}");
                finish(&*task, Err(Box::new(msg)));
            }
        }
    }

    /// Resumes the coroutine in `slot` until it suspends or finishes.
    #[inline]
    fn resume(&self, slot: u32, snap: usize) -> Outcome {
        let input = if snap & DEADLOCK != 0 {
            Resume::Deadlock
        } else {
            Resume::Run
        };
        let co: *mut Co = &mut self.coroutines().get(slot).co;
        // SAFETY: `co` points into `coroutines`, which nothing touches until `resume`
        // returns (the `Coroutines` invariant), so it stays valid and unaliased meanwhile.
        // The coroutine catches its own panics (see `start`), so none comes out of `resume`.
        let result = coro::resume(unsafe { &mut *co }, input);
        let ctx = context::take_coroutine();
        match result {
            CoroutineResult::Yield(Suspend::Yield) => Outcome::Requeue,
            CoroutineResult::Yield(Suspend::Park) => {
                let task = self.coroutines().get(slot).task.get();
                match task.header().state.after_park() {
                    AfterPark::Requeue => Outcome::Requeue,
                    // A suspension leaves `ctx` pointing at the coroutine's own, live
                    // context (see `context::take_coroutine`); the coroutine stays in its
                    // slot, and so alive, until this worker removes it.
                    AfterPark::Idle => Outcome::Parked(ctx),
                }
            }
            CoroutineResult::Return(()) => {
                // The output (or the panic payload) is already stored.
                let entry = self.coroutines().remove(slot);
                coro::recycle(entry.co);
                finish(entry.task.get(), Ok(()));
                Outcome::Finished
            }
        }
    }

    /// The worker's coroutines.
    #[allow(clippy::mut_from_ref)]
    fn coroutines(&self) -> &mut Coroutines {
        // SAFETY: only the worker loop calls this, never while another borrow from it is live
        // (each use is a single statement, or the in-place `resume` above, during which the
        // loop does nothing else): the `Coroutines` invariant.
        unsafe { &mut *self.coroutines.get() }
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
        let co = coro::create(stack_size, move |yielder, _| {
            let ctx = CoCtx::new(yielder, ptr);
            context::set_coroutine(&ctx);
            // Drops the locals on return and on unwinding (cancel, panic, shutdown).
            struct Locals<'a>(&'a CoCtx);
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
            if let Err(payload) = out {
                if context::force_unwinding() {
                    panic::resume_unwind(payload); // the coroutine crate's own unwind: let it pass
                }
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
        let slot = self.coroutines().insert(co, raw);
        // SAFETY: the slot now owns the reference `ptr` came from.
        unsafe { &*ptr }
            .header()
            .slot
            .store(slot, Ordering::Relaxed);
        Ok((slot, ptr))
    }

    // ----- shutdown -----------------------------------------------------------------------

    /// Unwinds every coroutine this worker owns and cancels every task it holds. Destructors
    /// may wake or spawn more, so repeat until nothing is left.
    fn shutdown(&self) {
        loop {
            let entries: Vec<_> = {
                let c = self.coroutines();
                c.free.clear();
                c.slots.drain(..).flatten().collect()
            };
            let mut any = !entries.is_empty();
            for Slot { co, task } in entries {
                context::force_unwind(co); // destructors run
                task.get().header().state.claim();
                finish(task.get(), Err(Box::new(Cancelled)));
            }
            // What remains in the queues: started tasks (just references now) and unstarted
            // ones (cancelled without running).
            let mut queued: Vec<TaskRef> = Vec::new();
            queued.extend(self.lifo.take());
            queued.extend(self.ready().drain(..));
            while let Some(t) = self.fresh.pop() {
                queued.push(t);
            }
            while let Steal::Success(t) = self.shared.remotes[self.index].inbox.steal() {
                queued.push(t);
            }
            any |= !queued.is_empty();
            for t in queued {
                cancel_unstarted(t);
            }
            if !any {
                break;
            }
        }
        let wheel = std::mem::replace(&mut *self.wheel.borrow_mut(), Wheel::new(Instant::now()));
        drop(wheel);
    }
}

/// Stores the outcome, sets `COMPLETE` and wakes the joiner. The caller holds `RUNNING`.
pub(crate) fn finish(task: &dyn RawTask, out: Result<(), Box<dyn std::any::Any + Send>>) {
    if let Err(payload) = out {
        // SAFETY: the caller holds RUNNING and COMPLETE is clear (state rule 1).
        unsafe { task.set_error(payload) };
    }
    let h = task.header();
    let prev = h.state.complete();
    if prev & JOIN_WAKER != 0 {
        // SAFETY: COMPLETE and JOIN_WAKER are both set: we own the slot (state rule 3).
        if let Some(w) = unsafe { h.join_waker() }.take() {
            w.wake();
        }
    }
}

/// Cancels a task that is still unstarted; a reference to a started one is just dropped.
pub(crate) fn cancel_unstarted(task: TaskRef) {
    let h = task.header();
    if h.slot.load(Ordering::Relaxed) != UNSET || h.state.load() & COMPLETE != 0 {
        return;
    }
    h.state.to_running();
    // SAFETY: we hold RUNNING now (state rule 1).
    unsafe { task.drop_closure() };
    finish(&*task, Err(Box::new(Cancelled)));
}
