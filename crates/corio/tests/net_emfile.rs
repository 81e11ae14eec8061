//! Descriptor exhaustion on accept (`EMFILE`): the server neither spins nor dies, logs one
//! line, and serves the waiting connections once descriptors free up.
//!
//! The server runs in a child process (this same binary, with `CORIO_EMFILE_CHILD=1`) whose
//! `RLIMIT_NOFILE` is lowered to a few descriptors above what it already uses; this process
//! is the client. `harness = false`: `main` is the test.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CLIENTS: usize = 16;
/// Descriptors the child may open beyond those it has when it lowers its limit.
const SPARE: u64 = 4;

fn main() {
    if std::env::var_os("CORIO_EMFILE_CHILD").is_some() {
        child();
    } else {
        parent();
        println!("net_emfile: ok");
    }
}

fn open_fds() -> Vec<u64> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The server: echoes one byte per connection, then closes once the client closes; exits
/// after `CLIENTS` connections (or 30 s, so it always stops).
fn child() {
    let rt = corio::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        let listener = corio::net::TcpListener::bind("127.0.0.1:0").unwrap();
        // Lower the limit to just above the highest open fd, fill every free slot below it,
        // then free `SPARE` of them: exactly `SPARE` descriptors are left.
        let fds = open_fds();
        let limit = fds.iter().max().unwrap() + 1 + SPARE;
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl), 0);
            rl.rlim_cur = limit;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &rl), 0);
        }
        let mut filler = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            filler.push(f);
        }
        filler.truncate(filler.len() - SPARE as usize);
        println!("{}", listener.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        let watchdog = corio::spawn(|| {
            corio::time::sleep(Duration::from_secs(30));
            std::process::exit(2);
        });
        let mut handles = Vec::new();
        for _ in 0..CLIENTS {
            let (mut s, _) = listener.accept().unwrap();
            handles.push(corio::spawn(move || {
                let mut b = [0u8; 1];
                if s.read(&mut b).unwrap_or(0) == 1 {
                    let _ = s.write_all(&b);
                    let _ = s.read(&mut b); // until the client closes
                }
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
        watchdog.cancel();
    });
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the comm field.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn echoes(c: &mut TcpStream, wait: Duration) -> bool {
    c.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 1];
    match c.read(&mut b) {
        Ok(1) => true,
        Ok(_) => panic!("server closed early"),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) => panic!("{e}"),
    }
}

fn parent() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("CORIO_EMFILE_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().expect("the child prints its port");

    let mut clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    for c in &mut clients {
        c.write_all(b"x").unwrap();
    }
    // Some are served, the rest wait in the backlog: the server is out of descriptors.
    let served: Vec<bool> = clients
        .iter_mut()
        .map(|c| echoes(c, Duration::from_millis(300)))
        .collect();
    let n_served = served.iter().filter(|&&s| s).count();
    assert!(
        n_served > 0 && n_served < CLIENTS,
        "served {n_served} of {CLIENTS}: the limit did not bite"
    );
    // Not spinning: under 20% of a core while stalled.
    let (t0, c0) = (Instant::now(), cpu_ticks(pid));
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - c0;
    let hz = 100.0; // USER_HZ on Linux
    let share = used as f64 / hz / t0.elapsed().as_secs_f64();
    assert!(share < 0.2, "the stalled server used {share:.2} of a core");

    // Free the served connections: the rest must now be served, one slot at a time.
    let mut waiting = Vec::new();
    for (c, s) in clients.into_iter().zip(served) {
        if !s {
            waiting.push(c);
        }
    }
    for mut c in waiting {
        assert!(
            echoes(&mut c, Duration::from_secs(5)),
            "not served after fds freed"
        );
        drop(c);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the server did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "server failed: {status}\n{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("corio: accept"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one log line, got:\n{err}");
    assert!(lines[0].contains("Too many open files"), "{}", lines[0]);
}
