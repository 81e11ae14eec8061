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
//! serve strictly in order. `select` chooses uniformly at random among the operations that
//! are ready.
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
//! [`JoinHandle::cancel`](crate::JoinHandle::cancel) unwinds a coroutine at its next
//! suspension point; inside a blocking operation of this module that is where it waits (a
//! runtime shutting down unwinds its parked coroutines the same way). Operations that do not
//! wait (`try_*`, `select!` with `default`, `len`, …) and waits of plain threads are never
//! interrupted. An operation that completed before the cancel reached its coroutine (the
//! message was delivered to it, the lock handed over, the notification received) returns its
//! result as usual, and the coroutine unwinds at its next suspension point: a cancel never
//! undoes a completed operation. Otherwise the cancelled waiter leaves its queue cleanly, and
//! anything handed to it in a race with the cancel — a message, a lock, a wake-up, permits —
//! is passed on, so nothing is lost and no other waiter is stranded. Guards the coroutine
//! holds are dropped as it unwinds (locks are released, permits returned). Per operation,
//! when the coroutine is cancelled inside it (and the operation had not completed):
//!
//! | operation | guarantee |
//! |---|---|
//! | [`Sender::send`](channel::Sender::send) (and `send_timeout`/`send_deadline`) | The message was either delivered — a receiver got it, or it is buffered — or it is dropped with the coroutine, never both. A `send` whose message was taken before the cancel arrived returns `Ok`. |
//! | [`Receiver::recv`](channel::Receiver::recv) (and `recv_timeout`/`recv_deadline`) | No message is lost. If a sender had already handed its message to this receiver (its `send` returned `Ok`), the message goes to the next waiting receiver, or back to the front of the buffer — past the capacity if need be — where the next `recv` gets it first. |
//! | [`Select::select`](channel::Select::select), [`select!`](crate::select!) | At most one operation was performed. A receive handed a message passes it on as `recv` does; a chosen send is delivered as for `send`; the messages of the other send operations are dropped with the `Select`. |
//! | [`Mutex::lock`] | The coroutine does not hold the lock afterwards. If the lock was handed to it, it is released; if it was woken to retry, the next waiter is woken in its place. |
//! | [`RwLock::read`], [`RwLock::write`] | As for `lock`; a writer that leaves the queue lets the readers queued behind it in. |
//! | [`Semaphore::acquire`] (and `acquire_many`, `acquire_many_timeout`) | Permits granted to it are returned; a large request that leaves the queue lets smaller ones behind it proceed. |
//! | [`Condvar::wait`] (and the `wait_*` variants) | The mutex is not re-locked (the guard was given up when the wait began). A notification it had received goes to the next waiter: `notify_one` is not swallowed. |
//! | [`WaitGroup::wait`] (and `wait_timeout`) | Nothing changes: the counter is untouched. |
//! | [`Barrier::wait`] | The party still counts as arrived for its round; the others are released as usual. |
//! | [`OnceCell::get_or_init`], [`OnceCell::set`], [`Once::call_once`] | A cancelled waiter changes nothing. If the coroutine running the initialiser is cancelled, the cell stays empty and the waiters wake: one of them runs its own initialiser. |
//!
//! A [`JoinHandle::join`](crate::JoinHandle::join) of the cancelled coroutine reports the
//! cancellation (see [`is_cancelled`](crate::task::is_cancelled)), unless the coroutine ran
//! to its end without suspending again after a completed operation.
//!
//! # Model checking
//! The core — the internal spin lock, the wait queues, the channel hand-off and the mutex —
//! reaches the runtime only through `wake_handle.rs` (a coroutine's `Unparker` or a thread),
//! which under loom is a loom thread; there a model thread can also be cancelled (it unwinds
//! out of its wait, as a cancelled coroutine does), so the cancellation paths are checked
//! too. Run the models with
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
mod waitgroup;
mod waitq;
mod wake_handle;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use once::{Once, OnceCell};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use waitgroup::WaitGroup;
