//! Synchronisation that parks the coroutine, not the thread: Go's channels and `sync`
//! package, shaped like Rust's std and crossbeam.
//!
//! - [`channel`]: [`bounded`](channel::bounded) (`bounded(0)` is a rendezvous) and
//!   [`unbounded`](channel::unbounded) MPMC channels, [`Select`](channel::Select) and
//!   [`select!`](crate::select!). Channels live under `corio::sync::channel` (one home, like
//!   `std::sync::mpsc`); the macro is exported at the crate root as `corio::select!`.
//! - Locks and friends: [`Mutex`], [`RwLock`], [`Condvar`], [`Semaphore`], [`WaitGroup`],
//!   [`Barrier`], [`OnceCell`] and [`Once`].
//!
//! Every primitive works from coroutines *and* from plain threads: a coroutine that waits is
//! parked and its worker runs other coroutines; a plain thread that waits is parked with
//! `std::thread::park`. So coroutines and threads can share a mutex or talk over a channel.
//!
//! ```
//! use corio::sync::{channel, Mutex, WaitGroup};
//! use std::sync::Arc;
//!
//! corio::run(|| {
//!     let hits = Arc::new(Mutex::new(0));
//!     let wg = Arc::new(WaitGroup::new());
//!     let (tx, rx) = channel::unbounded();
//!     for i in 0..4 {
//!         wg.add(1);
//!         let (hits, wg, tx) = (hits.clone(), wg.clone(), tx.clone());
//!         corio::spawn(move || {
//!             *hits.lock() += 1;
//!             tx.send(i).unwrap();
//!             wg.done();
//!         });
//!     }
//!     wg.wait();
//!     drop(tx);
//!     assert_eq!(*hits.lock(), 4);
//!     assert_eq!(rx.iter().sum::<i32>(), 6);
//! });
//! ```
//!
//! # Fairness
//! Waiters queue in FIFO order everywhere. [`Mutex`] lets a running coroutine re-take a
//! just-released lock (that keeps throughput up) but hands the lock directly to a waiter that
//! has waited over a millisecond, like Go's starvation mode; [`RwLock`] and [`Semaphore`]
//! serve strictly in order. `select` starts at a random operation.
//!
//! # Poisoning
//! There is none (like `parking_lot`): `lock()` returns the guard, not a `Result`. In corio
//! unwinding through a guard is routine rather than a sign of a bug — cancelling a coroutine
//! ([`JoinHandle::cancel`](crate::JoinHandle::cancel)) or shutting a runtime down unwinds every
//! parked coroutine, guards included — so poisoning would turn ordinary cancellations into
//! errors every caller must handle. Code that must stay consistent across a panic in its
//! critical section should restore its invariants in a drop guard.
//!
//! # Cancellation
//! A coroutine cancelled while it waits leaves the queue cleanly; if it had just been handed
//! something (a lock, permits, a notification) it passes it on, so no other waiter is
//! stranded.
//!
//! # Model checking
//! The core — the internal spin lock, the wait queues, the channel hand-off and the mutex —
//! reaches the runtime only through `waiter.rs` (a coroutine's `Unparker` or a thread), which
//! under loom is a loom thread. Run the models with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p corio --lib --release sync::loom_tests
//! ```

mod barrier;
pub mod channel;
mod condvar;
mod lock;
#[cfg(all(test, loom))]
mod loom_tests;
mod mutex;
mod once;
mod rwlock;
mod semaphore;
mod waiter;
mod waitgroup;
mod waitq;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use once::{Once, OnceCell};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use waitgroup::WaitGroup;
