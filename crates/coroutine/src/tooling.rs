//! Hooks that tell memory checkers about coroutine stacks.
//!
//! With the `valgrind` feature every stack is registered through valgrind's
//! client-request protocol, so memcheck knows that a jump of `rsp` into a
//! coroutine stack is a stack switch, not a wild write. Outside valgrind the
//! request is a few `rol`s that leave every register unchanged, so the
//! feature is safe to leave on.
//!
//! With the `asan` feature (for builds with `-Zsanitizer=address` on
//! nightly) every switch is announced to AddressSanitizer with its fiber
//! API, so it tracks which stack is live and checks accesses to it.
//!
//! Without the features the hooks compile to nothing.

/// Stack bounds of the context on the other side of a switch; empty unless
/// the `asan` feature is on.
#[derive(Clone, Copy, Default)]
pub(crate) struct Bounds {
    #[cfg(feature = "asan")]
    bottom: usize,
    #[cfg(feature = "asan")]
    size: usize,
}

impl Bounds {
    /// The bounds of a stack whose usable area is `[limit, top)`.
    #[inline(always)]
    pub(crate) fn of(limit: usize, top: usize) -> Bounds {
        let _ = (limit, top);
        Bounds {
            #[cfg(feature = "asan")]
            bottom: limit,
            #[cfg(feature = "asan")]
            size: top - limit,
        }
    }
}

/// ASan's saved fake stack of the context being left.
pub(crate) struct FakeStack {
    #[cfg(feature = "asan")]
    save: *mut core::ffi::c_void,
}

/// Announces a switch to the stack `to`; call right before switching.
#[inline(always)]
pub(crate) fn switching(to: Bounds) -> FakeStack {
    let _ = to;
    #[cfg(feature = "asan")]
    {
        let mut save = core::ptr::null_mut();
        // SAFETY: the documented fiber protocol: start before the switch,
        // with the bounds of the stack we are about to run on.
        unsafe { asan::__sanitizer_start_switch_fiber(&mut save, to.bottom as _, to.size) };
        FakeStack { save }
    }
    #[cfg(not(feature = "asan"))]
    FakeStack {}
}

/// Announces that this context left for good (its fake stack is freed).
#[inline(always)]
pub(crate) fn leaving_for_good(to: Bounds) {
    let _ = to;
    // SAFETY: a null save pointer tells ASan this fiber is finished.
    #[cfg(feature = "asan")]
    unsafe {
        asan::__sanitizer_start_switch_fiber(core::ptr::null_mut(), to.bottom as _, to.size)
    };
}

/// Completes a switch on arrival; returns the bounds of the stack we came
/// from (where the next switch back goes).
#[inline(always)]
pub(crate) fn switched(fake: FakeStack) -> Bounds {
    let _ = fake;
    #[cfg(feature = "asan")]
    {
        let (mut bottom, mut size) = (core::ptr::null(), 0);
        // SAFETY: the documented fiber protocol: finish right after arriving,
        // with the fake stack saved when this context was left.
        unsafe { asan::__sanitizer_finish_switch_fiber(fake.save, &mut bottom, &mut size) };
        Bounds {
            bottom: bottom as usize,
            size,
        }
    }
    #[cfg(not(feature = "asan"))]
    Bounds {}
}

/// A fake stack for a context's first arrival: it has none saved.
#[inline(always)]
pub(crate) fn first_arrival() -> FakeStack {
    FakeStack {
        #[cfg(feature = "asan")]
        save: core::ptr::null_mut(),
    }
}

#[cfg(feature = "asan")]
mod asan {
    use core::ffi::c_void;
    extern "C" {
        pub(super) fn __sanitizer_start_switch_fiber(
            fake_stack_save: *mut *mut c_void,
            bottom: *const c_void,
            size: usize,
        );
        pub(super) fn __sanitizer_finish_switch_fiber(
            fake_stack_save: *mut c_void,
            bottom_old: *mut *const c_void,
            size_old: *mut usize,
        );
    }
}

/// Called once per fresh stack mapping, with its usable area.
pub(crate) fn stack_registered(limit: usize, size: usize) {
    let _ = (limit, size);
    #[cfg(feature = "valgrind")]
    {
        let id = valgrind::request(valgrind::STACK_REGISTER, limit, limit + size);
        valgrind::ids().insert(limit, id);
    }
}

/// Called before a stack mapping is unmapped, with its usable area's start.
pub(crate) fn stack_deregistered(limit: usize) {
    let _ = limit;
    #[cfg(feature = "valgrind")]
    if let Some(id) = valgrind::ids().remove(&limit) {
        valgrind::request(valgrind::STACK_DEREGISTER, id, 0);
    }
}

/// Tells memcheck that `[address, address + len)` of a stack no coroutine
/// runs on holds defined data: memcheck marks a stack inaccessible below its
/// last stack pointer, but the pool reads its canary there.
#[inline(always)]
pub(crate) fn stack_memory_defined(address: usize, len: usize) {
    #[cfg(feature = "valgrind")]
    valgrind::request(valgrind::MAKE_MEM_DEFINED, address, len);
    #[cfg(not(feature = "valgrind"))]
    let _ = (address, len);
}

#[cfg(feature = "valgrind")]
mod valgrind {
    use core::arch::asm;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    pub(super) const STACK_REGISTER: usize = 0x1501;
    pub(super) const STACK_DEREGISTER: usize = 0x1502;
    /// Memcheck's tool base ('M', 'C') + 2.
    pub(super) const MAKE_MEM_DEFINED: usize = 0x4d43_0002;

    /// Valgrind's ids of the registered stacks, by usable start address.
    pub(super) fn ids() -> std::sync::MutexGuard<'static, BTreeMap<usize, usize>> {
        static IDS: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());
        IDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Issues a client request; returns 0 when not running under valgrind.
    pub(super) fn request(code: usize, a1: usize, a2: usize) -> usize {
        let args: [usize; 6] = [code, a1, a2, 0, 0, 0];
        let mut result: usize = 0;
        // SAFETY: valgrind's "special instruction preamble": four rotations of
        // rdi by 3+13+61+51 = 128 bits (a no-op), then `xchg rbx, rbx` (a
        // no-op). Valgrind recognises the sequence and reads the request from
        // [rax], answering in rdx. Natively nothing changes.
        unsafe {
            asm!(
                "rol rdi, 3", "rol rdi, 13", "rol rdi, 61", "rol rdi, 51",
                "xchg rbx, rbx",
                in("rax") args.as_ptr(),
                inout("rdx") result,
                options(nostack),
            );
        }
        result
    }
}
