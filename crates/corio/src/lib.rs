//! # corio: Go-style concurrency without async colouring
//!
//! corio runs *stackful coroutines* on a work-stealing M:N scheduler. A coroutine is ordinary
//! blocking-style Rust: it can `sleep`, `join`, `park` or wait for a future from any nested
//! call, and only the coroutine waits, not its thread.
//!
//! ```
//! use std::time::Duration;
//!
//! let total = corio::run(|| {
//!     let handles: Vec<_> = (0..1000u64)
//!         .map(|i| {
//!             corio::spawn(move || {
//!                 corio::time::sleep(Duration::from_millis(1));
//!                 i
//!             })
//!         })
//!         .collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
//! });
//! assert_eq!(total, 499_500);
//! ```
//!
//! A program or a test can let an attribute start the runtime instead ([`main`], [`test`];
//! both take an optional `workers = N`):
//!
//! ```
//! #[corio::main]
//! fn main() -> std::io::Result<()> {
//!     let h = corio::spawn(|| 6 * 7);
//!     assert_eq!(h.join().unwrap(), 42);
//!     Ok(())
//! }
//! ```
//!
//! ## Pieces
//! - [`run`], [`Runtime`], [`Builder`], [`Handle`], [`main`], [`test`]: starting and stopping
//!   a runtime.
//! - [`task`]: [`spawn`], [`JoinHandle`] (join, `join_timeout`, cancel, `Future`),
//!   [`task::JoinError`], [`yield_now`],
//!   [`task::current`], [`task::park`] / [`task::Unparker`], [`coroutine_local!`].
//! - [`time`]: [`time::sleep`], [`time::sleep_until`], per-worker timer wheels; timer
//!   channels for `select!` ([`time::after`], [`time::tick`], [`time::never()`]) and
//!   [`time::interval`]; timeout scopes ([`time::timeout`], [`time::timeout_at`]) that
//!   unwind any blocking-style code at a deadline.
//! - [`sync`]: channels ([`sync::channel`], [`select!`]) and locks ([`sync::Mutex`],
//!   [`sync::RwLock`], [`sync::Condvar`], [`sync::Semaphore`], [`sync::WaitGroup`],
//!   [`sync::Barrier`], [`sync::OnceCell`]) that park the coroutine, not the thread.
//! - [`spawn_blocking`]: a bounded pool for calls that block a thread.
//! - [`block_on`]: await any future from blocking-style code (with the `tokio` feature,
//!   also futures that need tokio's reactor or timers).
//! - [`net`]: `TcpListener`, `TcpStream`, `UdpSocket`, `UnixListener`, `UnixStream`,
//!   `UnixDatagram`, shaped like `std::net`; idle workers poll the epoll reactor themselves.
//! - [`fs`] (std's shape, on the blocking pool), [`process`] (children waited for through a
//!   pidfd in the reactor, piped stdio as streams) and [`signal`] (Unix signals as a channel).
//!
//! ## Layout
//! The public modules above sit on a kernel in `src/rt/` (scheduler, task cell, context,
//! coroutine glue, timers, blocking pool, deadlock accounting), which drives the epoll
//! `reactor`; the README's layout table says which file holds what (and where a woken
//! coroutine goes: `rt::sched::wake`).
//!
//! ## Soundness: started coroutines never migrate
//! `spawn` needs only `F: Send`: a task may be stolen by another worker *before* it starts,
//! but once its coroutine exists it stays on that worker (wakes from other threads are sent
//! to it). So a coroutine may keep `!Send` values (`Rc`, thread-local references, `MutexGuard`)
//! across suspension points. The price: a coroutine that computes without suspending holds up
//! the other started coroutines of its worker (other workers carry on, and steal its
//! unstarted tasks). corio has no opt-in to migrate started coroutines: one would have to be
//! `unsafe`, with the contract that the coroutine holds nothing tied to its thread across a
//! suspension point.
//!
//! ## Blocking calls
//! A std blocking call inside a coroutine (`std::thread::sleep`, blocking file or socket I/O,
//! a contended `std::sync::Mutex`) blocks its whole worker thread. Use corio's versions
//! ([`time::sleep`], [`fs`], [`process`], [`net`], [`sync`]) or move the call to
//! [`spawn_blocking`].
//!
//! ## Deadlock report
//! When the main coroutine waits and nothing can ever wake anything — no runnable coroutine,
//! timer, blocking job, foreign future in [`block_on`] or live [`Handle`] — the main
//! coroutine panics with `"corio: all coroutines are asleep - deadlock! ..."`, and so does
//! [`run`] / [`Runtime::block_on`], instead of hanging.
//!
//! ```should_panic
//! corio::run(|| corio::task::park()); // nobody will ever unpark it
//! ```
//!
//! ## Performance notes
//! Spawning allocates one heap cell per task (header, closure and output together); the
//! coroutine's stack comes from the worker's stack pool when the task first runs. Yielding and
//! parking make no system call and take no lock: the run queue of started coroutines is
//! private to its worker. A worker wakes a sleeping peer only when its stealable queue goes
//! from empty to non-empty (peers that steal wake the next one).
//!
//! ## Testing the wake protocol
//! The worker sleeper, the idle-worker handshake and the core of `sync` are model-checked with
//! [loom](https://docs.rs/loom):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p corio --lib --release loom
//! ```
//!
//! (a separate target directory keeps the loom build from invalidating the normal one).

// The loom build swaps the waits of the wake protocols for their models, which leaves
// runtime-side items they call (interrupt delivery, mutex starvation) unused there only.
#![cfg_attr(loom, allow(dead_code))]

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
compile_error!(
    "corio supports only x86_64 Linux (the System V ABI): its coroutines switch in x86_64 \
     assembly, and its reactor (epoll) and process waits (pidfd) are Linux APIs. Other \
     targets are not built or tested."
);

mod blocking;
pub mod debug;
pub mod fs;
mod interop;
mod loom;
pub mod metrics;
pub mod net;
mod offload;
pub mod process;
mod reactor;
mod rt;
mod runtime;
pub mod signal;
mod sigquit;
pub mod sync;
pub mod task;
pub mod time;
mod trace;

pub use blocking::spawn_blocking;
pub use corio_macros::{main, test};
pub use interop::block_on;
pub use metrics::RuntimeMetrics;
pub use runtime::{run, Builder, EnterGuard, Handle, Runtime};
pub use task::{spawn, yield_now, JoinHandle};

#[cfg(doctest)]
mod macro_errors;

// The README's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
