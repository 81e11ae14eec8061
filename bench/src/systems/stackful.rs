//! Workloads shared by the stackful systems, written once and compiled against each crate.
//!
//! corio-coroutine mirrors corosensei 0.3's API, so one source text serves both: the
//! workloads cannot drift apart, and a difference in figures is a difference in the libraries.
//! Each system's module invokes [`stackful_workloads!`] with its crate and adds whatever is its
//! own (e.g. corio's pooled `Coroutine::new`).

/// Round trips per repetition of `switch`: about 30 ms at 3 ns each.
pub const SWITCH_OPS: u64 = 10_000_000;

/// Coroutines per repetition of `create`: about 35 ms at 7 ns each.
pub const CREATE_OPS: u64 = 5_000_000;

/// Defines, in the invoking module, the workloads every stackful system runs identically:
/// `switch`, `create_with_stack` and `parked_body`, for the crate `$krate` whose coroutines
/// use stacks of `STACK_SIZE` bytes (a constant the invoking module defines).
macro_rules! stackful_workloads {
    ($krate:ident) => {
        use std::hint::black_box;

        use $krate::stack::DefaultStack;
        use $krate::{Coroutine, CoroutineResult, Yielder};

        use crate::infra::timing::{time_per_op, Config};
        use crate::row::{Outcome, Sample};
        use crate::systems::stackful::{CREATE_OPS, SWITCH_OPS};

        /// `switch`: one resume + suspend round trip of a coroutine looping on
        /// `suspend(x)`, passing a `u64` each way.
        pub fn switch(config: &Config) -> Outcome {
            let mut co: Coroutine<u64, u64, ()> = Coroutine::new(|y, mut x| loop {
                x = y.suspend(x);
            });
            let ns = time_per_op(config, config.ops(SWITCH_OPS), |ops| {
                for i in 0..ops {
                    match co.resume(black_box(i)) {
                        CoroutineResult::Yield(v) => {
                            black_box(v);
                        }
                        CoroutineResult::Return(()) => unreachable!("the loop never returns"),
                    }
                }
            });
            Ok(Sample::new(ns))
        }

        /// `create-with-stack`: create a coroutine on a reused stack (`with_stack`), run it
        /// to completion, take the stack back (`into_stack`) and drop the coroutine.
        pub fn create_with_stack(config: &Config) -> Outcome {
            let stack = DefaultStack::new(STACK_SIZE).map_err(|e| e.to_string())?;
            let mut stack = Some(stack);
            let ns = time_per_op(config, config.ops(CREATE_OPS), |ops| {
                for i in 0..ops {
                    let Some(s) = stack.take() else {
                        unreachable!("the stack is put back")
                    };
                    let mut co = Coroutine::with_stack(s, |_: &Yielder<u64, u64>, x: u64| x + 1);
                    let _ = black_box(co.resume(black_box(i)));
                    stack = Some(co.into_stack());
                }
            });
            Ok(Sample::new(ns).note(format!(
                "create-with-stack: one {} KiB DefaultStack moved in by with_stack and out \
                 by into_stack on every iteration",
                STACK_SIZE / 1024
            )))
        }

        /// The body of a `parked-memory` coroutine: write a frame, then park forever.
        fn parked_body(y: &Yielder<(), ()>, _: ()) {
            crate::measure::parked::touch_stack();
            y.suspend(());
        }

        /// Resumes a fresh coroutine running [`parked_body`] so it touches its stack and
        /// suspends; errors if it returned instead.
        fn first_resume<C>(co: &mut Coroutine<(), (), (), C>) -> std::io::Result<()>
        where
            C: $krate::stack::Stack,
        {
            match co.resume(()) {
                CoroutineResult::Yield(()) => Ok(()),
                CoroutineResult::Return(()) => Err(std::io::Error::other(
                    "coroutine returned instead of parking",
                )),
            }
        }
    };
}

pub(crate) use stackful_workloads;
