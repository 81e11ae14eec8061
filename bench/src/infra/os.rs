//! Operating-system facts the runtime rows need: CPU time (our own, and a child's split into
//! user and kernel time), CPU affinity, and free loopback ports.

use std::fs;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

/// CPU time (user + system) this process has used so far, from `getrusage(RUSAGE_SELF)`.
pub fn self_cpu() -> Duration {
    // SAFETY: `getrusage` only writes the struct we pass; all-zero is a valid `rusage`.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time a process has used so far: the exact total, and its split into user and kernel
/// time at clock-tick granularity (10 ms), fine over seconds, coarse over a fraction of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTimes {
    /// User + system time, from the process's CPU-time clock (nanoseconds).
    pub total: Duration,
    /// Time in user space, from `/proc/PID/stat` (clock ticks).
    pub user: Duration,
    /// Time in the kernel on the process's behalf, from `/proc/PID/stat` (clock ticks).
    pub system: Duration,
}

impl CpuTimes {
    /// The time used between `earlier` and `self`.
    pub fn since(&self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            total: self.total.saturating_sub(earlier.total),
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    /// The sum of two spans of CPU time.
    pub fn plus(&self, other: CpuTimes) -> CpuTimes {
        CpuTimes {
            total: self.total + other.total,
            user: self.user + other.user,
            system: self.system + other.system,
        }
    }
}

/// CPU time process `pid` (all its threads, exited ones included) has used so far.
pub fn proc_cpu(pid: u32) -> io::Result<CpuTimes> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (utime, stime) = parse_stat_cpu_ticks(&stat)
        .ok_or_else(|| io::Error::other(format!("cannot parse /proc/{pid}/stat")))?;
    // SAFETY: `sysconf` has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let ticks = |n: u64| Duration::from_nanos(n * 1_000_000_000 / hz);
    Ok(CpuTimes {
        total: process_clock(pid)?,
        user: ticks(utime),
        system: ticks(stime),
    })
}

/// The CPU-time clock of process `pid` (`clock_getcpuclockid` + `clock_gettime`): user +
/// system time of all its threads, to the nanosecond.
fn process_clock(pid: u32) -> io::Result<Duration> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `clock_getcpuclockid` only writes the clock id through the valid pointer.
    let rc = unsafe { libc::clock_getcpuclockid(pid, &mut clock) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    // SAFETY: all-zero is a valid `timespec`; `clock_gettime` only writes through the valid
    // pointer.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `clock` was just obtained for this process.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// `utime` and `stime` (fields 14 and 15, in clock ticks) from the text of `/proc/PID/stat`.
///
/// The command name (field 2) is in parentheses and may contain spaces or parentheses, so
/// fields are counted from the last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (state): utime is field 14, the 12th of `rest`.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// Restricts the calling thread (and the threads and processes it creates later) to `core`.
///
/// Async-signal-safe, so it may run in a `pre_exec` hook between `fork` and `exec`.
pub fn pin_to_core(core: usize) -> io::Result<()> {
    // SAFETY: `cpu_set_t` is plain data; CPU_ZERO/CPU_SET only write inside it, and
    // `sched_setaffinity(0, ..)` reads it and affects only the calling thread.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// How many CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A loopback port that was free a moment ago (the kernel picks it; small race accepted).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_is_utime_and_stime() {
        let stat = "1234 (my (odd) prog) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some((250, 50)));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
        assert_eq!(parse_stat_cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn own_cpu_readings_grow() {
        let a = self_cpu();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        assert!(self_cpu() >= a);
        let before = proc_cpu(std::process::id()).unwrap();
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        let used = proc_cpu(std::process::id()).unwrap().since(before);
        assert!(used.total > Duration::ZERO, "{used:?}");
    }

    #[test]
    fn free_port_is_nonzero() {
        assert_ne!(free_port().unwrap(), 0);
    }
}
