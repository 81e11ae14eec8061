//! The stackless baseline: a Rust `async` state machine polled by hand.
//!
//! The same yield loop as the stackful `switch`: an `async` block that awaits a hand-written
//! future which is pending once, polled with a no-op waker. Polling goes through
//! `Pin<&mut dyn Future>` hidden behind `black_box`, as an executor polls a type-erased task;
//! otherwise the compiler would inline the state machine into the loop and measure nothing real.

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use crate::infra::timing::{time_per_op, Config};
use crate::row::{Outcome, Sample};
use crate::systems::stackful::SWITCH_OPS;

/// A future that is pending on its first poll and ready on the second: one suspension point.
struct YieldOnce {
    yielded: bool,
}

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            Poll::Pending
        }
    }
}

/// `stackless-switch`: one poll of a task looping on `YieldOnce`, passing a `u64` each way
/// through a shared cell (the stackful version passes it through resume/suspend).
pub fn switch(config: &Config) -> Outcome {
    let slot = Cell::new(0u64);
    let task = pin!(async {
        loop {
            slot.set(black_box(slot.get()));
            YieldOnce { yielded: false }.await;
        }
    });
    let mut task: Pin<&mut dyn Future<Output = ()>> = black_box(task);
    let mut cx = Context::from_waker(Waker::noop());
    let ns = time_per_op(config, config.ops(SWITCH_OPS), |ops| {
        for i in 0..ops {
            slot.set(black_box(i));
            let _ = black_box(task.as_mut().poll(&mut cx));
            black_box(slot.get());
        }
    });
    Ok(Sample::new(ns).note(
        "async: an `async` block awaiting a yield-once future, polled through \
         `Pin<&mut dyn Future>` with a no-op waker (as an executor polls a task)",
    ))
}
