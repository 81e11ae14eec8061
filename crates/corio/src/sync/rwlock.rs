//! `RwLock<T>`: many readers or one writer, served in FIFO order.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use super::lock::Lock;
use super::waitq::{self, Node, WaitList};
use super::wake_handle::WakeHandle;

/// Token: the access asked for was granted.
const GRANTED: usize = 1;

struct State {
    readers: usize,
    writer: bool,
    /// Waiters; `true` marks a writer.
    queue: WaitList<bool>,
}

/// A reader-writer lock whose waiters park the coroutine (or thread). Without poisoning
/// (see the [module docs](super#poisoning)).
///
/// Fair (phase-fair FIFO): once anybody waits, newcomers queue behind it, so a stream of
/// readers cannot starve a writer and vice versa. When a writer leaves, the run of readers
/// at the front of the queue enters together.
///
/// ```
/// use corio::sync::RwLock;
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read();
///     let r2 = lock.read();
///     assert_eq!(*r1 + *r2, 10);
///     assert!(lock.try_write().is_none());
/// }
/// *lock.write() += 1;
/// assert_eq!(*lock.read(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    state: Lock<State>,
    value: UnsafeCell<T>,
}

// SAFETY: writers get `&mut T` (needs `T: Send` to move access across threads), readers on
// several threads share `&T` (needs `T: Sync`) — as for std's RwLock.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}
// SAFETY: moving the lock moves the `T`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new unlocked lock.
    pub fn new(value: T) -> Self {
        RwLock {
            state: Lock::new(State {
                readers: 0,
                writer: false,
                queue: WaitList::new(),
            }),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning its value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Shared access, waiting while a writer holds or waits for the lock.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.acquire(false);
        RwLockReadGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Exclusive access, waiting while anybody holds the lock or waits before us.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.acquire(true);
        RwLockWriteGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Shared access if it is available now.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let mut s = self.state.lock();
        (!s.writer && s.queue.is_empty()).then(|| {
            s.readers += 1;
            RwLockReadGuard {
                lock: self,
                _marker: PhantomData,
            }
        })
    }

    /// Exclusive access if it is available now.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let mut s = self.state.lock();
        (!s.writer && s.readers == 0 && s.queue.is_empty()).then(|| {
            s.writer = true;
            RwLockWriteGuard {
                lock: self,
                _marker: PhantomData,
            }
        })
    }

    /// Shared access, waiting at most `timeout`; `None` if it was not granted in time.
    pub fn try_read_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_read_until(deadline),
            None => Some(self.read()),
        }
    }

    /// Shared access, waiting until `deadline` at the latest.
    pub fn try_read_until(&self, deadline: Instant) -> Option<RwLockReadGuard<'_, T>> {
        self.acquire_until(false, Some(deadline))
            .then(|| RwLockReadGuard {
                lock: self,
                _marker: PhantomData,
            })
    }

    /// Exclusive access, waiting at most `timeout`; `None` if it was not granted in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// corio::run(|| {
    ///     let l = corio::sync::RwLock::new(0);
    ///     let r = l.read();
    ///     assert!(l.try_write_for(Duration::from_millis(2)).is_none());
    ///     drop(r);
    ///     *l.try_write_for(Duration::from_millis(2)).unwrap() += 1;
    /// });
    /// ```
    pub fn try_write_for(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_write_until(deadline),
            None => Some(self.write()),
        }
    }

    /// Exclusive access, waiting until `deadline` at the latest.
    pub fn try_write_until(&self, deadline: Instant) -> Option<RwLockWriteGuard<'_, T>> {
        self.acquire_until(true, Some(deadline))
            .then(|| RwLockWriteGuard {
                lock: self,
                _marker: PhantomData,
            })
    }

    /// A mutable reference to the value; `&mut self` proves exclusivity.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn acquire(&self, write: bool) {
        let granted = self.acquire_until(write, None);
        debug_assert!(granted, "no deadline");
    }

    /// Takes the lock (`write`: exclusively), or gives up at `deadline` (`false`).
    fn acquire_until(&self, write: bool, deadline: Option<Instant>) -> bool {
        let node = Node::new(write);
        {
            let mut s = self.state.lock();
            if s.queue.is_empty() && !s.writer && (!write || s.readers == 0) {
                if write {
                    s.writer = true;
                } else {
                    s.readers += 1;
                }
                return true;
            }
            s.queue.push_back(&node);
        }
        let token = waitq::wait(
            &node,
            deadline,
            &self.state,
            |s| &mut s.queue,
            |token| match token {
                // Granted while unwinding: release what we were given.
                Some(_) => self.release(write),
                // Left the queue: the readers behind a cancelled writer may enter now.
                None => self.grant(),
            },
        );
        if token.is_none() {
            // Timed out and left the queue: the readers behind a writer may enter now.
            self.grant();
        }
        token.is_some()
    }

    fn release(&self, write: bool) {
        let mut wakes = Vec::new();
        {
            let mut s = self.state.lock();
            if write {
                s.writer = false;
            } else {
                s.readers -= 1;
            }
            s.grant(&mut wakes);
        }
        waitq::wake_all(wakes);
    }

    /// Serves the waiters a cancelled waiter's leaving may have unblocked.
    #[cold]
    fn grant(&self) {
        let mut wakes = Vec::new();
        self.state.lock().grant(&mut wakes);
        waitq::wake_all(wakes);
    }
}

impl State {
    /// Grants the lock from the front of the queue, in order — one writer, or a run of
    /// readers — as far as the current holders allow; collects the waiters to wake.
    fn grant(&mut self, wakes: &mut Vec<WakeHandle>) {
        while let Some(&w) = self.queue.front() {
            if self.writer || (w && self.readers > 0) {
                break;
            }
            if w {
                self.writer = true;
            } else {
                self.readers += 1;
            }
            wakes.extend(self.queue.notify_one(GRANTED));
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// Shared access to an [`RwLock`]; released on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// `!Send`, like std's guards; `Sync` comes back below for `T: Sync`.
    _marker: PhantomData<*mut T>,
}

// SAFETY: sharing a read guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while a read guard lives, `readers > 0` and `writer` is false, so nobody
        // holds `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release(false);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an [`RwLock`]; released on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// `!Send`, like std's guards; `Sync` comes back below for `T: Sync`.
    _marker: PhantomData<*mut T>,
}

// SAFETY: sharing a write guard only gives `&T` through `&guard`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while a write guard lives, `writer` is set: no other guard exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release(true);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
