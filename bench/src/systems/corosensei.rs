//! corosensei 0.3: the stackful peer.

use std::io;

crate::systems::stackful::stackful_workloads!(corosensei);

/// Stack size for `create-with-stack` and `parked-memory`: corio's default, so the two
/// libraries are compared on equal stacks (corosensei's own default is 1 MiB).
pub const STACK_SIZE: usize = corio_coroutine::stack::DEFAULT_STACK_SIZE;

/// `create`: corosensei has no pool; its fastest way to reuse a stack is a
/// `ScopedCoroutine` on a borrowed `DefaultStack`, so that is its figure (the
/// owned `with_stack` + `into_stack` path is the `create-with-stack` row).
pub fn create(config: &Config) -> Outcome {
    let mut stack = DefaultStack::new(STACK_SIZE).map_err(|e| e.to_string())?;
    let ns = time_per_op(config, config.ops(CREATE_OPS), |ops| {
        for i in 0..ops {
            let co = corosensei::ScopedCoroutine::with_stack(
                &mut stack,
                |_: &Yielder<u64, u64>, x: u64| x + 1,
            );
            co.scope(|mut co| {
                let _ = black_box(co.resume(black_box(i)));
            });
        }
    });
    Ok(Sample::new(ns).note(
        "create: corio takes its stack from the per-thread pool (Coroutine::new); corosensei, \
         which has no pool, runs a ScopedCoroutine on one borrowed DefaultStack (its fastest \
         reuse; the owned with_stack + into_stack path is the create-with-stack row)",
    ))
}

/// `parked-memory`: resident bytes per coroutine parked on a fresh `DefaultStack`.
pub fn parked_memory(config: &Config) -> Outcome {
    crate::measure::parked::bytes_per_parked(config, STACK_SIZE, park)
}

/// Creates one coroutine on its own stack, touches the stack and parks it.
fn park() -> io::Result<Coroutine<(), (), ()>> {
    let mut co = Coroutine::with_stack(DefaultStack::new(STACK_SIZE)?, parked_body);
    first_resume(&mut co)?;
    Ok(co)
}
