//! The default stack: an anonymous mapping with a `PROT_NONE` guard page at
//! its low end, recycled through a per-thread pool and a process-wide cache.

use super::{pool, Stack};
use std::io;

/// Usable size of [`DefaultStack::default`]: 256 KiB. Only touched pages
/// cost memory (the mapping is `MAP_NORESERVE`), so this is address space,
/// not RSS; a million such stacks reserve 256 GiB of the 128 TiB available.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The smallest usable size a stack may have: 16 KiB.
pub const MIN_STACK_SIZE: usize = 16 * 1024;

pub(crate) const PAGE: usize = 4096;

/// A guard page below the usable area; stack probes make every frame,
/// however large, touch it before anything beneath it.
const GUARD: usize = PAGE;

/// A guarded stack mapping.
///
/// Invariant: `low` is the start of a live mapping of `GUARD + size` bytes
/// whose lowest `GUARD` bytes are `PROT_NONE` and the rest read/write; the
/// value owns it. Dropping the stack hands the mapping to this thread's pool
/// (or, if that is full, to the process-wide cache, or unmaps it if both
/// are), so the next [`DefaultStack::new`] of the same size costs no system
/// call.
#[derive(Debug)]
pub struct DefaultStack {
    mapping: Mapping,
}

/// A raw guarded mapping, as moved in and out of the pool.
#[derive(Debug)]
pub(crate) struct Mapping {
    /// Lowest address of the mapping (the guard page).
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
    /// When the kernel refuses the mapping; the error says which limit was hit
    /// (`vm.max_map_count`, memory) and how to raise it.
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
        match pool::take(size) {
            Some(mapping) => Ok(DefaultStack { mapping }),
            None => Self::map(size),
        }
    }

    /// The slow path of [`new`](DefaultStack::new): a fresh mapping. If
    /// the kernel is out of mappings or memory, the process-wide cache gives
    /// its stacks (of other sizes) back and the mapping is tried once more.
    #[cold]
    #[inline(never)]
    fn map(size: usize) -> io::Result<Self> {
        crate::overflow::ensure_ready();
        let mapping = match Mapping::map(size) {
            Err(e) if e.kind() == io::ErrorKind::OutOfMemory && super::trim_cache() > 0 => {
                Mapping::map(size)
            }
            result => result,
        }?;
        Ok(DefaultStack { mapping })
    }

    /// Usable bytes of this stack.
    pub fn size(&self) -> usize {
        self.mapping.size
    }
}

impl Default for DefaultStack {
    /// A [`DEFAULT_STACK_SIZE`] stack.
    ///
    /// # Panics
    /// If no stack can be mapped; the message names the limit that was hit.
    #[inline]
    fn default() -> Self {
        match DefaultStack::new(DEFAULT_STACK_SIZE) {
            Ok(stack) => stack,
            Err(error) => panic!("{error}"),
        }
    }
}

impl Drop for DefaultStack {
    #[inline]
    fn drop(&mut self) {
        let mapping = Mapping { ..self.mapping };
        pool::give_back(mapping);
    }
}

// SAFETY: `Mapping`'s invariant is exactly the `Stack` contract: [low + GUARD,
// low + GUARD + size) is read/write and owned by us, the top is page (hence
// 16-byte) aligned, size >= MIN_STACK_SIZE, and the guard below faults.
unsafe impl Stack for DefaultStack {
    fn base(&self) -> usize {
        self.mapping.base()
    }
    fn limit(&self) -> usize {
        self.mapping.low + GUARD
    }
    fn guard_size(&self) -> usize {
        GUARD
    }
}

impl Mapping {
    /// Maps `size` usable bytes plus the guard page.
    fn map(size: usize) -> io::Result<Mapping> {
        let len = size + GUARD;
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing aliases nothing.
        let low = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if low == libc::MAP_FAILED {
            return Err(map_error(io::Error::last_os_error(), len));
        }
        // SAFETY: the guard page is the first page of the mapping just made.
        if unsafe { libc::mprotect(low, GUARD, libc::PROT_NONE) } != 0 {
            let error = io::Error::last_os_error();
            // SAFETY: unmapping the mapping we own and have not shared.
            unsafe { libc::munmap(low, len) };
            return Err(map_error(error, len));
        }
        let low = low as usize;
        crate::overflow::register_guard(low, low + GUARD, low + GUARD + size);
        crate::tooling::stack_registered(low + GUARD, size);
        Ok(Mapping { low, size })
    }

    /// One past the highest usable address.
    pub(crate) fn base(&self) -> usize {
        self.low + GUARD + self.size
    }

    /// Gives the mapping back to the kernel.
    pub(crate) fn unmap(self) {
        crate::overflow::deregister_guard(self.low);
        crate::tooling::stack_deregistered(self.low + GUARD);
        // SAFETY: per the invariant we own the whole mapping, and `self` is
        // consumed so nothing refers to it afterwards.
        unsafe { libc::munmap(self.low as *mut libc::c_void, self.size + GUARD) };
    }
}

/// Turns a failed mmap/mprotect into an error that names the limit.
fn map_error(error: io::Error, len: usize) -> io::Error {
    if error.raw_os_error() != Some(libc::ENOMEM) {
        return io::Error::new(
            error.kind(),
            format!("corio: cannot map a {len}-byte coroutine stack: {error}"),
        );
    }
    let (max, used) = mapping_counts();
    let message = match (max, used) {
        (Some(max), used) if used + 16 >= max => format!(
            "corio: cannot map another coroutine stack: the process has {used} memory mappings \
             and the kernel limit vm.max_map_count is {max}. Each guarded stack takes two \
             mappings, so about {} coroutines can be live at once. Raise the limit, e.g. \
             `sudo sysctl -w vm.max_map_count={}`, or keep fewer coroutines alive",
            max / 2,
            max.saturating_mul(16).max(1 << 20),
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
