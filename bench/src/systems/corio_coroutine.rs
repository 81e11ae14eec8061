//! corio: the project's own coroutines (`corio-coroutine`).

use std::io;

crate::systems::stackful::stackful_workloads!(corio_coroutine);

/// Stack size for `create-with-stack` and `parked-memory`: corio's default, the size
/// `Coroutine::new` takes from the pool.
pub const STACK_SIZE: usize = corio_coroutine::stack::DEFAULT_STACK_SIZE;

/// `create`: `Coroutine::new` (stack from the per-thread pool), run to completion, drop
/// (stack back to the pool).
pub fn create(config: &Config) -> Outcome {
    let ns = time_per_op(config, config.ops(CREATE_OPS), |ops| {
        for i in 0..ops {
            let mut co = Coroutine::new(|_: &Yielder<u64, u64>, x: u64| x + 1);
            let _ = black_box(co.resume(black_box(i)));
        }
    });
    Ok(Sample::new(ns))
}

/// `parked-memory`: resident bytes per coroutine parked on a pooled default stack.
pub fn parked_memory(config: &Config) -> Outcome {
    crate::measure::parked::bytes_per_parked(config, STACK_SIZE, park)
}

/// Creates one coroutine the way users do, touches its stack and parks it; `try_new` so
/// hitting the mapping limit is an error, not a panic.
fn park() -> io::Result<Coroutine<(), (), ()>> {
    let mut co = Coroutine::try_new(parked_body)?;
    first_resume(&mut co)?;
    Ok(co)
}
