//! Async interop: running a `Future` to completion from blocking-style code.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::thread::{self, Thread};

use crate::context;
use crate::coro::Suspend;

/// Runs a future to completion and returns its output.
///
/// Inside a coroutine only the coroutine waits: it parks between polls and its worker runs
/// other coroutines; the future's waker (usable from any thread) wakes it. Outside a
/// coroutine it blocks the calling thread. Any runtime-agnostic future works, e.g. a
/// `futures::channel::oneshot` fed from another thread, or a [`JoinHandle`](crate::JoinHandle).
///
/// ```
/// corio::run(|| {
///     let h = corio::spawn(|| 6 * 7);
///     assert_eq!(corio::block_on(async move { h.await.unwrap() }), 42);
/// });
/// ```
///
/// While a coroutine waits here the deadlock report assumes something outside the runtime
/// may wake it, and stays silent.
pub fn block_on<F: Future>(future: F) -> F::Output {
    wait(future, true)
}

/// `block_on`; `foreign` says whether the wake may come from outside the runtime (for the
/// deadlock check).
pub(crate) fn wait<F: Future>(future: F, foreign: bool) -> F::Output {
    let mut future = pin!(future);
    let Some(task) = context::coroutine(|c| c.map(|c| c.task)) else {
        return block_on_thread(future);
    };
    // SAFETY: the running coroutine's task is kept alive by its slot until the coroutine
    // ends, which is after this function returns (or unwinds).
    let waker = unsafe { (*task).waker_ref() };
    let mut cx = Context::from_waker(&waker);
    let mut external = None;
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        if foreign && external.is_none() {
            external = context::shared().map(ExternalWait::new);
        }
        context::suspend(Suspend::Park);
    }
}

/// Counts a wait that something outside the runtime may end (see `Shared::external`), so the
/// deadlock check stays silent meanwhile. The reactor holds one per I/O registration.
pub(crate) struct ExternalWait(Arc<crate::sched::Shared>);

impl ExternalWait {
    pub(crate) fn new(shared: Arc<crate::sched::Shared>) -> Self {
        shared.external.fetch_add(1, Ordering::SeqCst);
        ExternalWait(shared)
    }
}

impl Drop for ExternalWait {
    fn drop(&mut self) {
        self.0.external.fetch_sub(1, Ordering::SeqCst);
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on_thread<F: Future>(mut future: std::pin::Pin<&mut F>) -> F::Output {
    let waker = Arc::new(ThreadWaker(thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}
