//! Hooks that tell memory checkers about coroutine stacks.
//!
//! With the `valgrind` feature every stack is registered through valgrind's
//! client-request protocol, so memcheck knows that a jump of `rsp` into a
//! coroutine stack is a stack switch, not a wild write. Outside valgrind the
//! request is a few `rol`s that leave every register unchanged, so the
//! feature is safe to leave on; without it the hooks compile to nothing.

/// Called once per fresh stack mapping; returns the id to deregister with.
pub(crate) fn stack_registered(limit: usize, size: usize) -> usize {
    #[cfg(feature = "valgrind")]
    return valgrind::request(valgrind::STACK_REGISTER, limit, limit + size);
    #[cfg(not(feature = "valgrind"))]
    {
        let _ = (limit, size);
        0
    }
}

/// Called before a registered stack mapping is unmapped.
#[cfg(feature = "valgrind")]
pub(crate) fn stack_deregistered(id: usize) {
    valgrind::request(valgrind::STACK_DEREGISTER, id, 0);
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

    pub(super) const STACK_REGISTER: usize = 0x1501;
    pub(super) const STACK_DEREGISTER: usize = 0x1502;
    /// Memcheck's tool base ('M', 'C') + 2.
    pub(super) const MAKE_MEM_DEFINED: usize = 0x4d43_0002;

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
