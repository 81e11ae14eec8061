//! Switches the synchronisation primitives of the wake protocol between `std` and
//! [loom](https://docs.rs/loom) (`RUSTFLAGS="--cfg loom"`), so the same code is model-checked.
//!
//! The worker sleeper, the idle-worker registry, the run queues of unstarted tasks and the core of `sync` (its internal lock, wait
//! queues and channel hand-off) go through this shim: they carry the "never lose a wake-up"
//! argument. Run the models with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p corio --lib --release loom
//! ```

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Mutex,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Mutex,
};

/// `loom::cell::UnsafeCell`'s interface (access through a closure, so loom can check that no
/// two threads touch the cell at once), over `std`'s cell outside loom.
pub(crate) mod cell {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;

    #[cfg(not(loom))]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}
