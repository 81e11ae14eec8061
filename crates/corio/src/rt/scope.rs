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
    /// A scope fired, but the thread is already unwinding (a destructor that waits): a second
    /// unwind there would abort. Deliver at a later suspension point.
    Deferred,
}

struct Frame {
    id: u64,
    deadline: Instant,
    fired: Mark,
    delivered: bool,
}

/// The open timeout scopes of one coroutine, innermost last.
#[derive(Default)]
pub(crate) struct ScopeStack {
    frames: RefCell<Vec<Frame>>,
    next_id: Cell<u64>,
}

impl ScopeStack {
    /// Opens a scope ending at `deadline`; returns its id and the mark its timer sets.
    pub(crate) fn enter(&self, deadline: Instant) -> (u64, Mark) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let fired = Mark::default();
        self.frames.borrow_mut().push(Frame {
            id,
            deadline,
            fired: fired.clone(),
            delivered: false,
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

    /// The scope [`due`](Self::due) would unwind to (at `now`, not unwinding), without
    /// marking it delivered.
    pub(crate) fn peek_due(&self, now: Instant) -> Option<u64> {
        let frames = self.frames.borrow();
        frames
            .iter()
            .find(|f| !f.delivered && (f.fired.get() || now >= f.deadline))
            .map(|f| f.id)
    }

    /// Marks scope `id` delivered: its unwind has begun (see `rt::context::Interrupt`).
    pub(crate) fn mark_delivered(&self, id: u64) {
        if let Some(f) = self.frames.borrow_mut().iter_mut().find(|f| f.id == id) {
            f.delivered = true;
        }
    }

    /// What the running coroutine must do now; `unwinding` is `std::thread::panicking()`.
    /// A scope is due if its timer fired, or (given `now`) if its deadline has passed.
    pub(crate) fn due(&self, unwinding: bool, now: Option<Instant>) -> Due {
        let mut frames = self.frames.borrow_mut();
        let passed = |f: &Frame| f.fired.get() || now.is_some_and(|now| now >= f.deadline);
        let Some(frame) = frames.iter_mut().find(|f| !f.delivered && passed(f)) else {
            return Due::Nothing;
        };
        if unwinding {
            return Due::Deferred;
        }
        frame.delivered = true;
        Due::Unwind(frame.id)
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
        let (outer, outer_mark) = s.enter(far());
        let (inner, inner_mark) = s.enter(far());
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
        let (outer, _) = s.enter(far());
        let (inner, inner_mark) = s.enter(far());
        inner_mark.set(true);
        assert_eq!(s.due(false, None), Due::Unwind(inner));
        s.exit(inner);
        assert_eq!(s.due(false, None), Due::Nothing);
        s.exit(outer);
        assert_ne!(s.enter(far()).0, inner, "ids are not reused");
    }

    #[test]
    fn a_passed_deadline_is_due_by_the_clock_before_its_timer_fires() {
        let s = ScopeStack::default();
        let now = Instant::now();
        let (id, _) = s.enter(now);
        assert_eq!(s.due(false, None), Due::Nothing, "no mark, no clock");
        assert_eq!(s.peek_due(now), Some(id));
        assert_eq!(s.due(false, Some(now)), Due::Unwind(id));
        assert_eq!(s.peek_due(now), None, "delivered");
    }
}
