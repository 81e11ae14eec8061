//! `OnceCell<T>` and `Once`: one-time initialisation whose initialiser may suspend.

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;

use super::lock::Lock;
use super::waitq::{self, Node, WaitList};
// std atomics even under loom (the cell is not modelled; `get_mut` is used on drop).
use std::sync::atomic::{AtomicUsize, Ordering};

const EMPTY: usize = 0;
const RUNNING: usize = 1;
const COMPLETE: usize = 2;

/// Token: the initialiser finished or gave up (panicked): look at the state again.
const CHANGED: usize = 1;

/// A cell written once. [`get_or_init`](Self::get_or_init) runs the initialiser in exactly
/// one caller; the others park until it finishes — and the initialiser may itself suspend
/// (sleep, receive, lock), parking only its coroutine.
///
/// If the initialiser panics (or its coroutine is cancelled) the cell stays empty and one
/// waiter tries again with its own initialiser.
///
/// ```
/// use corio::sync::OnceCell;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// corio::run(|| {
///     let cell = Arc::new(OnceCell::new());
///     let hs: Vec<_> = (0..4)
///         .map(|i| {
///             let cell = cell.clone();
///             corio::spawn(move || {
///                 *cell.get_or_init(|| {
///                     corio::time::sleep(Duration::from_millis(2)); // suspends
///                     i
///                 })
///             })
///         })
///         .collect();
///     let vals: Vec<i32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
///     assert!(vals.iter().all(|&v| v == vals[0]));
/// });
/// ```
pub struct OnceCell<T> {
    /// `EMPTY`, `RUNNING` (an initialiser runs) or `COMPLETE` (`value` is written, for good).
    state: AtomicUsize,
    waiters: Lock<WaitList<()>>,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: `&OnceCell` hands out `&T` on any thread (needs `T: Sync`) and lets any thread
// write the value (needs `T: Send`); the write happens once, before `COMPLETE` is published.
unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}
// SAFETY: moving the cell moves the `T`.
unsafe impl<T: Send> Send for OnceCell<T> {}

impl<T> OnceCell<T> {
    /// An empty cell.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        OnceCell {
            state: AtomicUsize::new(EMPTY),
            waiters: Lock::new(WaitList::new()),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// An empty cell (loom's atomics are not `const`).
    #[cfg(loom)]
    pub fn new() -> Self {
        OnceCell {
            state: AtomicUsize::new(EMPTY),
            waiters: Lock::new(WaitList::new()),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if it is set.
    pub fn get(&self) -> Option<&T> {
        // Acquire: pairs with the Release store of COMPLETE, after the value was written.
        if self.state.load(Ordering::Acquire) == COMPLETE {
            // SAFETY: COMPLETE is set only after the value was written, and never cleared.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// A mutable reference to the value, if set.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if *self.state.get_mut() == COMPLETE {
            // SAFETY: written (COMPLETE), and `&mut self` proves exclusive access.
            Some(unsafe { self.value.get_mut().assume_init_mut() })
        } else {
            None
        }
    }

    /// Sets the value if the cell is empty; otherwise gives `value` back. Waits if an
    /// initialiser is running.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("runs once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, running `init` to set it if the cell is empty. Exactly one caller's
    /// `init` runs to completion; concurrent callers park until it is done.
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        let mut init = Some(init);
        loop {
            // Acquire on failure (COMPLETE): see the value. The success ordering does not
            // matter: the runner publishes with the Release store below.
            match self
                .state
                .compare_exchange(EMPTY, RUNNING, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => {
                    let f = init.take().expect("only the runner calls init");
                    return self.run(f);
                }
                Err(COMPLETE) => return self.get().expect("complete"),
                Err(_) => self.wait_running(),
            }
        }
    }

    /// Runs the initialiser (we set RUNNING), publishes the value, wakes the waiters.
    fn run(&self, f: impl FnOnce() -> T) -> &T {
        /// Resets to EMPTY and wakes the waiters if `f` unwinds.
        struct Reset<'a, T>(&'a OnceCell<T>);
        impl<T> Drop for Reset<'_, T> {
            fn drop(&mut self) {
                self.0.publish(EMPTY);
            }
        }
        let reset = Reset(self);
        let v = f();
        std::mem::forget(reset);
        // SAFETY: we hold RUNNING: nobody else writes or reads the value until COMPLETE.
        unsafe { (*self.value.get()).write(v) };
        self.publish(COMPLETE);
        self.get().expect("just set")
    }

    /// Leaves RUNNING for `state` and wakes every waiter.
    fn publish(&self, state: usize) {
        // Release: the value write (for COMPLETE) happens-before any Acquire load that sees
        // COMPLETE. The store comes before taking the waiter lock: a waiter that checks the
        // state under that lock after us sees it and does not queue; one that checked before
        // is in the list we drain.
        self.state.store(state, Ordering::Release);
        let mut wakes = Vec::new();
        self.waiters.lock().notify_all(CHANGED, &mut wakes);
        waitq::wake_all(wakes);
    }

    /// Parks until the running initialiser finishes or gives up.
    fn wait_running(&self) {
        let node = Node::new(());
        {
            let mut w = self.waiters.lock();
            // Relaxed: the lock orders this load after/before `publish`'s store (see there);
            // the caller re-loads with Acquire.
            if self.state.load(Ordering::Relaxed) != RUNNING {
                return;
            }
            w.push_back(&node);
        }
        // Cancelled: nothing to pass on, `publish` woke every waiter.
        waitq::wait(&node, None, &self.waiters, |w| w, |_| {});
    }

    /// Consumes the cell, returning the value if set.
    pub fn into_inner(mut self) -> Option<T> {
        if *self.state.get_mut() == COMPLETE {
            *self.state.get_mut() = EMPTY; // so Drop does not drop it again
                                           // SAFETY: written (COMPLETE); ownership moves out once.
            Some(unsafe { self.value.get_mut().assume_init_read() })
        } else {
            None
        }
    }
}

impl<T> Drop for OnceCell<T> {
    fn drop(&mut self) {
        if *self.state.get_mut() == COMPLETE {
            // SAFETY: written (COMPLETE), dropped once, here.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(v) => f.debug_tuple("OnceCell").field(v).finish(),
            None => f.write_str("OnceCell(<unset>)"),
        }
    }
}

/// Runs a closure once, like [`std::sync::Once`]; the closure may suspend, and concurrent
/// callers park until it has finished.
///
/// ```
/// use corio::sync::Once;
/// static INIT: Once = Once::new();
/// let mut n = 0;
/// INIT.call_once(|| n += 1);
/// INIT.call_once(|| n += 1);
/// assert_eq!(n, 1);
/// assert!(INIT.is_completed());
/// ```
#[derive(Default)]
pub struct Once {
    cell: OnceCell<()>,
}

impl Once {
    /// A `Once` that has not run.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Once {
            cell: OnceCell::new(),
        }
    }

    /// A `Once` that has not run (loom's atomics are not `const`).
    #[cfg(loom)]
    pub fn new() -> Self {
        Once {
            cell: OnceCell::new(),
        }
    }

    /// Runs `f` if no call has completed yet; returns once some call has completed.
    pub fn call_once(&self, f: impl FnOnce()) {
        self.cell.get_or_init(f);
    }

    /// Whether a call has completed.
    pub fn is_completed(&self) -> bool {
        self.cell.get().is_some()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish()
    }
}
