//! The network rows: a TCP echo client (the same for every server) and `wrk` for HTTP,
//! against servers running as child processes pinned to core 0 with one worker.
//!
//! Method (see `bench/README.md`): every system's server is started first and all stay up
//! (idle, in their event loops) while the row runs; the measured repetitions are then taken
//! in rounds, one interval per server per round, each round starting one server further
//! along. So a slow minute on a shared machine lands on every system rather than on
//! whichever ran then, and the ratios compare intervals taken moments apart. The server is
//! pinned to core 0, the client to core 1; a 1 s warm-up per server before the first round
//! (none under `--quick`); echo: 50 fresh connections per interval, 0.25 s to settle, then
//! 1 s measured (0.2 s under `--quick`); wrk: one 1 s run per interval; TCP_NODELAY;
//! 127.0.0.1 only. Server CPU per round trip or request comes from `/proc/PID/stat` over the
//! same interval, because the client saturates its core too and the throughput alone would
//! partly measure the client.

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
use crate::system::System;

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

/// How a system's server is started: the command for a listening address.
pub type MakeServer = Box<dyn FnOnce(&str) -> Result<Command, String>>;

/// One system's figures in a network row: the rate and the server CPU per operation (round
/// trip or request), or why the system was skipped.
pub type Figures = Result<(Sample, Sample), String>;

/// The echo row's timing: warm-up per server, settling time of each interval's fresh
/// connections, and the measured interval.
struct EchoTiming {
    warm_up: Duration,
    settle: Duration,
    interval: Duration,
}

fn echo_timing(config: &Config) -> EchoTiming {
    if config.quick {
        EchoTiming {
            warm_up: Duration::ZERO,
            settle: Duration::ZERO,
            interval: Duration::from_millis(200),
        }
    } else {
        EchoTiming {
            warm_up: Duration::from_secs(1),
            settle: Duration::from_millis(250),
            interval: Duration::from_secs(1),
        }
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
    pub fn start(make: MakeServer) -> Result<Server, String> {
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

/// What one server has measured over the rounds so far.
#[derive(Default)]
struct Tally {
    rates: Vec<f64>,
    /// Server CPU µs per operation, per interval.
    cpus: Vec<f64>,
    /// Operations (round trips or requests) in all intervals.
    ops: u64,
    /// Server CPU time in all intervals.
    cpu: CpuTimes,
    notes: Vec<String>,
}

impl Tally {
    /// Adds one interval: `ops` operations at `rate`, using `cpu` of the server.
    fn add(&mut self, rate: f64, ops: u64, cpu: CpuTimes) {
        self.rates.push(rate);
        self.cpus.push(cpu.total.as_secs_f64() * 1e6 / ops as f64);
        self.ops += ops;
        self.cpu = self.cpu.plus(cpu);
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// The row's two samples; the rate carries `ops_field` (the operations counted).
    fn figures(mut self, ops_field: &'static str) -> (Sample, Sample) {
        let mut rate =
            Sample::new(Spread::of(&mut self.rates)).field(ops_field, Field::Int(self.ops));
        for note in self.notes {
            rate = rate.note(note);
        }
        let cpu = with_kernel_share(Sample::new(Spread::of(&mut self.cpus)), self.cpu);
        (rate, cpu)
    }
}

/// A server of a row with its tally, or why it dropped out.
type Slot = (System, Result<(Server, Tally), String>);

/// Starts every contender's server; one that cannot start carries its error instead.
fn start_all(contenders: Vec<(System, MakeServer)>) -> Vec<Slot> {
    contenders
        .into_iter()
        .map(|(system, make)| (system, Server::start(make).map(|s| (s, Tally::default()))))
        .collect()
}

/// Runs `interval` once per live server in each of `reps` rounds, round `r` starting at the
/// `r`-th server, so that no system always goes first.
fn interleave(
    reps: usize,
    slots: &mut [Slot],
    mut interval: impl FnMut(&Server, &mut Tally) -> Result<(), String>,
) {
    for round in 0..reps.max(1) {
        visit(slots, round, &mut interval);
    }
}

/// Runs `f` once on each live server, starting at the `first`-th; a server for which it
/// fails drops out with that error as its outcome.
fn visit(
    slots: &mut [Slot],
    first: usize,
    mut f: impl FnMut(&Server, &mut Tally) -> Result<(), String>,
) {
    let n = slots.len();
    for i in 0..n {
        let slot = &mut slots[(first + i) % n].1;
        let outcome = match slot {
            Ok((server, tally)) => f(server, tally),
            Err(_) => continue,
        };
        if let Err(why) = outcome {
            *slot = Err(why);
        }
    }
}

/// Each system's figures from its tally (the servers stop here).
fn finish(slots: Vec<Slot>, ops_field: &'static str) -> Vec<(System, Figures)> {
    slots
        .into_iter()
        .map(|(system, slot)| (system, slot.map(|(_, tally)| tally.figures(ops_field))))
        .collect()
}

/// Pins the calling client thread to the client core when there is one; says if it did.
fn pin_client() -> bool {
    os::cpus() > CLIENT_CORE && os::pin_to_core(CLIENT_CORE).is_ok()
}

/// The echo rows for every contender, measured in interleaved rounds: round trips per
/// second, and server CPU µs per round trip, each over `config.reps` intervals.
pub fn echo(config: &Config, contenders: Vec<(System, MakeServer)>) -> Vec<(System, Figures)> {
    let timing = echo_timing(config);
    let mut slots = start_all(contenders);
    if !timing.warm_up.is_zero() {
        visit(&mut slots, 0, |server, _| {
            EchoLoad::start(server.addr).run_for(timing.warm_up)
        });
    }
    interleave(config.reps, &mut slots, |server, tally| {
        echo_interval(server, tally, &timing)
    });
    finish(slots, "round_trips")
}

/// One measured echo interval against `server`, on fresh connections.
fn echo_interval(server: &Server, tally: &mut Tally, timing: &EchoTiming) -> Result<(), String> {
    let load = EchoLoad::start(server.addr);
    let measured = load.started().and_then(|()| {
        thread::sleep(timing.settle);
        let first = echo_reading(server, &load.trips)?;
        thread::sleep(timing.interval);
        Ok((first, echo_reading(server, &load.trips)?))
    });
    let (errors, all_pinned) = load.stop();
    let (first, last) = measured?;
    let n = last.0.saturating_sub(first.0);
    if n == 0 {
        return Err("no round trip completed in a measured interval".into());
    }
    let rate = n as f64 / last.2.duration_since(first.2).as_secs_f64();
    tally.add(rate, n, last.1.since(first.1));
    if errors > 0 {
        tally.note(format!(
            "echo: {errors} of {CONNECTIONS} client connections failed in an interval"
        ));
    }
    if !all_pinned {
        tally.note("echo: client threads could not be pinned to core 1".into());
    }
    Ok(())
}

/// Echo traffic on [`CONNECTIONS`] connections, one client thread each.
struct EchoLoad {
    stop: Arc<AtomicBool>,
    trips: Arc<AtomicU64>,
    pinned: Arc<AtomicU64>,
    clients: Vec<thread::JoinHandle<io::Result<()>>>,
}

impl EchoLoad {
    /// Connects the clients to `addr`; each sends and awaits messages until stopped.
    fn start(addr: SocketAddr) -> EchoLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let trips = Arc::new(AtomicU64::new(0));
        let pinned = Arc::new(AtomicU64::new(0));
        let clients = (0..CONNECTIONS)
            .map(|i| {
                let (stop, trips, pinned) = (stop.clone(), trips.clone(), pinned.clone());
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
        EchoLoad {
            stop,
            trips,
            pinned,
            clients,
        }
    }

    /// Waits until the first round trip has completed (a server slow to accept 50
    /// connections on a busy machine would otherwise measure nothing under `--quick`).
    fn started(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.trips.load(Ordering::Relaxed) == 0 {
            if Instant::now() > deadline {
                return Err("no round trip completed within 10 s".into());
            }
            thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Runs the traffic for `time` once it has started (a warm-up), then stops it.
    fn run_for(self, time: Duration) -> Result<(), String> {
        let started = self.started();
        if started.is_ok() {
            thread::sleep(time);
        }
        self.stop();
        started
    }

    /// Stops and joins the clients; returns how many failed and whether all were pinned.
    fn stop(self) -> (usize, bool) {
        self.stop.store(true, Ordering::Relaxed);
        let failed = self
            .clients
            .into_iter()
            .map(|c| c.join())
            .filter(|joined| !matches!(joined, Ok(Ok(()))))
            .count();
        (
            failed,
            self.pinned.load(Ordering::Relaxed) == CONNECTIONS as u64,
        )
    }
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

/// The HTTP rows for every contender, from the same wrk runs, in interleaved rounds:
/// requests per second under `wrk -t1 -c50`, and the server's CPU µs per request; one 1 s
/// wrk run per interval, after a 1 s warm-up run per server (none under `--quick`).
pub fn http(config: &Config, contenders: Vec<(System, MakeServer)>) -> Vec<(System, Figures)> {
    if Command::new("wrk").arg("-v").output().is_err() {
        return contenders
            .into_iter()
            .map(|(system, _)| (system, Err(NO_WRK.to_owned())))
            .collect();
    }
    let mut slots = start_all(contenders);
    if !config.quick {
        visit(&mut slots, 0, |server, _| wrk(server.addr, 1).map(drop));
    }
    interleave(config.reps, &mut slots, http_interval);
    finish(slots, "requests")
}

/// One measured wrk run against `server`.
fn http_interval(server: &Server, tally: &mut Tally) -> Result<(), String> {
    let cpu0 = server.cpu().map_err(|e| e.to_string())?;
    let report = wrk(server.addr, 1)?;
    let cpu1 = server.cpu().map_err(|e| e.to_string())?;
    let unreadable = || format!("cannot read wrk's report: {report}");
    let rate = parse_wrk(&report).ok_or_else(unreadable)?;
    let requests = parse_wrk_requests(&report).ok_or_else(unreadable)?;
    if requests == 0 {
        return Err("wrk completed no request".into());
    }
    tally.add(rate, requests, cpu1.since(cpu0));
    for line in report
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        tally.note(format!("http: wrk reported {}", line.trim()));
    }
    Ok(())
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
