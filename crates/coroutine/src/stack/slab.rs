//! Where fresh stacks come from: slabs of same-size stacks.
//!
//! A slab is one anonymous `MAP_NORESERVE` mapping cut into `count` stacks of
//! `GUARD + size` bytes each, guard page at the low end of each:
//!
//! ```text
//!  low                                                          low + count * stride
//!   | guard | stack 0 usable ... | guard | stack 1 usable ... | ... |
//!   |<-------- stride ---------->|
//! ```
//!
//! In [`GuardMode::Slab`] the guards are installed with
//! `madvise(MADV_GUARD_INSTALL)` as stacks are first carved, which does not
//! split the mapping, and slabs grow geometrically per size (8 stacks, then
//! 16, 32 ... up to about [`MAX_SLAB_BYTES`]): a small program maps a few
//! MiB of address space, a million 256 KiB stacks take about 260 mappings.
//! In [`GuardMode::Mapping`] every slab holds one stack and its guard is an
//! `mprotect(PROT_NONE)` page, as before slabs existed.
//!
//! Slabs only feed the per-thread pools and the process-wide cache, which
//! keep the create path free of locks and system calls. A stack released
//! here has its pages given back (`MADV_DONTNEED`; the guard survives it) and
//! its slot goes on its slab's free list. A slab whose stacks are all free
//! is unmapped by the scavenger once it stayed so for a full tick
//! (`scavenger.rs`), or at once by [`unmap_empty`] (`trim_cache`).

use super::guard::{guard_mode, GuardMode, MADV_GUARD_INSTALL};
use super::mmap::GUARD;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Mutex, MutexGuard};

/// Stacks in the first slab of a size.
const FIRST_SLAB_STACKS: usize = 8;

/// Address space of the largest slab: 1 GiB, about 4,000 default stacks.
pub(crate) const MAX_SLAB_BYTES: usize = 1 << 30;

/// One slab mapping.
///
/// Invariant: `[low, low + count * stride)` is a live mapping owned by the
/// slab table; stacks `0..carved` have their guard installed; every carved
/// stack is either in `free` or owned by exactly one `Mapping` elsewhere
/// (counted by `live`).
struct Slab {
    stride: usize,
    count: usize,
    carved: usize,
    free: Vec<u32>,
    live: usize,
    /// Whether the slab is in its class's `partial` list.
    partial: bool,
    /// The scavenger tick at which `live` last dropped to 0.
    emptied_at: u64,
}

/// The slabs of one usable stack size.
struct Class {
    size: usize,
    /// Slabs of this size now mapped.
    slabs: usize,
    /// Low addresses of this size's slabs with a free or uncarved stack.
    partial: Vec<usize>,
}

struct Table {
    classes: Vec<Class>,
    /// Every slab, by low address.
    slabs: BTreeMap<usize, Slab>,
    /// Scavenger ticks so far.
    tick: u64,
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    classes: Vec::new(),
    slabs: BTreeMap::new(),
    tick: 0,
});

fn table() -> MutexGuard<'static, Table> {
    // Updates to the table do not panic half-way (only allocation failure
    // could, and it aborts), so a poisoned table is still consistent.
    TABLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The slabs now mapped, the bytes of address space they reserve, and the
/// stacks handed out from them (see [`super::StackStats`]).
pub(super) fn totals() -> (usize, usize, usize) {
    let table = table();
    table.slabs.values().fold((0, 0, 0), |(n, bytes, live), s| {
        (n + 1, bytes + s.count * s.stride, live + s.live)
    })
}

/// The low address (guard page) of a free `size`-byte stack, guarded and
/// owned by the caller from now on.
///
/// # Errors
/// The raw `mmap`/`madvise`/`mprotect` error when a new slab cannot be
/// mapped or a guard installed.
pub(super) fn alloc(size: usize) -> io::Result<usize> {
    let stride = GUARD + size;
    let mut table = table();
    let class = table.class(size);
    let slab_low = match table.classes[class].partial.last() {
        Some(&low) => low,
        None => table.map_slab(class, stride)?,
    };
    let slab = table
        .slabs
        .get_mut(&slab_low)
        .expect("partial slabs are mapped");
    let index = match slab.free.pop() {
        Some(index) => index as usize,
        None => {
            let index = slab.carved;
            if let Err(error) = install_guard(slab_low + index * stride) {
                if slab.live == 0 && index == 0 {
                    table.unmap_slab(slab_low); // fresh: do not keep it
                }
                return Err(error);
            }
            slab.carved += 1;
            index
        }
    };
    slab.live += 1;
    if slab.free.is_empty() && slab.carved == slab.count {
        slab.partial = false;
        table.classes[class].partial.pop();
    }
    Ok(slab_low + index * stride)
}

/// Takes back the `size`-byte stacks whose low addresses are in `lows`
/// (each obtained from [`alloc`] and no longer used), giving their memory
/// back to the kernel. In [`GuardMode::Mapping`] each one is unmapped.
pub(super) fn release(size: usize, lows: &mut [usize]) {
    let stride = GUARD + size;
    if guard_mode() == GuardMode::Slab {
        give_back_pages(stride, lows);
    }
    let mut table = table();
    let class = table.class(size);
    let tick = table.tick;
    let mut emptied = Vec::new();
    for &low in lows.iter() {
        let (&slab_low, slab) = table
            .slabs
            .range_mut(..=low)
            .next_back()
            .expect("a released stack lies in a slab");
        slab.free.push(((low - slab_low) / stride) as u32);
        slab.live -= 1;
        if slab.live == 0 {
            slab.emptied_at = tick;
            emptied.push(slab_low);
        }
        if !slab.partial {
            slab.partial = true;
            table.classes[class].partial.push(slab_low);
        }
    }
    if guard_mode() == GuardMode::Mapping {
        // A one-stack slab is cheap to map again; keep nothing.
        for low in emptied {
            table.unmap_slab(low);
        }
    } else if !emptied.is_empty() {
        drop(table);
        super::scavenger::wake();
    }
}

/// `MADV_DONTNEED`s the usable areas of `lows`, sorted, one call per run
/// of adjacent stacks (the guards between them survive the advice).
fn give_back_pages(stride: usize, lows: &mut [usize]) {
    lows.sort_unstable();
    let mut i = 0;
    while i < lows.len() {
        let start = lows[i] + GUARD;
        let mut end = lows[i] + stride;
        i += 1;
        while i < lows.len() && lows[i] == end {
            end += stride;
            i += 1;
        }
        // SAFETY: [start, end) covers stacks the caller owns and no longer
        // uses (plus guard pages between them, which keep their guards);
        // their contents may be discarded.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

/// Unmaps every slab that has been empty since before the last tick, then
/// starts a new tick; returns how many slabs are empty but still mapped.
pub(super) fn scavenge() -> usize {
    let mut table = table();
    let tick = table.tick;
    table.tick += 1;
    table.unmap_empty_where(|slab| slab.emptied_at < tick)
}

/// Slabs whose stacks are all free, still mapped.
pub(super) fn empty_slabs() -> usize {
    table().slabs.values().filter(|slab| slab.live == 0).count()
}

/// Unmaps every slab whose stacks are all free; returns how many.
pub(super) fn unmap_empty() -> usize {
    let mut table = table();
    let before = table.slabs.len();
    table.unmap_empty_where(|_| true);
    before - table.slabs.len()
}

impl Table {
    /// The index of `size`'s class, made if needed.
    fn class(&mut self, size: usize) -> usize {
        match self.classes.iter().position(|c| c.size == size) {
            Some(class) => class,
            None => {
                self.classes.push(Class {
                    size,
                    slabs: 0,
                    partial: Vec::new(),
                });
                self.classes.len() - 1
            }
        }
    }

    /// Maps a new slab for `class`, larger than the last; returns its low
    /// address, now last in the class's partial list.
    fn map_slab(&mut self, class: usize, stride: usize) -> io::Result<usize> {
        let count = match guard_mode() {
            GuardMode::Mapping => 1,
            GuardMode::Slab => {
                let grown = FIRST_SLAB_STACKS << self.classes[class].slabs.min(20);
                grown.min(MAX_SLAB_BYTES / stride).max(1)
            }
        };
        let len = count * stride;
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
            return Err(io::Error::last_os_error());
        }
        let low = low as usize;
        crate::overflow::register_slab(low, len, stride, GUARD);
        self.slabs.insert(
            low,
            Slab {
                stride,
                count,
                carved: 0,
                free: Vec::new(),
                live: 0,
                partial: true,
                emptied_at: 0,
            },
        );
        self.classes[class].slabs += 1;
        self.classes[class].partial.push(low);
        Ok(low)
    }

    /// Unmaps the empty slabs that `pick` selects; returns how many empty
    /// slabs are left mapped.
    fn unmap_empty_where(&mut self, pick: impl Fn(&Slab) -> bool) -> usize {
        let empty: Vec<(usize, bool)> = self
            .slabs
            .iter()
            .filter(|(_, slab)| slab.live == 0)
            .map(|(&low, slab)| (low, pick(slab)))
            .collect();
        let mut left = 0;
        for (low, picked) in empty {
            if picked {
                self.unmap_slab(low);
            } else {
                left += 1;
            }
        }
        left
    }

    /// Unmaps the empty slab at `low`.
    fn unmap_slab(&mut self, low: usize) {
        let slab = self.slabs.remove(&low).expect("the slab is mapped");
        debug_assert_eq!(slab.live, 0);
        let size = slab.stride - GUARD;
        if let Some(class) = self.classes.iter_mut().find(|c| c.size == size) {
            class.slabs -= 1;
            class.partial.retain(|&l| l != low);
        }
        crate::overflow::deregister_slab(low);
        // SAFETY: the slab is empty (no stack of it is owned elsewhere) and
        // removed from the table, so nothing refers to the mapping.
        unsafe { libc::munmap(low as *mut libc::c_void, slab.count * slab.stride) };
    }
}

/// Installs the guard page at `low`, the low end of a stack being carved.
fn install_guard(low: usize) -> io::Result<()> {
    let advice = match guard_mode() {
        // SAFETY: `low` is the first page of a stack slot in a slab we own
        // that no one uses yet.
        GuardMode::Slab => unsafe {
            libc::madvise(low as *mut libc::c_void, GUARD, MADV_GUARD_INSTALL)
        },
        // SAFETY: as above; the page becomes inaccessible.
        GuardMode::Mapping => unsafe {
            libc::mprotect(low as *mut libc::c_void, GUARD, libc::PROT_NONE)
        },
    };
    if advice == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slabs of `size` now mapped.
    fn slabs_of(size: usize) -> usize {
        let table = table();
        table
            .classes
            .iter()
            .find(|c| c.size == size)
            .map_or(0, |c| c.slabs)
    }

    // Tests share the slab table: each uses a stack size of its own.

    #[test]
    fn slabs_grow_geometrically_and_go_when_empty() {
        const SIZE: usize = 36 * 1024;
        let mut lows: Vec<usize> = (0..25).map(|_| alloc(SIZE).unwrap()).collect();
        let expected = match guard_mode() {
            GuardMode::Slab => 3, // 8 + 16 + 32 stacks
            GuardMode::Mapping => 25,
        };
        assert_eq!(slabs_of(SIZE), expected);
        let mut sorted = lows.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 25, "every stack is distinct");
        release(SIZE, &mut lows);
        // Empty slabs outlive the tick they emptied in, not the next one.
        scavenge();
        scavenge();
        assert_eq!(slabs_of(SIZE), 0);
    }

    #[test]
    fn released_stacks_are_reused_and_read_as_zero() {
        const SIZE: usize = 40 * 1024;
        let low = alloc(SIZE).unwrap();
        let keep = alloc(SIZE).unwrap(); // keeps the slab from emptying
        let word = low + GUARD;
        // SAFETY: the stack at `low` is ours; its usable area starts at `word`.
        unsafe { (word as *mut u64).write(7) };
        release(SIZE, &mut [low]);
        let again = alloc(SIZE).unwrap();
        if guard_mode() == GuardMode::Slab {
            assert_eq!(again, low, "the free slot is taken first");
        }
        // SAFETY: as above; released pages were given back, so read as zero.
        assert_eq!(unsafe { (word as *const u64).read() }, 0);
        release(SIZE, &mut [again, keep]);
    }
}
