//! `Lock<T>`: the short internal lock that guards wait queues and channel buffers.
//!
//! Critical sections under a `Lock` are a few dozen instructions and never suspend (nothing
//! parks while holding one), so a test-and-test-and-set spin lock with back-off is the right
//! tool: uncontended it costs one CAS to take and one store to release. A holder can only be
//! descheduled by the OS, which `Backoff::snooze` covers by yielding the thread.
//!
//! Under `cfg(loom)` it is a `loom::sync::Mutex`, so the model checker explores every
//! interleaving of the critical sections.

use std::ops::{Deref, DerefMut};

#[cfg(not(loom))]
pub(crate) use spin::Lock;

#[cfg(not(loom))]
mod spin {
    use super::*;
    use crossbeam_utils::Backoff;
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A spin lock around `T`.
    ///
    /// Invariant: `value` is only accessed through a [`LockGuard`], and at most one guard
    /// exists at a time (the one whose `lock` flipped `locked` from `false` to `true`).
    pub(crate) struct Lock<T> {
        locked: AtomicBool,
        value: UnsafeCell<T>,
    }

    // SAFETY: the lock hands out `&mut T` to one thread at a time (type invariant), which is
    // what `Mutex<T>: Sync` requires of `T: Send`.
    unsafe impl<T: Send> Sync for Lock<T> {}
    // SAFETY: moving the lock moves the `T`.
    unsafe impl<T: Send> Send for Lock<T> {}

    impl<T> Lock<T> {
        pub(crate) const fn new(value: T) -> Self {
            Lock {
                locked: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        #[inline]
        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            // Acquire: everything the previous holder wrote before its Release store in
            // `LockGuard::drop` is visible to us.
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                self.lock_contended();
            }
            LockGuard { lock: self }
        }

        #[cold]
        fn lock_contended(&self) {
            let backoff = Backoff::new();
            loop {
                // Test before test-and-set: spin on a shared cache line, not on RMWs.
                // Relaxed is enough here; the successful CAS below is the Acquire.
                while self.locked.load(Ordering::Relaxed) {
                    backoff.snooze();
                }
                if self
                    .locked
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return;
                }
            }
        }
    }

    /// Exclusive access to a [`Lock`]'s value; releases on drop.
    pub(crate) struct LockGuard<'a, T> {
        lock: &'a Lock<T>,
    }

    impl<T> Deref for LockGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: this guard is the only one (Lock invariant), so no `&mut T` exists.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for LockGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: this guard is the only one (Lock invariant), and `&mut self` makes this
            // the only reference derived from it.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for LockGuard<'_, T> {
        #[inline]
        fn drop(&mut self) {
            // Release: publishes our writes to `value` to the next holder's Acquire CAS.
            self.lock.locked.store(false, Ordering::Release);
        }
    }
}

#[cfg(loom)]
pub(crate) use model::Lock;

#[cfg(loom)]
mod model {
    use super::*;
    use loom::cell::{MutPtr, UnsafeCell};
    use loom::sync::atomic::{AtomicBool, Ordering};
    use std::mem::ManuallyDrop;

    /// The model-checked lock: the same test-and-set protocol on loom's atomics, with loom's
    /// `UnsafeCell` tracking every access to the value (a data race fails the model).
    ///
    /// Not a `loom::sync::Mutex`: loom runs every model thread on one OS thread, so while one
    /// unwinds (a modelled cancellation) std's panic count makes the others' mutex guards
    /// poison loom's internal std mutex.
    pub(crate) struct Lock<T> {
        locked: AtomicBool,
        value: UnsafeCell<T>,
    }

    // SAFETY: as for the real lock: one guard at a time hands out `&mut T`.
    unsafe impl<T: Send> Sync for Lock<T> {}
    // SAFETY: moving the lock moves the `T`.
    unsafe impl<T: Send> Send for Lock<T> {}

    /// Exclusive access to a [`Lock`]'s value; releases on drop.
    pub(crate) struct LockGuard<'a, T> {
        lock: &'a Lock<T>,
        /// loom's record of our access; ends (drops) before the lock is released.
        value: ManuallyDrop<MutPtr<T>>,
    }

    impl<T> Lock<T> {
        pub(crate) fn new(value: T) -> Self {
            Lock {
                locked: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            // Acquire: as in the real lock.
            while self
                .locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                loom::thread::yield_now();
            }
            LockGuard {
                lock: self,
                value: ManuallyDrop::new(self.value.get_mut()),
            }
        }
    }

    impl<T> Deref for LockGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: we hold the lock (the CAS above), so no other guard exists.
            unsafe { MutPtr::deref(&self.value) }
        }
    }

    impl<T> DerefMut for LockGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`; `&mut self` makes this the only reference.
            unsafe { MutPtr::deref(&self.value) }
        }
    }

    impl<T> Drop for LockGuard<'_, T> {
        fn drop(&mut self) {
            // SAFETY: dropped once, here; `value` is not used after.
            unsafe { ManuallyDrop::drop(&mut self.value) };
            // Release: as in the real lock.
            self.lock.locked.store(false, Ordering::Release);
        }
    }
}
