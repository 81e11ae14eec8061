//! Coroutine-local storage: `coroutine_local!` is to coroutines what `thread_local!` is to
//! threads. Values live in the coroutine's first stack frame and are dropped, on the
//! coroutine's thread, when it returns, panics or is cancelled.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::rt::context;

/// Declares coroutine-local statics of type [`LocalKey`].
///
/// ```
/// use std::cell::Cell;
/// corio::coroutine_local! {
///     static COUNT: Cell<u32> = Cell::new(0);
/// }
/// corio::run(|| {
///     COUNT.with(|c| c.set(c.get() + 1));
///     let other = corio::spawn(|| COUNT.with(|c| c.get())).join().unwrap();
///     assert_eq!(other, 0); // each coroutine has its own
///     assert_eq!(COUNT.with(|c| c.get()), 1);
/// });
/// ```
#[macro_export]
macro_rules! coroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::task::LocalKey<$t> = {
            fn __init() -> $t {
                $init
            }
            $crate::task::LocalKey::__new(__init)
        };
        $crate::coroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::coroutine_local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}

/// A key to a coroutine-local value, declared with [`coroutine_local!`](crate::coroutine_local).
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
    /// 1 + index in the coroutine's local table; 0 until first use.
    index: AtomicUsize,
}

/// The error of [`LocalKey::try_with`]: not in a coroutine, or its locals are being dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("coroutine-local accessed outside a live coroutine")
    }
}

impl std::error::Error for AccessError {}

static NEXT_INDEX: AtomicUsize = AtomicUsize::new(1);

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(init: fn() -> T) -> Self {
        LocalKey {
            init,
            index: AtomicUsize::new(0),
        }
    }

    fn index(&self) -> usize {
        let i = self.index.load(Ordering::Relaxed);
        if i != 0 {
            return i - 1;
        }
        let fresh = NEXT_INDEX.fetch_add(1, Ordering::Relaxed);
        match self
            .index
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh - 1,
            Err(won) => won - 1,
        }
    }

    /// Runs `f` with this coroutine's value, initialising it on first use.
    ///
    /// # Panics
    /// Outside a coroutine, or from a coroutine-local's destructor.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        self.try_with(f)
            .expect("coroutine_local accessed outside a coroutine")
    }

    /// Like [`with`](Self::with), but returns an error instead of panicking.
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        let index = self.index();
        let value: *const T = context::coroutine(|ctx| {
            let ctx = ctx.ok_or(AccessError)?;
            if ctx.locals_dead.get() {
                return Err(AccessError);
            }
            if let Some(Some(v)) = ctx.locals.borrow().get(index) {
                return Ok(downcast::<T>(v));
            }
            // Initialise without holding the borrow: `init` may use other locals.
            let boxed: Box<dyn Any> = Box::new((self.init)());
            let mut locals = ctx.locals.borrow_mut();
            if locals.len() <= index {
                locals.resize_with(index + 1, || None);
            }
            let slot = locals[index].get_or_insert(boxed);
            Ok(downcast::<T>(slot))
        })?;
        // SAFETY: the value is boxed (its address is stable) and is dropped only when the
        // coroutine ends, which cannot happen while `f` runs on the coroutine's own stack.
        Ok(f(unsafe { &*value }))
    }
}

fn downcast<T: 'static>(v: &Box<dyn Any>) -> *const T {
    v.downcast_ref::<T>().expect("coroutine-local type") as *const T
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}
