//! The network rows: a TCP echo client (the same for every server) and `wrk` for HTTP,
//! against servers running as child processes pinned to core 0 with one worker.
//!
//! Method (see `bench/README.md`): the server is pinned to core 0, the client to
//! core 1; 1 s warm-up, then one measured interval of 1 s per repetition (echo: 0.2 s
//! under `--quick`, without warm-up; wrk: one 1 s run per repetition); TCP_NODELAY;
//! 127.0.0.1 only. Server CPU per round trip or request comes from `/proc/PID/stat` over
//! the same interval, because the client saturates its core too and the throughput alone
//! would partly measure the client.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::infra::child::ChildGuard;
use crate::infra::os::{self, CpuTimes};
use crate::infra::timing::{Config, Spread};
use crate::row::{Field, Sample};

/// Bytes per echo message.
pub const MESSAGE: usize = 64;
/// Client connections, for echo and for wrk.
pub const CONNECTIONS: usize = 50;
/// The core servers are pinned to.
const SERVER_CORE: usize = 0;
/// The core the client (echo threads, wrk) is pinned to.
const CLIENT_CORE: usize = 1;
/// What the bench's own HTTP servers (tokio, floor) answer: byte for byte the `HELLO` of
/// corio's `crates/corio/examples/http.rs`, so those three send the same bytes (may_minihttp
/// and Go's net/http add their own headers, e.g. `Date`).
pub const HTTP_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: corio\r\nContent-Type: text/plain\r\n\
Content-Length: 13\r\n\r\nHello, World!";

/// The echo row's warm-up and the length of one measured interval (a repetition).
fn echo_durations(config: &Config) -> (Duration, Duration) {
    if config.quick {
        (Duration::ZERO, Duration::from_millis(200))
    } else {
        (Duration::from_secs(1), Duration::from_secs(1))
    }
}

/// Counts the complete requests (header blocks ending in a blank line; the bench's clients
/// send no bodies) at the start of `buf`; returns how many and how many bytes they use.
pub fn complete_requests(buf: &[u8]) -> (usize, usize) {
    let mut count = 0;
    let mut used = 0;
    while let Some(end) = buf[used..].windows(4).position(|w| w == b"\r\n\r\n") {
        used += end + 4;
        count += 1;
    }
    (count, used)
}

/// A server child pinned to core 0, listening on a fresh loopback port once started.
pub struct Server {
    guard: ChildGuard,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `make(addr)` pinned to the server core and waits until it accepts connections.
    pub fn start(make: impl FnOnce(&str) -> Result<Command, String>) -> Result<Server, String> {
        let port = os::free_port().map_err(|e| e.to_string())?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let cmd = make(&addr.to_string())?;
        let core = (os::cpus() > SERVER_CORE).then_some(SERVER_CORE);
        let mut guard = ChildGuard::spawn(cmd, core).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            if guard.exited() {
                return Err("the server exited at start".into());
            }
            if Instant::now() > deadline {
                return Err("the server did not listen within 10 s".into());
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(Server { guard, addr })
    }

    /// CPU time the server has used so far.
    fn cpu(&self) -> io::Result<CpuTimes> {
        os::proc_cpu(self.guard.pid())
    }
}

/// Pins the calling client thread to the client core when there is one; says if it did.
fn pin_client() -> bool {
    os::cpus() > CLIENT_CORE && os::pin_to_core(CLIENT_CORE).is_ok()
}

/// The echo rows for one server: round trips per second, and server CPU µs per round trip,
/// each over `config.reps` measured intervals.
pub fn echo(
    config: &Config,
    make: impl FnOnce(&str) -> Result<Command, String>,
) -> Result<(Sample, Sample), String> {
    let server = Server::start(make)?;
    let stop = Arc::new(AtomicBool::new(false));
    let trips = Arc::new(AtomicU64::new(0));
    let pinned = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let (stop, trips, pinned, addr) =
                (stop.clone(), trips.clone(), pinned.clone(), server.addr);
            thread::spawn(move || -> io::Result<()> {
                if pin_client() {
                    pinned.fetch_add(1, Ordering::Relaxed);
                }
                let mut conn = TcpStream::connect(addr)?;
                conn.set_nodelay(true)?;
                conn.set_read_timeout(Some(Duration::from_secs(2)))?;
                let mut msg = [i as u8; MESSAGE];
                while !stop.load(Ordering::Relaxed) {
                    conn.write_all(&msg)?;
                    conn.read_exact(&mut msg)?;
                    trips.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    let measured = echo_intervals(config, &server, &trips);
    // Stop the clients whatever happened, so none outlives the row.
    stop.store(true, Ordering::Relaxed);
    let mut errors = 0;
    for c in clients {
        if !matches!(c.join(), Ok(Ok(()))) {
            errors += 1;
        }
    }
    drop(server);
    let (rate, cpu_us, n, cpu) = measured?;
    let mut rate = Sample::new(rate).field("round_trips", Field::Int(n));
    if errors > 0 {
        rate = rate.note(format!(
            "echo: {errors} of {CONNECTIONS} client connections failed"
        ));
    }
    if pinned.load(Ordering::Relaxed) < CONNECTIONS as u64 {
        rate = rate.note("echo: client threads could not be pinned to core 1");
    }
    Ok((rate, with_kernel_share(Sample::new(cpu_us), cpu)))
}

/// Adds the share of the server's CPU time spent in the kernel (`kernel_share`, 0 to 1, over
/// all the measured repetitions) to a CPU sample: most of it is the loopback TCP path. Left
/// out when the server used under [`MIN_CPU_FOR_SHARE`] (the split counts 10 ms ticks).
fn with_kernel_share(sample: Sample, cpu: CpuTimes) -> Sample {
    let ticked = cpu.user + cpu.system;
    if ticked < MIN_CPU_FOR_SHARE {
        return sample;
    }
    let share = cpu.system.as_secs_f64() / ticked.as_secs_f64();
    sample.field("kernel_share", Field::Float(share))
}

/// The least CPU time whose user/kernel split is worth reporting: 50 clock ticks.
const MIN_CPU_FOR_SHARE: Duration = Duration::from_millis(500);

/// Round trips so far, the server's CPU time so far, and when they were read.
fn echo_reading(server: &Server, trips: &AtomicU64) -> Result<(u64, CpuTimes, Instant), String> {
    let cpu = server.cpu().map_err(|e| e.to_string())?;
    Ok((trips.load(Ordering::Relaxed), cpu, Instant::now()))
}

/// Waits for the first round trip and the warm-up, then measures `config.reps` intervals of echo traffic: the rate
/// (round trips/s) and server CPU µs per round trip of each, and the round trips and server
/// CPU time in all.
fn echo_intervals(
    config: &Config,
    server: &Server,
    trips: &AtomicU64,
) -> Result<(Spread, Spread, u64, CpuTimes), String> {
    let (warm_up, interval) = echo_durations(config);
    // The traffic must have started before any interval counts (a server slow to accept
    // 50 connections on a busy machine would otherwise measure nothing under --quick).
    let deadline = Instant::now() + Duration::from_secs(10);
    while trips.load(Ordering::Relaxed) == 0 {
        if Instant::now() > deadline {
            return Err("no round trip completed within 10 s".into());
        }
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(warm_up);
    let (mut rates, mut cpus, mut total) = (Vec::new(), Vec::new(), 0);
    let first = echo_reading(server, trips)?;
    let mut last = first;
    for _ in 0..config.reps.max(1) {
        thread::sleep(interval);
        let now = echo_reading(server, trips)?;
        let n = now.0.saturating_sub(last.0);
        if n == 0 {
            return Err("no round trip completed in a measured interval".into());
        }
        rates.push(n as f64 / now.2.duration_since(last.2).as_secs_f64());
        cpus.push(now.1.since(last.1).total.as_secs_f64() * 1e6 / n as f64);
        total += n;
        last = now;
    }
    let cpu = last.1.since(first.1);
    Ok((Spread::of(&mut rates), Spread::of(&mut cpus), total, cpu))
}

/// Extracts `Requests/sec` from wrk's report.
pub fn parse_wrk(report: &str) -> Option<f64> {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))?
        .trim()
        .parse()
        .ok()
}

/// Extracts the completed requests from wrk's report (`  250123 requests in 1.00s, ...`).
pub fn parse_wrk_requests(report: &str) -> Option<u64> {
    let line = report.lines().find(|l| l.contains(" requests in "))?;
    line.split_whitespace().next()?.parse().ok()
}

/// Runs wrk once against `addr` for `secs` seconds, pinned to the client core.
fn wrk(addr: SocketAddr, secs: u64) -> Result<String, String> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", &format!("-c{CONNECTIONS}"), &format!("-d{secs}s")])
        .arg(format!("http://{addr}/"));
    let core = (os::cpus() > CLIENT_CORE).then_some(CLIENT_CORE);
    if let Some(core) = core {
        use std::os::unix::process::CommandExt;
        // SAFETY: only `sched_setaffinity` (async-signal-safe) runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || os::pin_to_core(core));
        }
    }
    let out = cmd.output().map_err(|_| NO_WRK.to_owned())?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Why the HTTP rows skip a system when wrk is missing.
const NO_WRK: &str = "no `wrk` on PATH (Debian: apt-get install wrk)";

/// The HTTP rows for one server, from the same wrk runs: requests per second under
/// `wrk -t1 -c50`, and the server's CPU µs per request; one 1 s wrk run per repetition,
/// after a 1 s warm-up run (none under `--quick`).
pub fn http(
    config: &Config,
    make: impl FnOnce(&str) -> Result<Command, String>,
) -> Result<(Sample, Sample), String> {
    Command::new("wrk")
        .arg("-v")
        .output()
        .map_err(|_| NO_WRK.to_owned())?;
    let server = Server::start(make)?;
    if !config.quick {
        wrk(server.addr, 1)?;
    }
    let (mut rates, mut cpus, mut total) = (Vec::new(), Vec::new(), 0);
    let mut cpu = CpuTimes::default();
    let mut errors = Vec::new();
    for _ in 0..config.reps.max(1) {
        let cpu0 = server.cpu().map_err(|e| e.to_string())?;
        let report = wrk(server.addr, 1)?;
        let cpu1 = server.cpu().map_err(|e| e.to_string())?;
        let unreadable = || format!("cannot read wrk's report: {report}");
        let rate = parse_wrk(&report).ok_or_else(unreadable)?;
        let requests = parse_wrk_requests(&report).ok_or_else(unreadable)?;
        if requests == 0 {
            return Err("wrk completed no request".into());
        }
        rates.push(rate);
        let used = cpu1.since(cpu0);
        cpus.push(used.total.as_secs_f64() * 1e6 / requests as f64);
        cpu = cpu.plus(used);
        total += requests;
        errors.extend(
            report
                .lines()
                .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
                .map(|l| l.trim().to_owned()),
        );
    }
    drop(server);
    let mut rate = Sample::new(Spread::of(&mut rates)).field("requests", Field::Int(total));
    if !errors.is_empty() {
        errors.dedup();
        rate = rate.note(format!("http: wrk reported {}", errors.join("; ")));
    }
    let cpu_us = Sample::new(Spread::of(&mut cpus));
    Ok((rate, with_kernel_share(cpu_us, cpu)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_rate_is_parsed() {
        let report = "Running 5s test @ http://127.0.0.1:8080/\n  1 threads and 50 connections\n\
                      Requests/sec: 133123.45\nTransfer/sec:     15.11MB\n";
        assert_eq!(parse_wrk(report), Some(133123.45));
        assert_eq!(parse_wrk("nothing"), None);
        let report = "  1 threads and 50 connections\n  133212 requests in 1.00s, 15.11MB read\n";
        assert_eq!(parse_wrk_requests(report), Some(133212));
        assert_eq!(parse_wrk_requests("nothing"), None);
    }

    #[test]
    fn pipelined_requests_are_counted() {
        let buf = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\nGET /";
        let (count, used) = complete_requests(buf);
        assert_eq!(count, 2);
        assert_eq!(&buf[used..], b"GET /");
        assert_eq!(complete_requests(b"GET"), (0, 0));
    }

    #[test]
    fn the_response_is_well_formed() {
        let text = std::str::from_utf8(HTTP_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
