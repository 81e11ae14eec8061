//! One module per measured system: the workloads rows point at.

pub mod corio;
pub mod corosensei;
pub mod stackful;
pub mod stackless;
