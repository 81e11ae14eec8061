//! How the bench runs things, whatever the row: timing, child processes and the hidden
//! subcommands they run, operating-system and memory facts, and the programs built at run
//! time (corio's examples, the Go peer).
//!
//! Nothing here knows a row or a system's workload; `measure/` and `systems/` build on it.

pub mod child;
pub mod corio_examples;
pub mod go_program;
pub mod hidden;
pub mod mem;
pub mod os;
pub mod timing;
