//! Async interop: running a `Future` to completion from blocking-style code. Public API
//! above the kernel; the wait loop itself is `rt::wait`, and with the `tokio` feature
//! `tokio_side` provides the reactor and timers that tokio's futures expect.

use std::future::Future;

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
/// With the `tokio` cargo feature, futures that need tokio's reactor or timers
/// (`tokio::net`, `tokio::time`, and crates built on them such as reqwest, sqlx or tonic)
/// work too: each poll runs inside a tokio runtime's context (the caller's, if it already is
/// in one, else a small process-wide runtime on the side, started on first use), whose own
/// thread drives their I/O and timers and wakes the coroutine. Create such futures inside
/// the `async` block given to `block_on` (a `tokio::time::sleep` made outside any tokio
/// context panics at once):
///
/// ```no_run
/// // with `corio = { version = "0.1", features = ["tokio"] }`
/// corio::run(|| {
///     let stream = corio::block_on(async {
///         tokio::time::sleep(std::time::Duration::from_millis(1)).await;
///         tokio::net::TcpStream::connect("127.0.0.1:8080").await
///     });
/// });
/// ```
///
/// While a coroutine waits here the deadlock report assumes something outside the runtime
/// may wake it, and stays silent.
pub fn block_on<F: Future>(future: F) -> F::Output {
    #[cfg(feature = "tokio")]
    let future = tokio_side::Entered(future);
    crate::rt::wait::wait(future, true)
}

#[cfg(feature = "tokio")]
pub(crate) mod tokio_side {
    //! A tokio runtime on the side, for futures that need tokio's reactor or timers.

    use std::future::Future;
    use std::pin::Pin;
    use std::sync::OnceLock;
    use std::task::{Context, Poll};

    /// The process-wide side runtime: one worker thread (which drives tokio's I/O and timer
    /// drivers), started on first use and never shut down.
    fn handle() -> &'static tokio::runtime::Handle {
        static SIDE: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        SIDE.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("corio-tokio")
                .enable_all()
                .build()
                .expect("corio: cannot start the tokio runtime for block_on")
        })
        .handle()
    }

    /// Polls the inner future inside a tokio runtime's context.
    pub(crate) struct Entered<F>(pub(crate) F);

    impl<F: Future> Future for Entered<F> {
        type Output = F::Output;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            // The guard lives only for this poll, which never suspends the coroutine, so the
            // context never leaks to another coroutine of this thread.
            let _entered = match tokio::runtime::Handle::try_current() {
                Ok(_) => None, // already inside a tokio runtime: its context serves
                Err(_) => Some(handle().enter()),
            };
            // SAFETY: structural pinning: `self.0` is never moved out of the pinned wrapper.
            unsafe { self.map_unchecked_mut(|e| &mut e.0) }.poll(cx)
        }
    }
}
