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
//! stack pointer back to the resumer, or how it finished: [`RETURNED`] or
//! [`UNWOUND`] (no stack pointer is that small).
//!
//! The switch jumps instead of calling and returning (as corosensei does):
//! a coroutine usually resumes deep in some call chain and returns from it
//! before it suspends again, so a `ret` back to the resumer would find the
//! CPU's return stack out of step and mispredict, while the `jmp` to the
//! resumer's one resume address is predicted. (Measured with call/ret on the
//! runtime's ping-pong: fewer instructions, 10-15% slower.)
//!
//! # Stack layout
//!
//! ```text
//!  coroutine stack (grows down)            resumer's stack, while the coroutine runs
//!
//!  top  ┌───────────────────────────┐
//!  -8   │ fake return address       │ ◄── completes the frame record at -16
//!  -16  │ parent link ──────────────┼──────────► P ┌──────────────────────┐
//!       ├───────────────────────────┤              │ resumer's rbp        │ ◄ frame record:
//!       │ header, closure (see      │              │ resume address (2:)  │ ◄ {rbp, ret}
//!       │ coroutine.rs)             │              │ resumer's rbx        │
//!       ├───────────────────────────┤              └──────────────────────┘
//!       │ initial frame:            │                P + 24 = resumer's rsp
//!       │   return address: the     │                before the switch (the CFA)
//!       │   trampoline              │
//!       │   (any)       (rbx)       │  first resume pops these three and
//!       │   entry       (resume at) │  jumps straight into entry(message,
//!  sp0  │   top - 16    (rbp)       │  _, top), "called" from the trampoline
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
//! CFI can describe the resumer as the caller of the coroutine's first
//! frame: unwinders, `std::backtrace`, gdb and perf walk from the coroutine
//! into whoever resumed it (linked backtraces). The trampoline runs no code:
//! the first resume pops `rbp` = address of the parent link and jumps to the
//! entry function with the trampoline as its return address, so the CFI
//! (which finds the parent link through `rbp`, preserved by every callee)
//! applies from the first instruction. Frame-pointer walkers follow the same
//! chain: `rbp` points at the parent link, whose value `P` is itself a
//! `{saved rbp, return address}` record in the resumer's frame.

use core::arch::{asm, global_asm};

/// Bytes at the top of a coroutine stack owned by the switch (the two slots
/// in the diagram).
pub const TOP_SLOTS: usize = 16;

/// The stack pointer [`resume`] reports for a coroutine whose function
/// returned.
pub const RETURNED: usize = 0;
/// The stack pointer [`resume`] reports for a coroutine that unwound (it
/// panicked, or was dropped or force-unwound).
pub const UNWOUND: usize = 1;

/// Signature of the function the first resume enters:
/// `entry(first message, (unused), stack top)`. Everything else it needs it
/// finds from `top`. It must never return; it ends with [`finish`].
pub type EntryFn = unsafe extern "C" fn(message: usize, unused: usize, top: usize) -> !;

global_asm!(
    // Global (LTO may place the reference in another codegen unit) but
    // hidden, so it is never exported from a shared object; the version in
    // the name keeps two copies of this crate in one binary apart.
    ".globl corio_coroutine_trampoline_v0_2",
    ".hidden corio_coroutine_trampoline_v0_2",
    ".balign 16",
    ".type corio_coroutine_trampoline_v0_2, @function",
    "corio_coroutine_trampoline_v0_2:",
    ".cfi_startproc",
    // Never executed: its one address that matters is the return address
    // the entry function finds on the stack (the return label below;
    // unwinders look up the byte before it, the `nop`). There, rbp holds
    // the address of the parent link, as the first resume popped it.
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
    "nop",
    ".globl corio_coroutine_trampoline_return_v0_2",
    ".hidden corio_coroutine_trampoline_return_v0_2",
    "corio_coroutine_trampoline_return_v0_2:",
    "ud2",
    ".cfi_endproc",
    ".size corio_coroutine_trampoline_v0_2, . - corio_coroutine_trampoline_v0_2",
);

extern "C" {
    // Only its address is used: it is never executed.
    fn corio_coroutine_trampoline_return_v0_2();
}

/// The return address of a coroutine's entry function: the trampoline's
/// return label, one byte (the `nop`) past its start.
#[inline(always)]
fn trampoline_return() -> usize {
    let address: usize;
    // SAFETY: only computes an address. The symbol is hidden, so it is in
    // this object and `rip`-relative addressing reaches it (no GOT load).
    unsafe {
        asm!(
            "lea {address}, [rip + {label}]",
            address = out(reg) address,
            label = sym corio_coroutine_trampoline_return_v0_2,
            options(pure, nomem, nostack, preserves_flags),
        )
    };
    address
}

/// Writes the top slots and the initial frame of a fresh coroutine stack;
/// returns its initial stack pointer.
///
/// Only what the first resume and the unwinders read is written: the parent
/// link is set by every resume before the coroutine runs, and the `rbx` the
/// first resume pops is dead (nothing returns through the trampoline).
///
/// # Safety
/// `[low - 32, top)` must be writable memory of the coroutine stack, `top`
/// 16-byte aligned, `low <= top - TOP_SLOTS`, and `low - 32` at least the
/// stack's usable limit.
//
// Not `#[inline(always)]` (the optimiser inlines it anyway): forced into the
// `-Zsanitizer=address` test build, std's backtraces inside coroutines
// stopped at the trampoline, although gdb still walked through. Not
// understood yet; `tests/backtrace.rs` under ASan in `.ci/run` catches it.
pub unsafe fn init_stack(top: usize, low: usize, entry: EntryFn) -> usize {
    debug_assert!(top % 16 == 0 && low <= top - TOP_SLOTS);
    // After the first resume pops three words, rsp points at the return
    // address and must be 8 modulo 16, as right after a `call`.
    let sp0 = (low & !15) - 32;
    let frame = sp0 as *mut usize;
    let ret = trampoline_return();
    // SAFETY: the caller guarantees [sp0, top) is writable stack memory.
    unsafe {
        // A code address, so frame-pointer walkers see the trampoline.
        *((top - 8) as *mut usize) = ret;
        *frame = top - 16; // rbp: the parent link
        *frame.add(1) = entry as *const () as usize; // resume address
        *frame.add(3) = ret; // entry's return address
    }
    sp0
}

/// Switches from the resumer into the coroutine whose saved stack pointer is
/// `sp` and whose stack top is `top`, carrying `message`.
///
/// Returns `(message, sp)` from the coroutine's next [`suspend`] (its new
/// stack pointer) or [`finish`] (`sp` is [`RETURNED`] or [`UNWOUND`]).
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
/// with `how` ([`RETURNED`] or [`UNWOUND`]) as the stack pointer.
///
/// # Safety
/// As for [`suspend`]; nothing on this stack may be used afterwards.
#[inline(always)]
pub unsafe fn finish(message: usize, top: usize, how: usize) -> ! {
    // SAFETY: per the contract the parent link is the live resumer context.
    unsafe {
        asm!(
            "mov rsp, [rdx - 16]",
            "pop rbp",
            "pop rax",
            "pop rbx",
            "jmp rax",
            in("rdi") message,
            in("rsi") how,
            in("rdx") top,
            options(noreturn),
        );
    }
}
