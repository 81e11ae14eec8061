//! The type-erased operations of a [`TaskCell`] ([`RawTask`]) and its waker: the one place
//! where a task calls into the scheduler (a wake schedules it through `rt::sched`).

use std::any::Any;
use std::mem::{self, ManuallyDrop};
use std::sync::Arc;
use std::task::{RawWaker, RawWakerVTable, Waker};
use std::thread;

use super::cell::{RawTask, Stage, TaskCell, TaskRef};

impl<F, T> TaskCell<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    const VTABLE: RawWakerVTable = RawWakerVTable::new(
        Self::waker_clone,
        Self::waker_wake,
        Self::waker_wake_by_ref,
        Self::waker_drop,
    );

    // The waker's data pointer is `Arc::into_raw` of the task: one strong count per waker.

    unsafe fn waker_clone(p: *const ()) -> RawWaker {
        // SAFETY: `p` came from `Arc::into_raw` and the waker holds a count, so it is live.
        unsafe { Arc::increment_strong_count(p as *const Self) };
        RawWaker::new(p, &Self::VTABLE)
    }

    unsafe fn waker_wake(p: *const ()) {
        // SAFETY: takes over the waker's count.
        let task: Arc<Self> = unsafe { Arc::from_raw(p as *const Self) };
        crate::rt::sched::wake(task);
    }

    unsafe fn waker_wake_by_ref(p: *const ()) {
        // SAFETY: borrows the waker's count without consuming it.
        let task = ManuallyDrop::new(unsafe { Arc::from_raw(p as *const Self) });
        if task.header.state.notify(0) {
            crate::rt::sched::schedule(Arc::clone(&*task) as TaskRef);
        }
    }

    unsafe fn waker_drop(p: *const ()) {
        // SAFETY: releases the waker's count.
        drop(unsafe { Arc::from_raw(p as *const Self) });
    }
}

// SAFETY: `TaskCell` is `#[repr(C)]` with `header` first.
unsafe impl<F, T> RawTask for TaskCell<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    unsafe fn run(&self) {
        // SAFETY: caller holds RUNNING (state rule 1). The borrow ends before `f` runs, so a
        // panic in `f` leaves no live `&mut` behind.
        let f = match mem::replace(unsafe { self.stage() }, Stage::Running) {
            Stage::Pending(f) => f,
            _ => unreachable!("task closure run twice"),
        };
        let out = f();
        // SAFETY: as above.
        unsafe { *self.stage() = Stage::Done(Ok(out)) };
    }

    unsafe fn drop_closure(&self) {
        // SAFETY: state rule 1.
        let old = mem::replace(unsafe { self.stage() }, Stage::Running);
        drop(old);
    }

    unsafe fn set_error(&self, payload: Box<dyn Any + Send>) {
        // SAFETY: state rule 1.
        unsafe { *self.stage() = Stage::Done(Err(payload)) };
    }

    unsafe fn take_output(&self, dst: *mut ()) {
        // SAFETY: the JoinHandle saw COMPLETE, so it alone reads the stage now (rule 1).
        let stage = mem::replace(unsafe { self.stage() }, Stage::Taken);
        let Stage::Done(out) = stage else {
            panic!("task output taken twice")
        };
        // SAFETY: `dst` is an `Option<thread::Result<T>>` by the caller's contract.
        unsafe { *(dst as *mut Option<thread::Result<T>>) = Some(out) };
    }

    fn waker(self: Arc<Self>) -> Waker {
        let raw = RawWaker::new(Arc::into_raw(self) as *const (), &Self::VTABLE);
        // SAFETY: the vtable functions above keep the one-count-per-waker contract.
        unsafe { Waker::from_raw(raw) }
    }

    unsafe fn waker_ref(&self) -> ManuallyDrop<Waker> {
        let raw = RawWaker::new(self as *const Self as *const (), &Self::VTABLE);
        // SAFETY: `self` is the data of an Arc (caller's contract), which is what the vtable
        // expects; ManuallyDrop keeps the waker from releasing a count it does not own.
        ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
    }
}
