//! The context switch for x86_64 System V (Linux).
//!
//! A suspended context *is* its stack pointer: everything that must survive
//! the switch is pushed on the suspended stack itself (Boost.Context's
//! `jump_fcontext`). Both directions run the same sequence:
//!
//! ```text
//!   push rbx ; push <resume address> ; push rbp      save what LLVM reserves
//!   <store rsp somewhere> ; rsp = <other context>    switch
//!   pop rbp ; pop rax ; pop rbx ; jmp rax            restore the other side
//! ```
//!
//! Every other register is declared clobbered in the `asm!` block, so the
//! compiler spills only the ones that are live across the switch. One machine
//! word of message travels in `rdi` each way; `rsi` carries the coroutine's
//! stack pointer back to the resumer (0 once the coroutine has finished).
//!
//! # Stack layout
//!
//! ```text
//!  coroutine stack (grows down)            resumer's stack, while the coroutine runs
//!
//!  top  ┌───────────────────────────┐
//!  -8   │ fake return address       │ ◄── completes the frame record at -16
//!  -16  │ parent link ──────────────┼──────────► P ┌──────────────────────┐
//!  -24  │ data pointer (closure)    │              │ resumer's rbp        │ ◄ frame record:
//!  -32  │ entry function            │              │ resume address (2:)  │ ◄ {rbp, ret}
//!       ├───────────────────────────┤              │ resumer's rbx        │
//!       │ header, closure (see      │              └──────────────────────┘
//!       │ coroutine.rs)             │                P + 24 = resumer's rsp
//!       ├───────────────────────────┤                before the switch (the CFA)
//!       │ initial frame:            │
//!  sp0  │   (any)       (rbp)       │  first resume pops these three and
//!       │   trampoline  (resume at) │  jumps into the trampoline, which
//!       │   (any)       (rbx)       │  enters entry(message, data, top)
//!       ├───────────────────────────┤
//!       │ ... coroutine frames ...  │
//!       ├───────────────────────────┤
//!       │ suspended: rbp, resume    │ ◄── saved stack pointer of a
//!       │ address, rbx              │     suspended coroutine
//! limit └───────────────────────────┘
//!       │ guard page (PROT_NONE)    │
//! ```
//!
//! The parent link is rewritten on every resume, so the trampoline's DWARF
//! CFI can describe the resumer as the trampoline's caller: unwinders,
//! `std::backtrace`, gdb and perf walk from the coroutine into whoever resumed
//! it (linked backtraces). Frame-pointer walkers follow the same chain: the
//! trampoline's `rbp` points at the parent link, whose value `P` is itself a
//! `{saved rbp, return address}` record in the resumer's frame.

use core::arch::{asm, global_asm};

/// Bytes at the top of a coroutine stack owned by the switch (the four slots
/// in the diagram).
pub const TOP_SLOTS: usize = 32;

/// Signature of the function the trampoline calls on the first resume:
/// `entry(first message, data pointer, stack top)`. It must never return;
/// it ends with [`finish`].
pub type EntryFn = unsafe extern "C" fn(message: usize, data: usize, top: usize) -> !;

global_asm!(
    // Global (LTO may place the reference in another codegen unit) but
    // hidden, so it is never exported from a shared object; the version in
    // the name keeps two copies of this crate in one binary apart.
    ".globl corio_coroutine_trampoline_v0_1",
    ".hidden corio_coroutine_trampoline_v0_1",
    ".balign 16",
    ".type corio_coroutine_trampoline_v0_1, @function",
    "corio_coroutine_trampoline_v0_1:",
    ".cfi_startproc",
    // Entered by `jmp` from a resume with rdi = first message, rdx = stack
    // top, rsp = sp0 + 24 (16-byte aligned). Until rbp is set there is no
    // caller to unwind to.
    ".cfi_undefined rip",
    // rbp = address of the parent link; it stays there for the whole life of
    // the coroutine because every callee preserves rbp.
    "lea rbp, [rdx - 16]",
    // Describe the resumer as our caller, through the parent link:
    // 0x0f: DW_CFA_def_cfa_expression, 5 bytes of expression:
    //   0x76 0x00: DW_OP_breg6 (rbp + 0)  -> address of the parent link
    //   0x06:      DW_OP_deref            -> P, the resumer's saved rsp
    //   0x23 0x18: DW_OP_plus_uconst 24   -> P + 24, the resumer's rsp (CFA)
    ".cfi_escape 0x0f, 5, 0x76, 0x00, 0x06, 0x23, 0x18",
    // Where the resumer's registers were pushed, relative to that CFA.
    ".cfi_offset rbx, -8",
    ".cfi_offset rip, -16",
    ".cfi_offset rbp, -24",
    // entry(rdi = message, rsi = data pointer, rdx = stack top). Push the
    // return address and jump rather than `call`: entry never returns, and a
    // `call` would leave an entry in the CPU's return stack buffer on every
    // coroutine, making later `ret`s mispredict. Unwinders still see a
    // return address inside this function (they look up address - 1, the
    // `jmp`), so the CFI above applies.
    "mov rsi, [rdx - 24]",
    "lea rax, [rip + 3f]",
    "push rax",
    "jmp [rdx - 32]",
    "3:",
    "ud2",
    ".cfi_endproc",
    ".size corio_coroutine_trampoline_v0_1, . - corio_coroutine_trampoline_v0_1",
);

extern "C" {
    // Only its address is used: it is entered by the switch, never called.
    fn corio_coroutine_trampoline_v0_1();
}

/// Writes the top slots and the initial frame of a fresh coroutine stack;
/// returns its initial stack pointer.
///
/// Only what the trampoline reads is written: the parent link is set by
/// every resume before the coroutine runs, and the `rbp` and `rbx` the first
/// resume pops are dead (the trampoline sets `rbp`, and nothing returns
/// through the trampoline to use `rbx`).
///
/// # Safety
/// `[low, top)` must be writable memory of the coroutine stack, `top`
/// 16-byte aligned, `low <= top - TOP_SLOTS` and at least 32 bytes above the
/// usable limit of the stack.
pub unsafe fn init_stack(top: usize, low: usize, entry: EntryFn, data: usize) -> usize {
    debug_assert!(top % 16 == 0 && low <= top - TOP_SLOTS);
    let slot = |offset: usize| (top - offset) as *mut usize;
    let trampoline = corio_coroutine_trampoline_v0_1 as *const () as usize;
    // After the first resume pops three words, rsp must be 16-byte aligned
    // for the trampoline's `call`.
    let sp0 = (low & !15) - 24;
    // SAFETY: the caller guarantees [sp0, top) is writable stack memory.
    unsafe {
        // Inside the trampoline, so frame-pointer walkers see a code address.
        *slot(8) = trampoline + 1;
        *slot(24) = data;
        *slot(32) = entry as *const () as usize;
        *(sp0 as *mut usize).add(1) = trampoline; // resume address
    }
    sp0
}

/// Switches from the resumer into the coroutine whose saved stack pointer is
/// `sp` and whose stack top is `top`, carrying `message`.
///
/// Returns `(message, sp)` from the coroutine's next [`suspend`] (its new
/// stack pointer) or [`finish`] (`sp == 0`).
///
/// # Safety
/// `sp` must be the stack pointer of a suspended context on the stack whose
/// top is `top` (from [`init_stack`] or a [`suspend`]) that nobody else resumes.
#[inline(always)]
pub unsafe fn resume(message: usize, sp: usize, top: usize) -> (usize, usize) {
    let (message_out, sp_out);
    // SAFETY: the caller guarantees `sp` is a suspended context of this stack.
    // The block pushes 3 words on our own stack (no `nostack`, so no red
    // zone is in use and rsp is 16-byte aligned on entry), and every register
    // not saved by hand is declared clobbered.
    unsafe {
        asm!(
            "push rbx",
            "lea rax, [rip + 2f]",
            "push rax",
            "push rbp",
            // The parent link: where the coroutine returns, and how
            // unwinders find us.
            "mov [rdx - 16], rsp",
            "mov rsp, rsi",
            "pop rbp",
            "pop rax",
            "pop rbx",
            "jmp rax",
            "2:",
            inout("rdi") message => message_out,
            inout("rsi") sp => sp_out,
            in("rdx") top,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("sysv64"),
        );
    }
    (message_out, sp_out)
}

/// Switches from inside a coroutine back to its resumer, carrying `message`.
/// Returns the message of the next [`resume`].
///
/// # Safety
/// Must run on the coroutine stack whose top is `top`, while it is running
/// (so the parent link holds the resumer's context).
#[inline(always)]
pub unsafe fn suspend(message: usize, top: usize) -> usize {
    let message_in;
    // SAFETY: per the contract the parent link is the live resumer context;
    // the pushes go on our own stack, as in `resume`.
    unsafe {
        asm!(
            "push rbx",
            "lea rax, [rip + 2f]",
            "push rax",
            "push rbp",
            // Hand our stack pointer to the resumer.
            "mov rsi, rsp",
            "mov rsp, [rdx - 16]",
            "pop rbp",
            "pop rax",
            "pop rbx",
            "jmp rax",
            "2:",
            inout("rdi") message => message_in,
            inout("rdx") top => _,
            out("rsi") _,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("sysv64"),
        );
    }
    message_in
}

/// Leaves a finished coroutine for good, handing `message` to its resumer
/// with a stack pointer of 0.
///
/// # Safety
/// As for [`suspend`]; nothing on this stack may be used afterwards.
#[inline(always)]
pub unsafe fn finish(message: usize, top: usize) -> ! {
    // SAFETY: per the contract the parent link is the live resumer context.
    unsafe {
        asm!(
            "mov rsp, [rdx - 16]",
            "xor esi, esi",
            "pop rbp",
            "pop rax",
            "pop rbx",
            "jmp rax",
            in("rdi") message,
            in("rdx") top,
            options(noreturn),
        );
    }
}
