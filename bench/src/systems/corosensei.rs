//! corosensei 0.3: the stackful peer.

use std::io;

crate::systems::stackful::stackful_workloads!(corosensei);

/// Stack size for `create-with-stack` and `parked-memory`: corio's default, so the two
/// libraries are compared on equal stacks (corosensei's own default is 1 MiB).
pub const STACK_SIZE: usize = corio_coroutine::stack::DEFAULT_STACK_SIZE;

/// `create`: corosensei reuses stacks only through `with_stack` + `into_stack`, so its
/// `create` figure is [`create_with_stack`].
pub fn create(config: &Config) -> Outcome {
    Ok(create_with_stack(config)?.note(
        "create: corio takes its stack from the per-thread pool (Coroutine::new); corosensei, \
         which has no pool, reuses one DefaultStack via with_stack + into_stack",
    ))
}

/// `parked-memory`: resident bytes per coroutine parked on a fresh `DefaultStack`.
pub fn parked_memory(config: &Config) -> Outcome {
    crate::parked::bytes_per_parked(config, STACK_SIZE, park)
}

/// Creates one coroutine on its own stack, touches the stack and parks it.
fn park() -> io::Result<Coroutine<(), (), ()>> {
    let mut co = Coroutine::with_stack(DefaultStack::new(STACK_SIZE)?, parked_body);
    first_resume(&mut co)?;
    Ok(co)
}
