//! The safe coroutine API: [`Coroutine`], [`Yielder`], [`CoroutineResult`].

use crate::arch;
use crate::overflow::{self, header_address, Header, NAME_CAPACITY};
use crate::stack::{DefaultStack, Stack, MIN_STACK_SIZE};
use crate::tooling::{self, Bounds};
use crate::unwind::{self, ForcedUnwind};
use std::any::Any;
use std::cell::Cell;
use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop};
use std::panic::{self, AssertUnwindSafe};
use std::{fmt, io, ptr};

/// What [`Coroutine::resume`] returns: the coroutine either suspended with a
/// value or finished with its return value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum CoroutineResult<Yield, Return> {
    /// The coroutine called [`Yielder::suspend`] with this value.
    Yield(Yield),
    /// The coroutine's function returned this value.
    Return(Return),
}

impl<Y, R> CoroutineResult<Y, R> {
    /// The yielded value, if the coroutine suspended.
    pub fn as_yield(self) -> Option<Y> {
        match self {
            CoroutineResult::Yield(value) => Some(value),
            CoroutineResult::Return(_) => None,
        }
    }

    /// The return value, if the coroutine finished.
    pub fn as_return(self) -> Option<R> {
        match self {
            CoroutineResult::Yield(_) => None,
            CoroutineResult::Return(value) => Some(value),
        }
    }
}

/// A function running on its own stack that can suspend itself from any
/// depth of nested calls and be resumed later.
///
/// Values move both ways: [`resume`](Coroutine::resume) passes an `Input` in;
/// the coroutine hands a `Yield` out each time it suspends and a `Return`
/// when its function returns. A panic inside the coroutine comes out of
/// `resume`. Dropping a suspended coroutine unwinds its stack, so every
/// destructor on it runs (see [`force_unwind`](Coroutine::force_unwind)).
///
/// ```
/// use corio_coroutine::{Coroutine, CoroutineResult};
///
/// let mut co = Coroutine::new(|yielder, start: u32| {
///     let mut total = start;
///     for i in 0..3 {
///         total += yielder.suspend(i); // hand `i` out, receive the next input
///     }
///     total
/// });
/// assert_eq!(co.resume(10), CoroutineResult::Yield(0));
/// assert_eq!(co.resume(1), CoroutineResult::Yield(1));
/// assert_eq!(co.resume(2), CoroutineResult::Yield(2));
/// assert_eq!(co.resume(3), CoroutineResult::Return(16));
/// assert!(co.done());
/// ```
///
/// A coroutine stays on the thread that made it: it is not `Send`, because
/// code inside may hold thread-locals or `!Send` values across a suspension.
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let co = corio_coroutine::Coroutine::<(), (), ()>::new(|_, ()| ());
/// assert_send(co);
/// ```
///
/// Invariant: `sp` is the saved stack pointer of the suspended (or not yet
/// started) context on `stack`, or at most `arch::UNWOUND` once the
/// coroutine has finished (see `FINISHED`). The stack's base is the
/// coroutine's `top`, where the switch keeps its slots and the overflow
/// header lives (see `arch/x86_64.rs`).
pub struct Coroutine<Input, Yield, Return, S: Stack = DefaultStack> {
    stack: ManuallyDrop<S>,
    sp: usize,
    started: bool,
    marker: PhantomData<(ResumeFn<Input, Yield, Return>, NotSend)>,
}

/// `Coroutine::sp` at or below this: the coroutine has finished.
const FINISHED: usize = arch::UNWOUND;

/// A panic payload, as `catch_unwind` gives it.
type Payload = Box<dyn Any + Send>;

/// Variance marker: a coroutine consumes `I` and produces `Y`/`R`.
type ResumeFn<I, Y, R> = fn(I) -> CoroutineResult<Y, R>;
/// Variance marker: a yielder consumes `Y` and produces `I`.
type SuspendFn<I, Y> = fn(Y) -> I;
/// Marker keeping coroutines and yielders on their thread.
type NotSend = *mut ();

/// The handle a coroutine suspends itself with, passed to its function.
/// Pass `&Yielder` down to any nested call that needs to suspend.
pub struct Yielder<Input, Yield> {
    top: usize,
    /// Set once a forced unwind has begun: any further suspend unwinds again.
    unwinding: Cell<bool>,
    /// The resumer's stack, for memory checkers (empty without them).
    resumer: Cell<Bounds>,
    marker: PhantomData<(SuspendFn<Input, Yield>, NotSend)>,
}

impl<I, Y, R> Coroutine<I, Y, R, DefaultStack> {
    /// A coroutine running `f` on a [`DefaultStack`] from this thread's pool.
    ///
    /// # Panics
    /// If no stack can be mapped; the message names the limit that was hit
    /// (use [`try_new`](Coroutine::try_new) to get it as an error).
    #[inline]
    pub fn new<F>(f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        // DefaultStack::new has made this thread ready for overflow reports.
        Self::on_ready_thread(DefaultStack::default(), f)
    }

    /// Like [`new`](Coroutine::new), but returns the error when no stack can
    /// be mapped (for example at `vm.max_map_count`).
    pub fn try_new<F>(f: F) -> io::Result<Self>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        let stack = DefaultStack::new(crate::stack::DEFAULT_STACK_SIZE)?;
        // DefaultStack::new has made this thread ready for overflow reports.
        Ok(Self::on_ready_thread(stack, f))
    }
}

impl<I, Y, R, S: Stack> Coroutine<I, Y, R, S> {
    /// A coroutine running `f` on the given stack.
    ///
    /// # Panics
    /// If the closure `f` itself does not fit comfortably on the stack.
    pub fn with_stack<F>(stack: S, f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        overflow::ensure_ready();
        Self::on_ready_thread(stack, f)
    }

    /// [`with_stack`](Coroutine::with_stack) on a thread where
    /// `overflow::ensure_ready` has run.
    #[inline(always)]
    fn on_ready_thread<F>(stack: S, f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        let top = stack.base();
        // SAFETY: the Stack contract makes the base 16-byte aligned. (Said
        // here so the closure's place is a constant offset from `top`.)
        unsafe { std::hint::assert_unchecked(top % 16 == 0) };
        // SAFETY: the Stack contract makes [limit, top) ours and writable;
        // the header sits right below the switch's slots, 16-byte aligned.
        unsafe { (*(header_address(top) as *mut Header)).name_len = 0 };
        let closure = closure_address::<F>(top);
        // The Stack contract promises MIN_STACK_SIZE bytes, so a closure that fits in
        // that with a page to spare needs no check: the constant condition folds away.
        if closure_may_not_fit::<F>() {
            assert!(
                closure >= stack.limit() + 4096,
                "corio: a {}-byte closure does not fit on a {}-byte coroutine stack",
                mem::size_of::<F>(),
                top - stack.limit()
            );
        }
        // SAFETY: `closure` is aligned for F and lies in our stack, below the
        // header and at least a page above the limit; init_stack's frame goes
        // below it, and `entry` finds the closure at the same address.
        let sp = unsafe {
            ptr::write(closure as *mut F, f);
            arch::init_stack(top, closure, entry::<F, I, Y, R>)
        };
        // SAFETY: `sp` lies in the stack's memory, far above address 1.
        unsafe { std::hint::assert_unchecked(sp > FINISHED) };
        Coroutine {
            stack: ManuallyDrop::new(stack),
            sp,
            started: false,
            marker: PhantomData,
        }
    }

    /// Runs the coroutine until it suspends or returns. The first call
    /// passes `input` as the function's argument; later calls make it the
    /// value returned by [`Yielder::suspend`].
    ///
    /// # Panics
    /// If the coroutine has finished, and with the coroutine's own panic if
    /// it panics (it is then finished).
    pub fn resume(&mut self, input: I) -> CoroutineResult<Y, R> {
        assert!(
            self.sp > FINISHED,
            "corio: resume called on a coroutine that has finished"
        );
        self.started = true;
        let input = ManuallyDrop::new(input);
        // SAFETY: the coroutine is suspended (or not started) on our stack.
        let (message, sp) = unsafe { self.switch(&input as *const ManuallyDrop<I> as usize) };
        if sp > FINISHED {
            // SAFETY: a suspending coroutine passes the address of its Yield
            // value, which it will never touch again.
            return CoroutineResult::Yield(unsafe { ptr::read(message as *const Y) });
        }
        if sp == arch::RETURNED {
            // SAFETY: a returning coroutine passes the address of its return
            // value, which it will never touch again.
            return CoroutineResult::Return(unsafe { ptr::read(message as *const R) });
        }
        // SAFETY: an unwound coroutine passes the address of its payload.
        panic::resume_unwind(unsafe { ptr::read(message as *const Payload) })
    }

    /// Switches into the coroutine with `message`.
    ///
    /// # Safety
    /// The coroutine must be suspended or not yet started (`sp > FINISHED`).
    #[inline(always)]
    unsafe fn switch(&mut self, message: usize) -> (usize, usize) {
        let sp = mem::replace(&mut self.sp, 0);
        let top = self.top();
        let fake = tooling::switching(Bounds::of(self.stack.limit(), top));
        // SAFETY: per our invariant `sp` is the suspended context of the
        // stack whose top is `top`, and `&mut self` means nobody else
        // resumes it.
        let (message, sp) = unsafe { arch::resume(message, sp, top) };
        tooling::switched(fake);
        self.sp = sp;
        (message, sp)
    }

    /// The stack's base, where the switch keeps its slots and the header
    /// lives (the Stack contract keeps it fixed).
    #[inline(always)]
    fn top(&self) -> usize {
        self.stack.base()
    }

    /// Whether the coroutine has been resumed at least once.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Whether the coroutine has finished: returned, panicked or was unwound.
    pub fn done(&self) -> bool {
        self.sp <= FINISHED
    }

    /// Unwinds a suspended coroutine's stack now, running every destructor on
    /// it, and marks it finished; does nothing if it has finished. A
    /// coroutine that never started just drops its closure. This is what
    /// dropping a suspended coroutine does.
    ///
    /// The unwind is a panic with a private payload raised from the pending
    /// [`Yielder::suspend`] (without invoking the panic hook). Code inside
    /// that catches it with `catch_unwind` may clean up and continue, but any
    /// later `suspend` unwinds again, and if the function then returns, its
    /// return value is dropped. A destructor that panics during the unwind
    /// aborts the process, as in any Rust unwind.
    ///
    /// # Panics
    /// If code inside catches the unwind and then panics with its own payload,
    /// that panic comes out here.
    pub fn force_unwind(&mut self) {
        if self.done() {
            return;
        }
        // SAFETY: not finished. Message 0 asks the coroutine to unwind.
        let (message, sp) = unsafe { self.switch(0) };
        if sp > FINISHED {
            // Only reachable if code inside suspended through some other
            // coroutine's yielder: nothing sound is left to do.
            eprintln!("corio: a coroutine suspended while being force-unwound; aborting");
            std::process::abort();
        }
        if sp == arch::RETURNED {
            // SAFETY: as in `resume`. (Code inside caught the unwind and
            // returned: its value is dropped.)
            drop(unsafe { ptr::read(message as *const R) });
            return;
        }
        // SAFETY: as in `resume`.
        let payload = unsafe { ptr::read(message as *const Payload) };
        if !payload.is::<ForcedUnwind>() {
            panic::resume_unwind(payload);
        }
    }

    /// Marks the coroutine finished without unwinding it: nothing on its
    /// stack is dropped (values are leaked) and the stack becomes reusable.
    ///
    /// # Safety
    /// Reusing the stack memory without running destructors breaks `Pin`'s
    /// drop guarantee: the caller must know that nothing on the coroutine's
    /// stack is pinned or referenced from outside it (for example an
    /// intrusive waiter node registered with a lock).
    pub unsafe fn force_reset(&mut self) {
        self.sp = 0;
    }

    /// Returns the stack for reuse, unwinding the coroutine first if it is
    /// suspended.
    pub fn into_stack(mut self) -> S {
        self.force_unwind();
        // SAFETY: `self` is forgotten right after, so the stack is taken once
        // and Drop never sees it.
        let stack = unsafe { ManuallyDrop::take(&mut self.stack) };
        mem::forget(self);
        stack
    }

    /// The stack the coroutine runs on.
    pub fn stack(&self) -> &S {
        &self.stack
    }

    /// Names the coroutine for diagnostics such as the stack-overflow report.
    /// Names longer than 64 bytes are cut (at a character boundary).
    pub fn set_name(&mut self, name: &str) {
        let mut len = name.len().min(NAME_CAPACITY);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        // SAFETY: the header lives in our stack at a fixed place (see
        // `with_stack`); while we hold `&mut self` the coroutine is not running.
        unsafe {
            let header = &mut *(header_address(self.top()) as *mut Header);
            header.name[..len].copy_from_slice(&name.as_bytes()[..len]);
            header.name_len = len;
        }
    }

    /// The name given with [`set_name`](Coroutine::set_name), if any.
    pub fn name(&self) -> Option<&str> {
        // SAFETY: as in `set_name`; the header outlives `&self`.
        let header = unsafe { &*(header_address(self.top()) as *const Header) };
        let name = &header.name[..header.name_len];
        // The bytes were copied from a &str cut at a char boundary.
        (!name.is_empty()).then(|| std::str::from_utf8(name).unwrap_or("<invalid>"))
    }
}

impl<I, Y, R, S: Stack> Drop for Coroutine<I, Y, R, S> {
    #[inline]
    fn drop(&mut self) {
        if !self.done() {
            self.drop_suspended();
        }
        // SAFETY: dropped exactly once, here; the coroutine is finished (or,
        // with panic=abort, abandoned), so nothing runs on the stack.
        unsafe { ManuallyDrop::drop(&mut self.stack) };
    }
}

impl<I, Y, R, S: Stack> Coroutine<I, Y, R, S> {
    /// Unwinds a coroutine that is dropped while suspended; a panic that
    /// comes out of the unwind is passed on only after the stack is freed.
    #[cold]
    fn drop_suspended(&mut self) {
        if cfg!(panic = "unwind") {
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| self.force_unwind())) {
                // SAFETY: the coroutine is finished. Unwinding from here
                // also leaves `drop`, so the stack is dropped once, here.
                unsafe { ManuallyDrop::drop(&mut self.stack) };
                panic::resume_unwind(payload);
            }
        } else {
            // Nothing can unwind: the stack's contents are leaked.
            self.sp = 0;
        }
    }
}

impl<I, Y, R, S: Stack> fmt::Debug for Coroutine<I, Y, R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coroutine")
            .field("name", &self.name())
            .field("started", &self.started)
            .field("done", &self.done())
            .finish()
    }
}

/// A coroutine that takes no input and returns nothing is a generator: each
/// [`Yielder::suspend`] produces an item.
///
/// ```
/// use corio_coroutine::Coroutine;
/// let squares = Coroutine::new(|yielder, ()| {
///     for i in 1..=4u32 {
///         yielder.suspend(i * i);
///     }
/// });
/// assert_eq!(squares.collect::<Vec<_>>(), [1, 4, 9, 16]);
/// ```
impl<Y, S: Stack> Iterator for Coroutine<(), Y, (), S> {
    type Item = Y;

    fn next(&mut self) -> Option<Y> {
        if self.done() {
            return None;
        }
        self.resume(()).as_yield()
    }
}

impl<I, Y> Yielder<I, Y> {
    /// Suspends the coroutine, handing `value` to its resumer; returns the
    /// input of the next [`Coroutine::resume`].
    ///
    /// If the coroutine is being dropped instead of resumed, this unwinds
    /// (see [`Coroutine::force_unwind`]).
    pub fn suspend(&self, value: Y) -> I {
        if self.unwinding.get() {
            unwind::forced();
        }
        let value = ManuallyDrop::new(value);
        let fake = tooling::switching(self.resumer.get());
        // SAFETY: a Yielder only exists inside its running coroutine (it is
        // !Send and borrowed by the coroutine's function), so this runs on the
        // stack whose top is `self.top` and the parent link is live.
        let message = unsafe { arch::suspend(&value as *const ManuallyDrop<Y> as usize, self.top) };
        self.resumer.set(tooling::switched(fake));
        if message == 0 {
            self.unwinding.set(true);
            unwind::forced();
        }
        // SAFETY: `resume` passes the address of its Input, which it will not
        // touch again.
        unsafe { ptr::read(message as *const I) }
    }
}

impl<I, Y> fmt::Debug for Yielder<I, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Yielder").finish_non_exhaustive()
    }
}

/// Whether a closure of type `F`, placed below the top slots and the header, might leave
/// less than a page above the limit of a [`MIN_STACK_SIZE`] stack (the smallest the
/// [`Stack`] contract allows), so its placement must be checked against the real limit.
const fn closure_may_not_fit<F>() -> bool {
    let used = crate::arch::TOP_SLOTS
        + mem::size_of::<Header>()
        + mem::size_of::<F>()
        + (mem::align_of::<F>() - 1);
    used + 4096 > MIN_STACK_SIZE
}

/// Where the closure of type `F` of a coroutine whose stack top is `top`
/// lives: right below the header, aligned for `F`.
#[inline(always)]
fn closure_address<F>(top: usize) -> usize {
    (header_address(top) - mem::size_of::<F>()) & !(mem::align_of::<F>() - 1)
}

/// The coroutine's first frame, entered by the first resume with that
/// resume's message and the stack top.
///
/// # Safety
/// Only the first resume enters it (see `arch::init_stack`), on the stack
/// `with_stack` prepared, where the closure address holds an `F` that
/// nothing else will read.
unsafe extern "C" fn entry<F, I, Y, R>(message: usize, _: usize, top: usize) -> !
where
    F: FnOnce(&Yielder<I, Y>, I) -> R,
{
    if message == 0 {
        // SAFETY: our own contract.
        unsafe { drop_unstarted::<F>(top) }
    }
    let resumer = tooling::switched(tooling::first_arrival());
    // SAFETY: per the contract, the closure address holds our closure, and
    // it is read once; `resume` passes the address of its Input, read once.
    let (f, input) = unsafe {
        (
            ptr::read(closure_address::<F>(top) as *const F),
            ptr::read(message as *const I),
        )
    };
    let yielder = Yielder {
        top,
        unwinding: Cell::new(false),
        resumer: Cell::new(resumer),
        marker: PhantomData,
    };
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| f(&yielder, input)));
    tooling::leaving_for_good(yielder.resumer.get());
    // The resumer moves the value or payload out; this frame never returns,
    // so neither is dropped here.
    match outcome {
        Ok(value) => {
            let value = ManuallyDrop::new(value);
            // SAFETY: we run on the stack whose top is `top`, and the parent
            // link holds the resumer; nothing on this stack is used afterwards.
            unsafe { arch::finish(&value as *const _ as usize, top, arch::RETURNED) }
        }
        // SAFETY: as above.
        Err(payload) => unsafe { finish_unwound(payload, top) },
    }
}

/// The first resume of a coroutine dropped before it ever ran: drops the
/// closure and finishes as unwound, with the closure's panic if it had one.
///
/// # Safety
/// As for [`entry`], which calls it in place of the closure.
#[cold]
#[inline(never)]
unsafe fn drop_unstarted<F>(top: usize) -> ! {
    let resumer = tooling::switched(tooling::first_arrival());
    // SAFETY: per the contract, the closure address holds our closure, and
    // it is read once.
    let f = unsafe { ptr::read(closure_address::<F>(top) as *const F) };
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| drop(f)));
    tooling::leaving_for_good(resumer);
    // SAFETY: as for `entry`.
    unsafe { finish_unwound(outcome.err().unwrap_or_else(unwind::payload), top) }
}

/// Finishes the running coroutine as unwound, handing `payload` out.
///
/// # Safety
/// As for [`arch::finish`].
#[inline(always)]
unsafe fn finish_unwound(payload: Payload, top: usize) -> ! {
    let payload = ManuallyDrop::new(payload);
    // SAFETY: the caller's contract; the resumer moves the payload out.
    unsafe { arch::finish(&payload as *const _ as usize, top, arch::UNWOUND) }
}

#[cfg(test)]
mod tests {
    use super::closure_may_not_fit;

    #[test]
    fn only_closures_near_the_minimum_stack_size_are_checked_at_run_time() {
        assert!(!closure_may_not_fit::<()>());
        assert!(!closure_may_not_fit::<[u64; 64]>());
        assert!(closure_may_not_fit::<[u8; 12 * 1024]>());
        assert!(closure_may_not_fit::<[u8; 32 * 1024]>());
    }
}
