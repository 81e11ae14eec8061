//! What a resumed coroutine does with a resume other than `Run` (see `Resume`): answer a
//! dump, report a deadlock, deliver a cancellation or an elapsed timeout scope, or fail a
//! wait at shutdown. And the policy around those deliveries: a wait that settles them under
//! its own lock (`pending_interrupt`), and an unwind in progress, inside which a second one
//! would abort the process, so they are held and retried until it ends. A child module of
//! `context`: it works on the private state of [`CoroutineCtx`].

use std::panic;

use super::{coroutine, set_until_drop, worker, CoroutineCtx, CORO, SHUTDOWN_WAIT};
use crate::rt::capture;
use crate::rt::coroutine::{Resume, Suspend};
use crate::rt::deadlock::DEADLOCK_REPORT;
use crate::rt::scope::{Due, ScopeElapsed};
use crate::rt::task::harness::Cancelled;

/// Resumed with something other than `Run`: a capture request (answered before `CORO` is
/// set: the worker runs on meanwhile), then whatever the input says. Out of line, and `msg`
/// is read back from the context rather than kept live across the switch: keeping it live
/// there measured 35 ns per `yield` instead of 12 (bench row `yield`, same machine and run;
/// the instruction counts barely differ, so it is the pipeline, not the work).
#[cold]
#[inline(never)]
pub(super) fn resumed_other(mut input: Resume, c: &CoroutineCtx) {
    let msg = c.suspended.get();
    if input == Resume::Capture {
        input = captured(c, msg);
    }
    if input != Resume::Run {
        CORO.with(|cell| cell.set(c));
        resumed_to_fail(input, msg, c);
    }
}

/// A timeout scope may be due (`Resume::Scope`): unwinds to it if so (see
/// [`crate::rt::scope`]). A delivery deferred because the thread is unwinding (a destructor
/// waits) must not be lost while the coroutine parks: a short scope timer wakes it to try
/// again.
#[cold]
#[inline(never)]
fn scope_due(ctx: &CoroutineCtx) {
    match ctx
        .scopes
        .due(may_be_unwinding(ctx), Some(std::time::Instant::now()))
    {
        Due::Nothing => {}
        // No panic hook: like a cancellation, an elapsed scope is not an error to report.
        Due::Unwind(id) => panic::resume_unwind(Box::new(ScopeElapsed(id))),
        Due::Deferred => retry_soon(ctx),
    }
}

/// Wakes the running coroutine shortly as if a timeout scope's timer fired, so that it tries
/// again to deliver what the thread's unwinding held back: a due scope, a held cancellation.
/// Never removed: if it fires when nothing is left to deliver, the wake is a spurious one,
/// which every parking caller tolerates. The delay doubles with each retry of the same
/// unwind (1 ms to 64 ms), so a destructor that waits long costs a few wakes, not a thousand
/// a second.
fn retry_soon(ctx: &CoroutineCtx) {
    let n = ctx.retries.get();
    ctx.retries.set(n.saturating_add(1));
    let retry = std::time::Instant::now() + INTERRUPT_RETRY * (1 << n.min(6));
    let task = ctx.task_ref();
    worker(|w| w.map(|w| w.insert_retry_timer(retry, task)));
}

/// The first delay of a held-back unwind's retries.
const INTERRUPT_RETRY: std::time::Duration = std::time::Duration::from_millis(1);

/// Delivers a cancellation, unless the coroutine may be unwinding ([`may_be_unwinding`]): a
/// second unwind started inside a destructor that runs during one would abort the process.
/// Then the cancellation is held and retried shortly (the coroutine returns as from a
/// spurious wake). If the unwind is the coroutine's own (a panic whose destructors wait), it
/// ends the coroutine anyway and the held cancellation lapses; if it was another coroutine's
/// on this worker, the cancellation is delivered once that one ends.
fn cancel_or_hold(c: &CoroutineCtx) {
    if may_be_unwinding(c) {
        c.cancel_held.set(true);
        retry_soon(c);
        return;
    }
    c.cancel_held.set(false);
    unwind_cancelled(c)
}

/// Notes that the coroutine whose context is `ctx` parked while its thread was unwinding.
/// Called by the worker after the switch back: a check in `suspend`, before the switch,
/// measured 3x on `yield`; yields are not noted at all (see [`may_be_unwinding`]).
#[cold]
#[inline(never)]
pub(crate) fn parked_while_unwinding(ctx: *const CoroutineCtx) {
    // SAFETY: the worker passes what `take_coroutine` returned after a park: the parked
    // coroutine's own context, alive on its stack (see `SuspendedCtx`).
    if let Some(c) = unsafe { ctx.as_ref() } {
        // Cleared where it is read (`may_be_unwinding`) or when the coroutine ends.
        if !c.parked_unwinding.replace(true) {
            worker(|w| w.map(|w| w.note_unwinder(true)));
        }
    }
}

impl Drop for CoroutineCtx {
    fn drop(&mut self) {
        clear_park_note(self); // the coroutine ends: it is not parked mid-unwind any more
    }
}

/// Clears the running coroutine's park note (see [`parked_while_unwinding`]).
fn clear_park_note(c: &CoroutineCtx) {
    if c.parked_unwinding.replace(false) {
        worker(|w| w.map(|w| w.note_unwinder(false)));
    }
}

/// Whether a timeout scope opened now is opened *during an unwind* of the running coroutine
/// (in a destructor that runs during one), so that it may end before that unwind does (see
/// `rt::scope`). The thread's panic count answers only if no other coroutine of the worker
/// may be parked mid-unwind; otherwise this says no, and the scope waits for the unwind
/// like one opened before it (never an unwind out of a destructor; at worst a delay).
pub(crate) fn opening_during_unwind() -> bool {
    if !std::thread::panicking() {
        return false;
    }
    coroutine(|c| {
        let Some(c) = c else { return false };
        let own = usize::from(c.parked_unwinding.get());
        worker(|w| w.is_some_and(|w| w.noted_unwinders() == own))
    })
}

/// Whether the running coroutine, just resumed, may be inside an unwind (a destructor that
/// waits), so that starting another would abort. Not panicking now means no: a panic count
/// cannot drop while its coroutine is suspended, and nothing ran on its stack since. Panicking
/// now may be another coroutine's doing (std counts panics per thread): after a park the
/// worker noted whether the thread was unwinding then, so a clear note means no; after a yield
/// (not noted, to keep `yield` fast), or with a note left over from an earlier park (it is
/// cleared only here), it errs towards yes, and what that holds back is retried until the
/// unwind ends.
fn may_be_unwinding(c: &CoroutineCtx) -> bool {
    if !std::thread::panicking() {
        clear_park_note(c);
        c.retries.set(0);
        return false;
    }
    c.suspended.get() == Suspend::Yield || c.parked_unwinding.get()
}

/// At the park of a wait that settles interrupts itself ([`settle_interrupts`]), a retry or a
/// second delivery must not unwind from the park: the wait's operation may have completed on
/// another thread since the wait last looked (its value taken, a lock handed over), and only
/// the wait can tell, under its own lock. So a held cancellation and the scopes are armed for
/// its [`pending_interrupt`] and the park returns as from a spurious wake. If something is
/// pending, a retry is set too: should the wait complete instead, or the thread still be
/// unwinding, a later suspension delivers it.
fn arm_for_the_wait(c: &CoroutineCtx) {
    c.scope_armed.set(true);
    let scope_pending = c
        .scopes
        .peek_due(false, std::time::Instant::now())
        .is_some();
    if c.cancel_held.get() {
        c.cancel_armed.set(true);
    }
    if c.cancel_held.get() || scope_pending {
        retry_soon(c);
    }
}

/// Gives the running coroutine up to its worker (`Suspend::Abandon`: leaked, never resumed),
/// when it is stuck at shutdown in a wait that it may have reached inside an unwind.
#[cold]
fn abandon(c: &CoroutineCtx) -> ! {
    // SAFETY: the yielder lives in the same coroutine as its context, which is running.
    let yielder = unsafe { &*c.yielder };
    loop {
        // The worker never resumes an abandoned coroutine; should it, give up again.
        yielder.suspend(Suspend::Abandon);
    }
}

/// A retry wake ([`retry_soon`]): delivers a held cancellation if the thread no longer unwinds.
/// Not at the park of a wait that settles (see [`arm_for_the_wait`]).
fn retry_held(c: &CoroutineCtx) {
    if c.cancel_held.get() {
        cancel_or_hold(c);
    }
}

/// Starts the unwind of a cancelled coroutine. No panic hook: a cancellation is not an error
/// to report. The coroutine's entry catches the payload and stores it as the task's outcome.
#[cold]
#[inline(never)]
fn unwind_cancelled(c: &CoroutineCtx) -> ! {
    c.cancel_unwinding.set(true);
    c.cancel_held.set(false);
    panic::resume_unwind(Box::new(Cancelled))
}

/// A cancellation or an elapsed timeout scope that a park of the running coroutine took as a
/// spurious wake, and that its next suspension will deliver (see [`pending_interrupt`]).
#[derive(Debug)]
pub(crate) enum Interrupt {
    Cancel,
    Scope(u64),
}

impl Interrupt {
    /// Unwinds the running coroutine with it now, as its next suspension would have.
    #[cold]
    pub(crate) fn deliver(self) -> ! {
        coroutine(|c| {
            let c = c.expect("an interrupt is taken by its own coroutine");
            match self {
                Interrupt::Cancel => unwind_cancelled(c),
                Interrupt::Scope(id) => {
                    c.scopes.mark_delivered(id);
                    panic::resume_unwind(Box::new(ScopeElapsed(id)))
                }
            }
        })
    }
}

/// Marks the running coroutine's parks, until the guard drops, as those of a wait that
/// settles interrupts itself through [`pending_interrupt`]: a cancel that is the only wake
/// returns from such a park as a spurious wake instead of unwinding at once.
pub(crate) fn settle_interrupts() -> impl Drop {
    set_until_drop(|c| &c.settles, true)
}

/// What a wait asks whenever it finds its operation not done, before it parks (the first time
/// too): whether the running coroutine has a cancellation or an elapsed timeout scope to
/// deliver. If so the wait gives up under its own lock, as on a timeout, and only if that succeeds
/// (nobody completed the operation meanwhile) calls [`Interrupt::deliver`]; otherwise it
/// returns what completed and the interrupt comes at the next suspension. This is how
/// `timeout(d, || tx.send(v))` returns `Err(Elapsed)` only if `v` was not delivered, and how a
/// cancelled sender whose value was taken returns `Ok` from `send`.
///
/// `None` outside a coroutine, and for a cancellation while the coroutine may be unwinding
/// (a destructor that waits: a second unwind would abort); a timeout scope opened during
/// that unwind may still end (see `rt::scope`). The wait then parks as usual, and the next
/// resume says what to do.
///
/// `woke`: the wait parked and woke since it began, so only the wait's own code ran since
/// the coroutine was resumed, and [`may_be_unwinding`] judges whether it is inside an unwind.
/// Before its first park the coroutine's own code has run since (it may have started an
/// unwind whose destructor is this wait, say), and the thread's panic count is all there is
/// to go by: panicking means "may be unwinding", and the park that follows is judged exactly
/// when it is resumed (`arm_for_the_wait`).
#[inline]
pub(crate) fn pending_interrupt(woke: bool) -> Option<Interrupt> {
    coroutine(|c| {
        let c = c?;
        if !c.cancel_armed.get() && !c.scope_armed.get() {
            return None;
        }
        interrupt_slow(c, woke)
    })
}

#[cold]
#[inline(never)]
fn interrupt_slow(c: &CoroutineCtx, woke: bool) -> Option<Interrupt> {
    let unwinding = if woke {
        may_be_unwinding(c)
    } else {
        std::thread::panicking()
    };
    if c.cancel_armed.get() && !c.cancel_unwinding.get() && !unwinding {
        return Some(Interrupt::Cancel);
    }
    if c.scope_armed.get() {
        match c.scopes.peek_due(unwinding, std::time::Instant::now()) {
            Some(id) => return Some(Interrupt::Scope(id)),
            // Due but held back by the unwind: it stays armed. A retry is pending (a
            // deferred `scope_due`), or the park that follows is resumed with `ScopeNow`,
            // which sets one (`arm_for_the_wait`).
            None if unwinding => {}
            None => c.scope_armed.set(false),
        }
    }
    None
}

/// Answers capture requests (for a dump: `rt::capture`) until a real resume comes: takes a
/// backtrace here and suspends again with the same message; the worker resumes no code.
#[cold]
#[inline(never)]
fn captured(c: &CoroutineCtx, msg: Suspend) -> Resume {
    // SAFETY: the yielder lives in the same coroutine as the CoroutineCtx.
    let yielder = unsafe { &*c.yielder };
    loop {
        capture::take_here(c.wait_note.get());
        let input = yielder.suspend(msg);
        if input != Resume::Capture {
            return input;
        }
    }
}

/// A coroutine resumed with something other than `Run`: unwind or panic, as the input says.
#[cold]
#[inline(never)]
fn resumed_to_fail(input: Resume, suspended: Suspend, c: &CoroutineCtx) {
    match input {
        Resume::Run => {}
        Resume::Capture => unreachable!("handled in `suspend`"),
        // A yield completes nothing: a cancel or due scope unwinds at once. A scope's timer
        // is never taken as the wake of a park, and neither is a cancel at a wait that
        // settles interrupts itself (`sync`, see `settle_interrupts`), even when it was the
        // only wake: the operation may have completed on another thread meanwhile (a value
        // delivered, a lock handed over). The park returns as from a spurious wake, so the
        // wait settles first (see `pending_interrupt`); the worker has requeued the coroutine
        // to be resumed with `CancelNow`/`ScopeNow` at its next suspension. A plain park that
        // only the cancel woke unwinds at once. No check on the hot path of `suspend`: it
        // measured 2x on `yield`.
        Resume::Scope if suspended == Suspend::Yield => {
            retry_held(c);
            scope_due(c);
        }
        Resume::Scope => c.scope_armed.set(true),
        // A second delivery (or a retry's) at the park of a wait that settles: armed for the
        // wait, never unwound from the park (see `arm_for_the_wait`).
        Resume::ScopeNow | Resume::CancelNow if suspended != Suspend::Yield && c.settles.get() => {
            if input == Resume::CancelNow && !c.cancel_unwinding.get() {
                c.cancel_held.set(true);
            }
            arm_for_the_wait(c);
        }
        Resume::ScopeNow => {
            c.scope_armed.set(false);
            retry_held(c);
            scope_due(c);
        }
        Resume::Deadlock => panic!("{}", DEADLOCK_REPORT),
        Resume::Cancel if suspended == Suspend::Yield || !c.settles.get() => cancel_or_hold(c),
        Resume::CancelAfterWake if suspended == Suspend::Yield => cancel_or_hold(c),
        // A wake came before the cancel (or a settling wait): return as from that wake.
        Resume::Cancel | Resume::CancelAfterWake => c.cancel_armed.set(true),
        Resume::CancelNow => {
            c.cancel_armed.set(false);
            if !c.cancel_unwinding.get() {
                cancel_or_hold(c); // else unwinding already (after a yield, or an interrupt)
            }
        }
        // Inside an unwind a panic would abort the process: the coroutine gives itself up.
        Resume::Stuck if may_be_unwinding(c) => abandon(c),
        // A panic (printed), so the reason shows: a wait after the cancellation was caught.
        Resume::Stuck => panic!("{SHUTDOWN_WAIT}"),
    }
}
