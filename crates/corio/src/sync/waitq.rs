//! Intrusive FIFO wait queues: the one way a `sync` primitive blocks.
//!
//! A blocking operation puts a [`Node`] on its own stack, links it into a [`WaitList`] while
//! holding the primitive's [`Lock`], releases the lock and parks in [`wait`]. A notifier takes
//! the node off the list *under the same lock*, stores a non-zero token in it and wakes its
//! waiter after releasing the lock. Nothing is allocated per wait (the list's ring buffer only
//! grows to the largest number of simultaneous waiters).
//!
//! # Rules (cited as "waitq rule N")
//!
//! 1. A node is linked only while its owner is inside [`wait`] (or about to enter it, having
//!    linked it under the lock), and every pointer in a list is dereferenced only while that
//!    list's lock is held. So a linked node is always alive.
//! 2. The owner leaves [`wait`] only after it has seen a non-zero token, or has unlinked the
//!    node itself under the lock — also when it unwinds (a cancelled coroutine), through the
//!    guard in [`wait`]. So a node never dies while linked.
//! 3. A notifier unlinks the node, clones its waiter, and only then stores the token
//!    (Release): after that store it never touches the node again (the owner may already be
//!    gone); it wakes the clone.
//!
//! A token means whatever the primitive wants ("you own the lock now", "retry", …); `0` is
//! reserved for "still waiting".

use std::collections::VecDeque;
use std::ptr::NonNull;
use std::time::Instant;

use super::lock::Lock;
use super::wake_handle::{interrupted, wait_for_wake, WakeHandle};
use crate::loom::{AtomicUsize, Ordering};

/// The token of a node nobody has notified yet.
pub(crate) const WAITING: usize = 0;

/// One blocked operation, living on its owner's stack, with primitive-specific `data`
/// (a permit count, reader-or-writer, the time it started waiting, …).
pub(crate) struct Node<D> {
    waiter: WakeHandle,
    token: AtomicUsize,
    pub(crate) data: D,
}

impl<D> Node<D> {
    /// A node for the running coroutine or thread.
    pub(crate) fn new(data: D) -> Self {
        Node {
            waiter: WakeHandle::current(),
            token: AtomicUsize::new(WAITING),
            data,
        }
    }

    /// The token a notifier stored, or [`WAITING`].
    fn token(&self) -> usize {
        // Acquire: pairs with the notifier's Release store (waitq rule 3), so whatever it
        // did on our behalf before notifying (handing us a lock, permits) is visible.
        self.token.load(Ordering::Acquire)
    }
}

/// A FIFO of linked [`Node`]s. Lives inside the state a [`Lock`] guards.
pub(crate) struct WaitList<D> {
    nodes: VecDeque<NonNull<Node<D>>>,
}

// SAFETY: the list only holds pointers to nodes whose owners wait for them (waitq rule 1);
// the nodes' shared parts (`WakeHandle`, an atomic, `D: Sync`) may be used from any thread.
unsafe impl<D: Sync> Send for WaitList<D> {}

impl<D> WaitList<D> {
    pub(crate) const fn new() -> Self {
        WaitList {
            nodes: VecDeque::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Links `node` at the back (normal arrival).
    pub(crate) fn push_back(&mut self, node: &Node<D>) {
        self.nodes.push_back(NonNull::from(node));
    }

    /// Links `node` at the front (a waiter that was woken, lost the race, and keeps its turn).
    pub(crate) fn push_front(&mut self, node: &Node<D>) {
        self.nodes.push_front(NonNull::from(node));
    }

    /// The data of the first node.
    pub(crate) fn front(&self) -> Option<&D> {
        // SAFETY: a linked node is alive while we hold the list's lock (waitq rule 1), which
        // `&self` proves: lists are only reachable through their lock guard.
        self.nodes.front().map(|n| unsafe { &n.as_ref().data })
    }

    /// Unlinks the first node and notifies it with `token`; returns its waiter, to wake
    /// after the lock is released.
    pub(crate) fn notify_one(&mut self, token: usize) -> Option<WakeHandle> {
        debug_assert_ne!(token, WAITING);
        let node = self.nodes.pop_front()?;
        // SAFETY: it was linked until now, so it is alive (waitq rule 1); we hold the lock.
        let node = unsafe { node.as_ref() };
        let waiter = node.waiter.clone();
        // Release: publishes what we did for the owner (waitq rule 3). Last touch.
        node.token.store(token, Ordering::Release);
        Some(waiter)
    }

    /// Notifies every node with `token`, appending their waiters to `wakes`.
    pub(crate) fn notify_all(&mut self, token: usize, wakes: &mut Vec<WakeHandle>) {
        while let Some(w) = self.notify_one(token) {
            wakes.push(w);
        }
    }

    /// Unlinks `node` if it is linked; returns whether it was.
    pub(crate) fn remove(&mut self, node: &Node<D>) -> bool {
        let p = NonNull::from(node);
        match self.nodes.iter().rposition(|&n| n == p) {
            Some(i) => {
                self.nodes.remove(i);
                true
            }
            None => false,
        }
    }
}

/// Wakes every waiter in `wakes` (after the lock that produced them is released).
pub(crate) fn wake_all(wakes: Vec<WakeHandle>) {
    for w in wakes {
        w.wake();
    }
}

/// Parks until `node` (already linked in the list `list` selects from `lock`'s state) is
/// notified, or `deadline` passes. Returns the token, or `None` on timeout — then the node
/// has been unlinked.
///
/// If the owner unwinds while parked (its coroutine was cancelled, or the runtime shuts down)
/// the node is unlinked and `abandon` runs on the unwind path (never on the normal one):
/// - `abandon(Some(token))` if a token had already been given: pass on whatever it conferred
///   (unlock the lock it was handed, return the permits, wake the next waiter instead), so a
///   cancelled waiter never swallows a hand-off;
/// - `abandon(None)` if it was still waiting: its leaving may let the waiters behind it
///   proceed (a large semaphore request, a writer ahead of readers), so serve them.
///
/// A cancellation or elapsed scope met while parked is settled here first (see
/// `wake_handle::interrupted`): a token already given is returned as a normal wake would
/// return it (the unwind comes at the next suspension); otherwise the node is unlinked,
/// `abandon(None)` runs, and the coroutine unwinds.
pub(crate) fn wait<S, D>(
    node: &Node<D>,
    deadline: Option<Instant>,
    lock: &Lock<S>,
    list: fn(&mut S) -> &mut WaitList<D>,
    abandon: impl FnOnce(Option<usize>),
) -> Option<usize> {
    /// Unlinks the node if `wait` is left by unwinding (waitq rule 2).
    struct Guard<'a, S, D, A: FnOnce(Option<usize>)> {
        node: &'a Node<D>,
        lock: &'a Lock<S>,
        list: fn(&mut S) -> &mut WaitList<D>,
        abandon: Option<A>,
    }

    impl<S, D, A: FnOnce(Option<usize>)> Guard<'_, S, D, A> {
        /// Unlinks the node, or returns the token if a notifier got there first.
        fn unlink(&self) -> Option<usize> {
            let mut state = self.lock.lock();
            if (self.list)(&mut state).remove(self.node) {
                None
            } else {
                // Not linked: a notifier unlinked it and stored the token under this lock.
                Some(self.node.token())
            }
        }
    }

    impl<S, D, A: FnOnce(Option<usize>)> Drop for Guard<'_, S, D, A> {
        fn drop(&mut self) {
            if let Some(abandon) = self.abandon.take() {
                abandon(self.unlink());
            }
        }
    }

    let mut guard = Guard {
        node,
        lock,
        list,
        abandon: Some(abandon),
    };
    let mut woke = false;
    loop {
        let token = node.token();
        if token != WAITING {
            guard.abandon = None;
            return Some(token);
        }
        // A cancellation or elapsed scope gives up like the deadline, and unwinds only if
        // the node was still linked: a token given first is kept (the lock is ours).
        if let Some(interrupt) = interrupted(woke) {
            let out = guard.unlink();
            let abandon = guard.abandon.take().expect("armed until we return");
            if out.is_none() {
                abandon(None);
                interrupt.deliver();
            }
            return out;
        }
        if wait_for_wake(deadline) {
            let out = guard.unlink();
            guard.abandon = None;
            return out;
        }
        woke = true;
    }
}
