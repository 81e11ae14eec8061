//! The task in the kernel: the heap cell every spawn allocates ([`cell`]), its state word
//! ([`state`]) and completion ([`harness`]). The public handles (`JoinHandle`, `Unparker`,
//! `task::current`) live above, in `crate::task`; the scheduler (`rt::sched`) moves
//! [`TaskRef`](cell::TaskRef)s between queues.

pub(crate) mod cell;
pub(crate) mod harness;
pub(crate) mod state;
mod vtable;
