//! Switches the synchronisation primitives of the wake protocol between `std` and
//! [loom](https://docs.rs/loom) (`RUSTFLAGS="--cfg loom"`), so the same code is model-checked.
//!
//! The worker sleeper, the idle-worker registry and the core of `sync` (its internal lock, wait
//! queues and channel hand-off) go through this shim: they carry the "never lose a wake-up"
//! argument. Run the models with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p corio --lib --release loom
//! ```

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicU32, AtomicUsize, Ordering},
    Mutex,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicU32, AtomicUsize, Ordering},
    Mutex,
};
