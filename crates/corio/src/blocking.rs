//! [`spawn_blocking`]: the public entry to the blocking pool (`rt::blocking`), for code that
//! must block a thread (files, DNS, FFI, CPU-heavy work), so it does not block a worker.
//!
//! A std blocking call made directly inside a coroutine (`std::fs::read`, `std::thread::sleep`,
//! a `std::sync::Mutex` held elsewhere, a blocking socket) blocks its **whole worker**: every
//! started coroutine of that worker waits with it. Put such calls in [`spawn_blocking`].

use crate::rt::context;
use crate::rt::task::cell::{TaskCell, TaskRef};
use crate::task::JoinHandle;

/// Runs `f` on the blocking pool and returns a handle to its result.
///
/// Use it for anything that blocks a thread: a std blocking call made directly inside a
/// coroutine (`std::fs`, `std::thread::sleep`, a blocking socket, a contended
/// `std::sync::Mutex`, FFI) blocks its **whole worker**, and every started coroutine of that
/// worker waits with it. The pool runs at most
/// [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads) jobs at once (more
/// queue), and its idle threads exit after
/// [`Builder::blocking_keep_alive`](crate::Builder::blocking_keep_alive).
///
/// ```
/// corio::run(|| {
///     let len = corio::spawn_blocking(|| std::fs::read_dir(".").map(|d| d.count()).unwrap_or(0));
///     let _ = len.join().unwrap();
/// });
/// ```
///
/// # Panics
/// Outside a runtime.
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let shared = context::shared().expect("corio::spawn_blocking called outside a corio runtime");
    let task: TaskRef = TaskCell::new(f, shared.id, None, std::panic::Location::caller());
    let handle = JoinHandle::new(task.clone());
    crate::rt::blocking::submit(&shared, task);
    handle
}
