//! Timeout scopes of one coroutine: the stack of open scopes, kept in its
//! [`CoroutineCtx`](super::context::CoroutineCtx), and the unwind that ends one.
//!
//! A scope's timer (on the coroutine's home wheel, `rt::timer::scope`) sets the scope's
//! [`Mark`] and wakes the coroutine with the task's `SCOPE` bit, so its worker resumes it
//! with `Resume::Scope` (nothing is added to the plain yield/park path). After a yield,
//! `context::suspend` asks [`ScopeStack::due`] at once; after a park it returns as from a
//! spurious wake (a wait that completed keeps its result, as for a cancel; a wait that did
//! not gives up under its lock and unwinds, `context::pending_interrupt`), else the next
//! suspension asks. If due, the coroutine unwinds with a private
//! [`ScopeElapsed`] payload naming the scope, exactly like a cancellation, and the scope's
//! `catch_unwind` stops it there. When several scopes have fired the outermost one wins:
//! its unwind passes through the inner scopes, which pass on a payload that is not theirs.
//!
//! While the coroutine unwinds (a destructor that waits), only scopes opened during that
//! unwind may end: their catch is inside the destructor. One opened before would unwind out
//! of the destructor, which aborts, so it waits for the unwind to end. Whether a scope is
//! opened during an unwind of its own coroutine is decided when it opens
//! (`context::opening_during_unwind`): when another coroutine of the worker may be parked
//! mid-unwind, the thread's panic count cannot say whose it is, and the answer is no (a
//! delay, never an abort). (A panic that starts
//! inside a scope opened during an unwind, and whose own destructor then waits, is not told
//! apart: if the scope's deadline passes during that wait, its unwind starts inside that
//! destructor and the process aborts. std exposes only whether the thread is panicking, not
//! how deeply. Before, every scope waited, and a timeout in a destructor never ended.)
//!
//! A leaf: nothing here imports the rest of the kernel.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

/// Set by a scope's timer when its deadline passes (shared with the wheel entry, which may
/// outlive the scope if the wheel cannot be reached to remove it).
pub(crate) type Mark = Rc<Cell<bool>>;

/// The unwind payload that ends scope `.0` (caught by that scope only).
#[derive(Debug)]
pub(crate) struct ScopeElapsed(pub(crate) u64);

/// What a suspension point should do about the open scopes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Due {
    /// No scope has fired (or every fired one is already unwinding).
    Nothing,
    /// Unwind with `ScopeElapsed(id)`: scope `id` fired (its unwind is now marked delivered).
    Unwind(u64),
    /// A scope fired, but the coroutine is already unwinding (a destructor that waits) and the
    /// scope was opened before: its unwind would leave that destructor, which aborts. Deliver
    /// at a later suspension point.
    Deferred,
}

struct Frame {
    id: u64,
    deadline: Instant,
    fired: Mark,
    delivered: bool,
    /// Opened while the coroutine was unwinding, so inside the destructor that waits: its
    /// unwind stays in that destructor (the scope catches it there) and may be delivered.
    opened_unwinding: bool,
}

impl Frame {
    /// Whether the scope has fired (its mark) or, given `now`, its deadline has passed, and
    /// its unwind may start now (`unwinding`: the coroutine is inside an unwind).
    fn deliverable(&self, unwinding: bool, now: Option<Instant>) -> bool {
        let passed = self.fired.get() || now.is_some_and(|now| now >= self.deadline);
        !self.delivered && passed && (!unwinding || self.opened_unwinding)
    }
}

/// The open timeout scopes of one coroutine, innermost last.
#[derive(Default)]
pub(crate) struct ScopeStack {
    frames: RefCell<Vec<Frame>>,
    next_id: Cell<u64>,
}

impl ScopeStack {
    /// Opens a scope ending at `deadline`; returns its id and the mark its timer sets.
    /// `unwinding`: the coroutine is inside an unwind (`std::thread::panicking()`).
    pub(crate) fn enter(&self, deadline: Instant, unwinding: bool) -> (u64, Mark) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let fired = Mark::default();
        self.frames.borrow_mut().push(Frame {
            id,
            deadline,
            fired: fired.clone(),
            delivered: false,
            opened_unwinding: unwinding,
        });
        (id, fired)
    }

    /// Closes scope `id` (the innermost one, as scopes are closed by their guards in order).
    pub(crate) fn exit(&self, id: u64) {
        let mut frames = self.frames.borrow_mut();
        if let Some(i) = frames.iter().rposition(|f| f.id == id) {
            frames.remove(i);
        }
    }

    /// Whether any scope is open.
    #[cfg(test)]
    fn is_open(&self) -> bool {
        !self.frames.borrow().is_empty()
    }

    /// The scope [`due`](Self::due) would unwind to at `now`, without marking it delivered.
    pub(crate) fn peek_due(&self, unwinding: bool, now: Instant) -> Option<u64> {
        let frames = self.frames.borrow();
        frames
            .iter()
            .find(|f| f.deliverable(unwinding, Some(now)))
            .map(|f| f.id)
    }

    /// Marks scope `id` delivered: its unwind has begun (see `rt::context::Interrupt`).
    pub(crate) fn mark_delivered(&self, id: u64) {
        if let Some(f) = self.frames.borrow_mut().iter_mut().find(|f| f.id == id) {
            f.delivered = true;
        }
    }

    /// What the running coroutine must do now; `unwinding`: it may be inside an unwind (a
    /// destructor that waits). A scope is due if its timer fired, or (given `now`) if its
    /// deadline has passed. The outermost due scope that may unwind now wins: while
    /// unwinding, only scopes opened during the unwind may (a timeout inside the destructor
    /// ends there; one around it waits for the destructor).
    pub(crate) fn due(&self, unwinding: bool, now: Option<Instant>) -> Due {
        let mut frames = self.frames.borrow_mut();
        if let Some(frame) = frames.iter_mut().find(|f| f.deliverable(unwinding, now)) {
            frame.delivered = true;
            return Due::Unwind(frame.id);
        }
        if frames.iter().any(|f| f.deliverable(false, now)) {
            Due::Deferred
        } else {
            Due::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[test]
    fn the_outermost_fired_scope_unwinds_once() {
        let s = ScopeStack::default();
        assert!(!s.is_open());
        let (outer, outer_mark) = s.enter(far(), false);
        let (inner, inner_mark) = s.enter(far(), false);
        assert!(s.is_open());
        assert_eq!(s.due(false, None), Due::Nothing);
        inner_mark.set(true);
        outer_mark.set(true);
        assert_eq!(s.due(true, None), Due::Deferred, "never a second unwind");
        assert_eq!(s.due(false, None), Due::Unwind(outer));
        // While the outer unwind passes through the inner scope the thread is unwinding,
        // so the inner one waits, and is closed on the way out.
        assert_eq!(s.due(true, None), Due::Deferred);
        s.exit(inner);
        s.exit(outer);
        assert!(!s.is_open());
    }

    #[test]
    fn an_inner_scope_fires_alone() {
        let s = ScopeStack::default();
        let (outer, _) = s.enter(far(), false);
        let (inner, inner_mark) = s.enter(far(), false);
        inner_mark.set(true);
        assert_eq!(s.due(false, None), Due::Unwind(inner));
        s.exit(inner);
        assert_eq!(s.due(false, None), Due::Nothing);
        s.exit(outer);
        assert_ne!(s.enter(far(), false).0, inner, "ids are not reused");
    }

    #[test]
    fn a_passed_deadline_is_due_by_the_clock_before_its_timer_fires() {
        let s = ScopeStack::default();
        let now = Instant::now();
        let (id, _) = s.enter(now, false);
        assert_eq!(s.due(false, None), Due::Nothing, "no mark, no clock");
        assert_eq!(s.peek_due(false, now), Some(id));
        assert_eq!(s.due(false, Some(now)), Due::Unwind(id));
        assert_eq!(s.peek_due(false, now), None, "delivered");
    }

    #[test]
    fn while_unwinding_only_a_scope_opened_during_the_unwind_ends() {
        let s = ScopeStack::default();
        let (outer, outer_mark) = s.enter(far(), false); // around the code that panics
        let (inner, inner_mark) = s.enter(far(), true); // in a destructor run by the unwind
        outer_mark.set(true);
        assert_eq!(
            s.due(true, None),
            Due::Deferred,
            "the outer one would leave the destructor"
        );
        inner_mark.set(true);
        assert_eq!(s.peek_due(true, Instant::now()), Some(inner));
        assert_eq!(s.due(true, None), Due::Unwind(inner));
        s.exit(inner);
        assert_eq!(s.due(true, None), Due::Deferred);
        assert_eq!(
            s.due(false, None),
            Due::Unwind(outer),
            "once the unwind is over"
        );
    }
}
