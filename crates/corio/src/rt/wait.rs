//! Waiting for a `Future` from blocking-style code: the one loop behind
//! [`block_on`](crate::block_on) and [`JoinHandle::join`](crate::JoinHandle::join) (and,
//! with a deadline, `join_timeout`).
//!
//! Inside a coroutine the coroutine parks between polls and the future's waker is its own
//! task's (no allocation); outside one the thread parks.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::thread::{self, Thread};
use std::time::Instant;

use crate::rt::context;
use crate::rt::coroutine::Suspend;
use crate::rt::deadlock::ExternalWait;
use crate::rt::timer::park_until;

/// Runs `future` to completion; `foreign` says whether the wake may come from outside the
/// runtime (then the wait counts as an [`ExternalWait`] for the deadlock check).
pub(crate) fn wait<F: Future>(future: F, foreign: bool) -> F::Output {
    wait_until(future, foreign, None).expect("no deadline")
}

/// [`wait`], giving up (`None`) once `deadline` (if any) has passed.
pub(crate) fn wait_until<F: Future>(
    future: F,
    foreign: bool,
    deadline: Option<Instant>,
) -> Option<F::Output> {
    let mut future = pin!(future);
    let Some(task) = context::coroutine(|c| c.map(|c| c.task)) else {
        return block_on_thread(future, deadline);
    };
    // SAFETY: the running coroutine's task is kept alive by its slot until the coroutine
    // ends, which is after this function returns (or unwinds).
    let waker = unsafe { (*task).waker_ref() };
    let mut cx = Context::from_waker(&waker);
    let mut external = None;
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
        if foreign && external.is_none() {
            external = context::shared().map(|s| ExternalWait::new(s.sources.clone()));
        }
        match deadline {
            None => {
                context::suspend(Suspend::Park);
            }
            Some(d) => {
                if park_until(d) {
                    return None;
                }
            }
        }
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

fn block_on_thread<F: Future>(
    mut future: Pin<&mut F>,
    deadline: Option<Instant>,
) -> Option<F::Output> {
    context::assert_thread_may_block();
    let waker = Arc::new(ThreadWaker(thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
        match deadline {
            None => thread::park(),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return None;
                }
                thread::park_timeout(d - now);
            }
        }
    }
}
