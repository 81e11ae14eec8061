//! How stack guard pages are made: chosen once per process.
//!
//! Linux 6.13 added `madvise(MADV_GUARD_INSTALL)`: guard pages that fault
//! like `PROT_NONE` without splitting the mapping they sit in. With it, many
//! stacks share one slab mapping (`slab.rs`) and a million coroutines fit in
//! a few hundred kernel mappings. Older kernels answer `EINVAL`; there each
//! stack keeps a mapping of its own with an `mprotect(PROT_NONE)` guard page,
//! two mappings per stack, which caps a process near 32k live stacks at the
//! default `vm.max_map_count`.

use std::sync::OnceLock;

/// `madvise` advice that installs guard pages (Linux >= 6.13); the libc
/// crate does not define it yet.
pub(crate) const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Environment variable that forces the per-stack mapping mode when set to
/// `mprotect` (for tests, and to compare the two modes).
pub const GUARD_MODE_ENV: &str = "CORIO_STACK_GUARD";

/// How this process guards its [`DefaultStack`](super::DefaultStack)s
/// against overflow. Both modes fault on the page below every stack and
/// report an overflow the same way; they differ in kernel mappings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardMode {
    /// Stacks are carved from large shared slab mappings, each guard page
    /// installed with `madvise(MADV_GUARD_INSTALL)` (Linux >= 6.13): a
    /// million stacks take a few hundred kernel mappings.
    Slab,
    /// Each stack is a mapping of its own plus an `mprotect(PROT_NONE)` guard
    /// page: two kernel mappings per stack, so `vm.max_map_count` bounds the
    /// live stacks. Used on kernels before 6.13, or when
    /// `CORIO_STACK_GUARD=mprotect`.
    Mapping,
}

impl std::fmt::Display for GuardMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GuardMode::Slab => "slab stacks, MADV_GUARD_INSTALL guards",
            GuardMode::Mapping => "one mapping per stack, PROT_NONE guards",
        })
    }
}

/// The guard mode of this process, detected on first use: [`GuardMode::Slab`]
/// if the kernel accepts `MADV_GUARD_INSTALL`, unless `CORIO_STACK_GUARD` is
/// `mprotect`. (valgrind 3.19 passes the advice to the kernel, so its guards
/// fault and overflow reports work under it too.)
///
/// ```
/// use corio_coroutine::stack::{guard_mode, GuardMode};
/// match guard_mode() {
///     GuardMode::Slab => println!("a million coroutines fit"),
///     GuardMode::Mapping => println!("vm.max_map_count / 2 coroutines fit"),
/// }
/// ```
pub fn guard_mode() -> GuardMode {
    static MODE: OnceLock<GuardMode> = OnceLock::new();
    *MODE.get_or_init(detect)
}

fn detect() -> GuardMode {
    let forced = std::env::var(GUARD_MODE_ENV).is_ok_and(|v| v == "mprotect");
    if forced || !kernel_installs_guards() {
        GuardMode::Mapping
    } else {
        GuardMode::Slab
    }
}

/// Whether `MADV_GUARD_INSTALL` works here: tried on a scratch page.
fn kernel_installs_guards() -> bool {
    let len = super::mmap::PAGE;
    // SAFETY: a fresh anonymous private mapping aliases nothing; it is
    // unmapped before returning and never handed out.
    unsafe {
        let page = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        );
        if page == libc::MAP_FAILED {
            return false;
        }
        let installed = libc::madvise(page, len, MADV_GUARD_INSTALL) == 0;
        libc::munmap(page, len);
        installed
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_mode_is_fixed_for_the_process() {
        assert_eq!(super::guard_mode(), super::guard_mode());
    }
}
