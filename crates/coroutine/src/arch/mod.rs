//! The context switch, one file per instruction set.
//!
//! Every backend provides the same items: `TOP_SLOTS`, `EntryFn`,
//! `init_stack`, `resume`, `suspend` and `finish` (see `x86_64.rs` for their
//! contracts). Only x86_64 System V is implemented: it is the only target we
//! can build and test, and we do not ship untested assembly.

#[cfg(all(target_arch = "x86_64", unix))]
mod x86_64;
#[cfg(all(target_arch = "x86_64", unix))]
pub use x86_64::*;

#[cfg(not(all(target_arch = "x86_64", unix)))]
compile_error!("corio-coroutine supports x86_64 Unix (System V ABI) only for now");
