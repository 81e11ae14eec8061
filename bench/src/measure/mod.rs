//! Methods that several systems' versions of a row share, so each row's method is written
//! once: the runtime rows' sizes and helpers ([`workload`]), resident memory per parked
//! coroutine ([`parked`]) and the network clients and pinned servers ([`net`]).

pub mod net;
pub mod parked;
pub mod starvation;
pub mod workload;
