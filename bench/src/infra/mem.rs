//! Process memory facts from `/proc`: resident set size and kernel memory-mapping counts.
//!
//! Every guarded coroutine stack costs the kernel mappings (the stack and its guard page), and
//! `vm.max_map_count` caps them per process (65530 by default), so parking 100k coroutines may
//! need the cap raised. [`MapLimitRaise`] does that when we are allowed to and puts the old
//! value back when dropped, because the machine is shared.

use std::fs;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether `--raise-map-limit` was given: without it the bench changes no kernel setting.
static RAISE_ALLOWED: AtomicBool = AtomicBool::new(false);

/// Lets [`MapLimitRaise::to`] raise the limit (the `--raise-map-limit` flag).
pub fn allow_raising_the_map_limit() {
    RAISE_ALLOWED.store(true, Ordering::Relaxed);
}

/// Where the kernel's per-process mapping cap lives.
const MAX_MAP_COUNT: &str = "/proc/sys/vm/max_map_count";

/// The process's resident set size in bytes (`VmRSS` in `/proc/self/status`).
pub fn resident_bytes() -> io::Result<u64> {
    let status = fs::read_to_string("/proc/self/status")?;
    parse_vm_rss(&status).ok_or_else(|| io::Error::other("no VmRSS in /proc/self/status"))
}

/// Extracts `VmRSS` (reported in kB) from the text of `/proc/<pid>/status`, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// How many memory mappings the process has now (lines of `/proc/self/maps`).
pub fn map_count() -> io::Result<usize> {
    Ok(fs::read_to_string("/proc/self/maps")?.lines().count())
}

/// The kernel's per-process mapping cap, `vm.max_map_count`.
pub fn max_map_count() -> io::Result<usize> {
    fs::read_to_string(MAX_MAP_COUNT)?
        .trim()
        .parse()
        .map_err(io::Error::other)
}

/// A raised `vm.max_map_count`, restored to its old value on drop.
#[derive(Debug)]
pub struct MapLimitRaise {
    /// The value before raising, written back on drop.
    pub original: usize,
    /// The value in force while this guard lives.
    pub raised: usize,
}

impl MapLimitRaise {
    /// Raises `vm.max_map_count` to `to`; fails unless the bench was run with
    /// `--raise-map-limit` and we may write the sysctl (root, writable `/proc/sys`).
    pub fn to(to: usize) -> io::Result<Self> {
        if !RAISE_ALLOWED.load(Ordering::Relaxed) {
            return Err(io::Error::other(
                "the bench changes no kernel setting unless run with --raise-map-limit",
            ));
        }
        let original = max_map_count()?;
        fs::write(MAX_MAP_COUNT, to.to_string())?;
        Ok(MapLimitRaise {
            original,
            raised: max_map_count()?,
        })
    }
}

impl Drop for MapLimitRaise {
    fn drop(&mut self) {
        // Best effort: a failure here leaves a harmless, larger cap; say so rather than panic.
        if let Err(e) = fs::write(MAX_MAP_COUNT, self.original.to_string()) {
            eprintln!("corio-bench: could not restore vm.max_map_count: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_parsed_in_bytes() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn the_map_limit_is_left_alone_without_the_flag() {
        let before = max_map_count().unwrap();
        let raise = MapLimitRaise::to(before + 1);
        assert!(raise.is_err(), "raised without --raise-map-limit");
        assert_eq!(max_map_count().unwrap(), before);
    }

    #[test]
    fn own_process_figures_are_plausible() {
        assert!(resident_bytes().unwrap() > 0);
        assert!(map_count().unwrap() > 0);
        assert!(max_map_count().unwrap() > 0);
    }
}
