//! Fast, safe stackful coroutines.
//!
//! A [`Coroutine`] runs a function on its own stack. The function can
//! suspend itself from any depth of nested calls through its [`Yielder`],
//! handing a value out; [`Coroutine::resume`] continues it, handing a value
//! in. No `async` colouring: the code inside is ordinary Rust.
//!
//! ```
//! use corio_coroutine::{Coroutine, CoroutineResult, Yielder};
//!
//! fn walk(yielder: &Yielder<(), u32>, depth: u32) {
//!     if depth > 0 {
//!         walk(yielder, depth - 1); // suspend from deep inside
//!     }
//!     yielder.suspend(depth);
//! }
//!
//! let mut co = Coroutine::new(|yielder, ()| walk(yielder, 2));
//! assert_eq!(co.resume(()), CoroutineResult::Yield(0));
//! assert_eq!(co.resume(()), CoroutineResult::Yield(1));
//! assert_eq!(co.resume(()), CoroutineResult::Yield(2));
//! assert_eq!(co.resume(()), CoroutineResult::Return(()));
//! ```
//!
//! What you get:
//! - a context switch that is a handful of instructions (`arch/x86_64.rs`),
//!   passing one machine word each way and saving only live registers;
//! - guarded stacks carved from large slab mappings (guard pages from
//!   `MADV_GUARD_INSTALL` on Linux >= 6.13, else one `mmap` + `PROT_NONE`
//!   page per stack: see [`stack::guard_mode`]) recycled through a
//!   per-thread pool and a bounded process-wide cache, so creating a
//!   coroutine makes no system call, and given back by a scavenger once
//!   idle;
//! - panics inside a coroutine propagate out of `resume`; dropping a
//!   suspended coroutine unwinds it so every destructor runs;
//! - backtraces, debuggers and profilers walk from the coroutine into the
//!   code that resumed it;
//! - a stack overflow prints which coroutine overflowed which stack size,
//!   then aborts, instead of a bare "Segmentation fault";
//! - a million coroutines fit in a few hundred kernel mappings; where the
//!   kernel lacks `MADV_GUARD_INSTALL`, running out of kernel mappings
//!   (`vm.max_map_count`) is an error that says so, never an abort.
//!
//! Supported: x86_64 Linux (System V ABI).

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
compile_error!(
    "corio-coroutine supports only x86_64 Linux (the System V ABI): its context switch is \
     x86_64 assembly and its stacks are Linux mmap mappings. Other targets are not built or tested."
);

mod arch;
mod coroutine;
mod overflow;
pub mod stack;
mod tooling;
mod unwind;

pub use coroutine::{Coroutine, CoroutineResult, Yielder};
pub use overflow::set_overflow_hint;
pub use unwind::is_forced_unwind;
