//! Synchronisation that parks the coroutine, not the thread: channels with `select!`,
//! [`Mutex`], and friends.

pub mod channel;
mod lock;
mod mutex;
mod waiter;
mod waitq;

pub use mutex::{Mutex, MutexGuard};
