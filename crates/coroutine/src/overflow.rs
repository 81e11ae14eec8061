//! Stack-overflow reports.
//!
//! Every slab of guarded stacks (`stack/slab.rs`; one stack per slab in the
//! per-stack mapping mode) is entered in a process-wide registry when it is
//! mapped (not when a coroutine starts: the switch path stays
//! free of bookkeeping). Each coroutine writes a [`Header`] with its name and
//! stack size at a fixed place below its stack top. A SIGSEGV/SIGBUS handler,
//! running on an alternate signal stack (the faulting stack is exhausted),
//! looks the fault address up in the registry: if it lies in a guard page it
//! writes one line naming the coroutine and its stack size, then aborts. Any
//! other fault goes to the handler that was installed before ours (Rust's own
//! thread-stack overflow check, or the default action).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::{Once, OnceLock, RwLock};

/// Longest coroutine name kept for diagnostics, in bytes.
pub(crate) const NAME_CAPACITY: usize = 64;

/// What the fault handler tells about a coroutine: written by the coroutine
/// at [`header_address`] of its stack, so it never moves while the coroutine
/// exists. (The stack's size comes from the slab registry.)
#[repr(C, align(16))]
pub(crate) struct Header {
    pub(crate) name_len: usize,
    pub(crate) name: [u8; NAME_CAPACITY],
}

/// Where a coroutine's header lives: right below the switch's top slots.
#[inline(always)]
pub(crate) fn header_address(top: usize) -> usize {
    top - crate::arch::TOP_SLOTS - std::mem::size_of::<Header>()
}

/// A registered slab: where it ends, and how it is cut into stacks.
#[derive(Clone, Copy)]
struct Slab {
    high: usize,
    /// Bytes per stack, guard included.
    stride: usize,
    /// Bytes of guard at the low end of each stack.
    guard: usize,
}

/// A guard page that was hit: the top of its stack and its usable size.
struct Hit {
    top: usize,
    size: usize,
}

/// Every slab of guarded stacks (`stack/slab.rs`), by low address.
static SLABS: RwLock<BTreeMap<usize, Slab>> = RwLock::new(BTreeMap::new());

/// Enters the slab `[low, low + len)`, cut into stacks of `stride` bytes
/// whose lowest `guard` bytes are their guard.
pub(crate) fn register_slab(low: usize, len: usize, stride: usize, guard: usize) {
    let mut slabs = SLABS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let high = low + len;
    slabs.insert(
        low,
        Slab {
            high,
            stride,
            guard,
        },
    );
}

/// Removes a slab entered by [`register_slab`].
pub(crate) fn deregister_slab(low: usize) {
    let mut slabs = SLABS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    slabs.remove(&low);
}

/// The stack whose guard holds `address`, if any. Never blocks: `try_read`
/// is a single atomic operation, so this is safe in a signal handler (if the
/// registry is being written right now, we give up).
fn stack_guarded_at(address: usize) -> Option<Hit> {
    let slabs = SLABS.try_read().ok()?;
    let (&low, slab) = slabs.range(..=address).next_back()?;
    if address >= slab.high {
        return None;
    }
    let offset = address - low;
    if offset % slab.stride >= slab.guard {
        return None; // a usable page: not an overflow
    }
    let top = low + (offset / slab.stride + 1) * slab.stride;
    Some(Hit {
        top,
        size: slab.stride - slab.guard,
    })
}

thread_local! {
    /// Whether this thread is known to have an alternate signal stack.
    static THREAD_READY: Cell<bool> = const { Cell::new(false) };
    /// An alternate signal stack we made for this thread, freed at exit.
    static OWN_ALTSTACK: Cell<Option<AltStack>> = const { Cell::new(None) };
}

/// Makes sure overflow reports work on this thread: the process-wide handler
/// is installed and this thread has an alternate signal stack.
#[inline]
pub(crate) fn ensure_ready() {
    if !THREAD_READY.with(Cell::get) {
        prepare_thread();
    }
}

#[cold]
fn prepare_thread() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(install_handlers);
    ensure_altstack();
    THREAD_READY.with(|ready| ready.set(true));
}

/// The actions that were installed before ours, for SIGSEGV and SIGBUS.
static PREVIOUS: OnceLock<[libc::sigaction; 2]> = OnceLock::new();

fn install_handlers() {
    // SAFETY: sigaction is given a fully initialised action whose handler is
    // async-signal-safe (see `on_fault`); the old actions are kept for
    // chaining.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_fault as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
        libc::sigemptyset(&mut action.sa_mask);
        let mut previous: [libc::sigaction; 2] = std::mem::zeroed();
        libc::sigaction(libc::SIGSEGV, &action, &mut previous[0]);
        libc::sigaction(libc::SIGBUS, &action, &mut previous[1]);
        let _ = PREVIOUS.set(previous);
    }
}

/// An alternate signal stack mapping owned by this thread.
struct AltStack {
    base: usize,
    len: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: disable the alternate stack before unmapping it; this runs
        // at thread exit, not inside a signal handler.
        unsafe {
            let mut disable: libc::stack_t = std::mem::zeroed();
            disable.ss_flags = libc::SS_DISABLE;
            libc::sigaltstack(&disable, std::ptr::null_mut());
            libc::munmap(self.base as *mut libc::c_void, self.len);
        }
    }
}

/// Gives this thread an alternate signal stack unless it has one (Rust's
/// std makes one for every thread it starts).
fn ensure_altstack() {
    // SAFETY: querying and setting the signal stack of the calling thread
    // with valid pointers; the new stack is a fresh mapping kept alive by a
    // thread-local until the thread exits.
    unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(std::ptr::null(), &mut current);
        if current.ss_flags & libc::SS_DISABLE == 0 {
            return;
        }
        let len = 64 * 1024;
        let base = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if base == libc::MAP_FAILED {
            return; // overflows on this thread stay plain SIGSEGVs
        }
        let stack = libc::stack_t {
            ss_sp: base,
            ss_flags: 0,
            ss_size: len,
        };
        libc::sigaltstack(&stack, std::ptr::null_mut());
        OWN_ALTSTACK.with(|own| {
            own.set(Some(AltStack {
                base: base as usize,
                len,
            }))
        });
    }
}

/// The SIGSEGV/SIGBUS handler. Async-signal-safe: it reads the registry
/// without blocking and the header of a mapped stack, calls `write` and
/// `abort`, or chains.
extern "C" fn on_fault(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo for SIGSEGV/SIGBUS.
    let address = unsafe { (*info).si_addr() } as usize;
    if let Some(hit) = stack_guarded_at(address) {
        // SAFETY: a registered slab is mapped until it is deregistered, and
        // the header place is inside the stack above the guard that was hit;
        // only a carved stack has a guard that faults, and the coroutine
        // that overflowed it wrote its header when it was created.
        let header = unsafe { &*(header_address(hit.top) as *const Header) };
        report(header, hit.size);
        // SAFETY: abort is async-signal-safe.
        unsafe { libc::abort() };
    }
    chain(signal, info, context);
}

/// Hands a fault that is not ours to the previous handler.
fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let index = usize::from(signal == libc::SIGBUS);
    let previous = PREVIOUS.get().map(|actions| actions[index]);
    match previous.map(|action| (action.sa_sigaction, action.sa_flags)) {
        Some((libc::SIG_DFL, _)) | Some((libc::SIG_IGN, _)) | None => {
            // Restore the default action and return: the faulting
            // instruction runs again and the kernel kills the process as if
            // we had never been installed.
            // SAFETY: resetting a signal disposition is async-signal-safe.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
        Some((handler, flags)) if flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: the previous owner installed this as an SA_SIGINFO
            // handler, so it has this signature.
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(handler) };
            handler(signal, info, context);
        }
        Some((handler, _)) => {
            // SAFETY: a handler installed without SA_SIGINFO takes the
            // signal number only.
            let handler: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
            handler(signal);
        }
    }
}

/// Writes "corio: coroutine 'NAME' overflowed its N KiB stack" to stderr
/// without allocating.
fn report(header: &Header, stack_size: usize) {
    let mut line = Line::default();
    line.push(b"\ncorio: coroutine ");
    let name = &header.name[..header.name_len.min(NAME_CAPACITY)];
    if name.is_empty() {
        line.push(b"<unnamed>");
    } else {
        line.push(b"'");
        line.push(name);
        line.push(b"'");
    }
    line.push(b" has overflowed its stack of ");
    if stack_size % 1024 == 0 {
        line.push_number(stack_size / 1024);
        line.push(b" KiB");
    } else {
        line.push_number(stack_size);
        line.push(b" bytes");
    }
    line.push(b"; give it a larger stack (");
    line.push(HINT.get().copied().unwrap_or(DEFAULT_HINT).as_bytes());
    line.push(b") or use less stack. Aborting.\n");
    // SAFETY: write(2) is async-signal-safe; the buffer is valid for `len`.
    unsafe { libc::write(2, line.bytes.as_ptr().cast(), line.len) };
}

/// What the report tells to change when no hint was set.
const DEFAULT_HINT: &str = "DefaultStack::new";

/// The setting that gives coroutines larger stacks, as the report names it.
static HINT: OnceLock<&'static str> = OnceLock::new();

/// Names the setting that gives a coroutine a larger stack in the stack
/// overflow report (`DefaultStack::new` unless set): a runtime built on this
/// crate names its own, e.g. `Builder::stack_size`. The first call wins.
pub fn set_overflow_hint(hint: &'static str) {
    let _ = HINT.set(hint);
}

/// A fixed buffer for building the report inside a signal handler.
struct Line {
    bytes: [u8; 512],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Line {
            bytes: [0; 512],
            len: 0,
        }
    }
}

impl Line {
    fn push(&mut self, text: &[u8]) {
        let n = text.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&text[..n]);
        self.len += n;
    }

    fn push_number(&mut self, mut value: usize) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.push(&digits[at..]);
    }
}

#[cfg(test)]
mod tests {
    use super::Line;

    #[test]
    fn formats_numbers_without_allocating() {
        let mut line = Line::default();
        line.push_number(0);
        line.push(b" ");
        line.push_number(262144);
        assert_eq!(&line.bytes[..line.len], b"0 262144");
    }

    #[test]
    fn truncates_instead_of_overflowing() {
        let mut line = Line::default();
        line.push(&[b'x'; 600]);
        assert_eq!(line.len, 512);
    }
}
