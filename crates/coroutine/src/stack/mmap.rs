//! The default stack: a slot of a slab mapping (`slab.rs`) with a guard page
//! at its low end, recycled through a per-thread pool and a process-wide
//! cache.

use super::guard::{guard_mode, GuardMode, GUARD_MODE_ENV};
use super::{pool, slab, Stack};
use std::io;
use std::mem::ManuallyDrop;

/// Usable size of [`DefaultStack::default`]: 256 KiB. Only touched pages
/// cost memory (slabs are `MAP_NORESERVE`), so this is address space, not
/// RSS; a million such stacks reserve 260 GiB of the 128 TiB available.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The smallest usable size a stack may have: 16 KiB.
pub const MIN_STACK_SIZE: usize = 16 * 1024;

pub(crate) const PAGE: usize = 4096;

// `default` looks the size up in the pool as it is, so it must already be
// what `new` would round it to.
const _: () = assert!(DEFAULT_STACK_SIZE >= MIN_STACK_SIZE && DEFAULT_STACK_SIZE % PAGE == 0);

/// A guard page below the usable area; stack probes make every frame,
/// however large, touch it before anything beneath it.
pub(crate) const GUARD: usize = PAGE;

/// A guarded stack.
///
/// Invariant: `base - size - GUARD` is the start of `GUARD + size` bytes of a
/// live slab whose lowest `GUARD` bytes fault on access (an installed guard
/// or a `PROT_NONE` page, per [`guard_mode`]) and the rest are read/write;
/// the value owns them. It keeps the base rather than the low end (as
/// `Mapping` does) because the base is what a coroutine needs first.
/// Dropping the stack hands it to this thread's pool (or, if that is full,
/// to the process-wide cache, or back to its slab if both are), so the next
/// [`DefaultStack::new`] of the same size costs no system call.
#[derive(Debug)]
pub struct DefaultStack {
    base: usize,
    size: usize,
}

/// A raw guarded stack, as moved in and out of the pool.
#[derive(Debug)]
pub(crate) struct Mapping {
    /// Lowest address of the stack (its guard page).
    pub(crate) low: usize,
    /// Usable bytes above the guard page.
    pub(crate) size: usize,
}

impl DefaultStack {
    /// A stack with `size` usable bytes (rounded up to whole pages, at least
    /// [`MIN_STACK_SIZE`]), from this thread's pool or the process-wide
    /// cache when one of that size is free, else freshly mapped. Either way
    /// the calling thread is then ready to report an overflow of it (see
    /// `overflow.rs`), which `Coroutine::new` relies on.
    ///
    /// # Errors
    /// When the kernel refuses a mapping; the error says which limit was hit
    /// (`vm.max_map_count`, which only per-stack guards come near, or
    /// memory) and how to raise it.
    ///
    /// ```
    /// use corio_coroutine::stack::{DefaultStack, Stack};
    /// let stack = DefaultStack::new(64 * 1024)?;
    /// assert_eq!(stack.base() - stack.limit(), 64 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn new(size: usize) -> io::Result<Self> {
        let size = size.max(MIN_STACK_SIZE).next_multiple_of(PAGE);
        match pool::take_hot(size) {
            Some(base) => Ok(DefaultStack { base, size }),
            None => Self::take_or_map(size),
        }
    }

    /// The slow path of [`new`](DefaultStack::new): a spare stack from the
    /// pool or the process-wide cache, else one from a slab. If the kernel is
    /// out of mappings or memory, the cache gives its stacks (of other sizes)
    /// and empty slabs back and the mapping is tried once more.
    #[cold]
    #[inline(never)]
    fn take_or_map(size: usize) -> io::Result<Self> {
        // take_spare makes the thread ready for overflow reports either way.
        let mapping = match pool::take_spare(size) {
            Some(mapping) => mapping,
            None => match Mapping::map(size) {
                Err(e) if e.kind() == io::ErrorKind::OutOfMemory && super::cache::trim() > 0 => {
                    Mapping::map(size)
                }
                result => result,
            }?,
        };
        Ok(DefaultStack {
            base: mapping.base(),
            size,
        })
    }

    /// Usable bytes of this stack.
    pub fn size(&self) -> usize {
        self.size
    }
}

impl Default for DefaultStack {
    /// A [`DEFAULT_STACK_SIZE`] stack.
    ///
    /// # Panics
    /// If no stack can be mapped; the message names the limit that was hit.
    #[inline]
    fn default() -> Self {
        // Both paths yield a base, so the size stays a constant and the
        // fast path tests nothing but the hot slot.
        let base = pool::take_hot(DEFAULT_STACK_SIZE).unwrap_or_else(default_base);
        DefaultStack {
            base,
            size: DEFAULT_STACK_SIZE,
        }
    }
}

/// The slow path of [`DefaultStack::default`]: the base of a stack from
/// [`DefaultStack::take_or_map`], which the new `DefaultStack` then owns.
#[cold]
#[inline(never)]
fn default_base() -> usize {
    match DefaultStack::take_or_map(DEFAULT_STACK_SIZE) {
        Ok(stack) => ManuallyDrop::new(stack).base,
        Err(error) => panic!("{error}"),
    }
}

impl Drop for DefaultStack {
    #[inline]
    fn drop(&mut self) {
        pool::give_back(self.base, self.size);
    }
}

// SAFETY: our invariant is exactly the `Stack` contract: [base - size, base)
// is read/write and owned by us, the base is page (hence 16-byte) aligned
// (slabs are page aligned and strides whole pages), size >= MIN_STACK_SIZE,
// and the guard below faults.
unsafe impl Stack for DefaultStack {
    #[inline]
    fn base(&self) -> usize {
        self.base
    }
    #[inline]
    fn limit(&self) -> usize {
        self.base - self.size
    }
    fn guard_size(&self) -> usize {
        GUARD
    }
}

impl Mapping {
    /// A guarded stack of `size` usable bytes from a slab (`slab.rs`).
    fn map(size: usize) -> io::Result<Mapping> {
        let low = slab::alloc(size).map_err(|error| map_error(error, size + GUARD))?;
        crate::tooling::stack_registered(low + GUARD, size);
        Ok(Mapping { low, size })
    }

    /// One past the highest usable address.
    #[inline(always)]
    pub(crate) fn base(&self) -> usize {
        self.low + GUARD + self.size
    }

    /// The `size`-byte stack whose base is `base`.
    #[inline(always)]
    pub(crate) fn from_base(base: usize, size: usize) -> Mapping {
        Mapping {
            low: base - size - GUARD,
            size,
        }
    }

    /// Gives the `size`-byte stacks at `lows` back to their slabs and their
    /// memory to the kernel, in one batch: adjacent stacks give their pages
    /// back in one system call.
    pub(crate) fn unmap_all(size: usize, mut lows: Vec<usize>) {
        if lows.is_empty() {
            return;
        }
        for &low in &lows {
            crate::tooling::stack_deregistered(low + GUARD);
        }
        slab::release(size, &mut lows);
    }

    /// [`unmap_all`](Mapping::unmap_all)s every stack of `mappings`, batched
    /// by size.
    pub(crate) fn unmap_many(mappings: Vec<Mapping>) {
        let mut batch: Vec<usize> = Vec::new();
        let mut size = 0;
        for mapping in mappings {
            if mapping.size != size {
                Mapping::unmap_all(size, std::mem::take(&mut batch));
                size = mapping.size;
            }
            batch.push(mapping.low);
        }
        Mapping::unmap_all(size, batch);
    }
}

/// Turns a failed stack mapping into an error that names the limit.
fn map_error(error: io::Error, len: usize) -> io::Error {
    if error.raw_os_error() != Some(libc::ENOMEM) {
        return io::Error::new(
            error.kind(),
            format!("corio: cannot map a {len}-byte coroutine stack: {error}"),
        );
    }
    let (max, used) = mapping_counts();
    let message = match (max, used) {
        (Some(max), used) if used + 16 >= max && guard_mode() == GuardMode::Mapping => format!(
            "corio: cannot map another coroutine stack: the process has {used} memory mappings \
             and the kernel limit vm.max_map_count is {max}. Each guarded stack takes two \
             mappings on this kernel (it lacks MADV_GUARD_INSTALL, Linux >= 6.13, or \
             {GUARD_MODE_ENV}=mprotect is set), so about {} coroutines can be live at once. \
             Raise the limit, e.g. `sudo sysctl -w vm.max_map_count={}`, or keep fewer \
             coroutines alive",
            max / 2,
            max.saturating_mul(16).max(1 << 20),
        ),
        (Some(max), used) if used + 16 >= max => format!(
            "corio: cannot map another slab of coroutine stacks: the process has {used} memory \
             mappings and the kernel limit vm.max_map_count is {max}. Raise the limit, e.g. \
             `sudo sysctl -w vm.max_map_count={}`, or map less",
            max.saturating_mul(2),
        ),
        _ => format!(
            "corio: cannot map a {len}-byte coroutine stack: out of memory or address space \
             ({error}); check `ulimit -v` and the memory available, or use smaller stacks"
        ),
    };
    io::Error::new(io::ErrorKind::OutOfMemory, message)
}

/// The kernel's mapping limit and this process's mapping count. Counting
/// reads all of /proc/self/maps (milliseconds near the limit), so a burst of
/// failures reuses a count taken in the last second.
fn mapping_counts() -> (Option<usize>, usize) {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    static LAST: Mutex<Option<(Instant, Option<usize>, usize)>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((at, max, used)) = *last {
        if at.elapsed() < Duration::from_secs(1) {
            return (max, used);
        }
    }
    let max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok());
    let used = std::fs::read_to_string("/proc/self/maps").map_or(0, |s| s.lines().count());
    *last = Some((Instant::now(), max, used));
    (max, used)
}
