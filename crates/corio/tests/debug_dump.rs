//! `debug::dump`: every live coroutine, its state and the frames where it waits.

mod util;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::debug::{State, WaitTarget};
use corio::sync::channel;

#[inline(never)]
fn waits_for_a_message(rx: channel::Receiver<u32>) -> u32 {
    rx.recv().unwrap_or(0)
}

#[inline(never)]
fn sleeps_a_while() -> u32 {
    corio::time::sleep(Duration::from_secs(3600));
    std::hint::black_box(1) // not a tail call: this frame stays on the stack
}

/// Polls `rt.dump()` until `f` holds for it.
fn dump_until(rt: &corio::Runtime, f: impl Fn(&corio::debug::Dump) -> bool) -> corio::debug::Dump {
    loop {
        let d = rt.dump();
        if f(&d) {
            return d;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn parked_coroutines_are_listed_with_state_and_own_frames() {
    util::watchdog(Duration::from_secs(60), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        let (tx, rx) = channel::unbounded::<u32>();
        let receiver = rt.spawn(move || waits_for_a_message(rx));
        let sleeper = corio::task::Builder::new().name("sleeper");
        let sleeper = {
            let _g = rt.enter();
            sleeper.spawn(sleeps_a_while)
        };
        let d = dump_until(&rt, |d| d.coroutines.len() == 2);
        let rid = receiver.id().as_u64();
        let r = d.get(rid).expect("the receiver is listed");
        assert_eq!(r.state, State::Parked("chan receive"), "{d}");
        assert!(
            r.frames.iter().any(|f| f.contains("waits_for_a_message")),
            "{d}"
        );
        let s = d
            .coroutines
            .iter()
            .find(|c| c.name.as_deref() == Some("sleeper"))
            .expect("the sleeper is listed");
        assert_eq!(s.state, State::Parked("sleep"), "{d}");
        assert!(s.frames.iter().any(|f| f.contains("sleeps_a_while")), "{d}");
        // Spawned here (`#[track_caller]` through `Builder::spawn` and `Runtime::spawn`).
        assert!(
            s.spawned_at.as_deref().unwrap().contains("debug_dump.rs"),
            "{d}"
        );
        assert!(
            r.spawned_at.as_deref().unwrap().contains("debug_dump.rs"),
            "{d}"
        );
        assert!(d.to_string().contains("created by spawn at "), "{d}");
        let text = d.to_string();
        assert!(
            text.contains(&format!("coroutine {} \"sleeper\" [sleep, 59m", s.id)),
            "{text}"
        );
        // The sleep's deadline is about an hour away ("59m59s left" in the text).
        match s.waiting_on {
            Some(WaitTarget::Until(at)) => {
                assert!(at > Instant::now() + Duration::from_secs(3000), "{d}")
            }
            other => panic!("the sleeper waits for its deadline, not {other:?}: {d}"),
        }
        // The dump woke nothing: the receiver still waits, and gets its message.
        tx.send(7).unwrap();
        assert_eq!(receiver.join().unwrap(), 7);
        sleeper.cancel();
    });
}

#[test]
fn dump_works_while_another_worker_is_busy_and_from_a_coroutine() {
    util::watchdog(Duration::from_secs(60), || {
        let rt = corio::Builder::new()
            .workers(2)
            .stall_threshold(None)
            .build()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let hog = rt.spawn(move || {
            let start = Instant::now();
            while !s.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(30) {
                std::hint::spin_loop();
            }
        });
        let hog_id = hog.id().as_u64();
        // Wait until the hog runs.
        dump_until(&rt, |d| d.busy_workers.len() == 1);
        let d = rt.block_on(move || {
            let (_tx, rx) = channel::unbounded::<u32>();
            let parked = corio::spawn(move || waits_for_a_message(rx));
            corio::time::sleep(Duration::from_millis(10));
            let d = corio::debug::dump();
            parked.cancel();
            (d, parked.id().as_u64())
        });
        stop.store(true, Ordering::Relaxed);
        hog.join().unwrap();
        let (d, parked) = d;
        let hog = d.get(hog_id).expect("the busy worker's coroutine is named");
        assert_eq!(hog.state, State::Running, "{d}");
        let me = d
            .coroutines
            .iter()
            .find(|c| c.name.as_deref() == Some("main"))
            .expect("the dumping coroutine is listed");
        assert_eq!(me.state, State::Running, "{d}");
        assert_eq!(
            d.get(parked).unwrap().state,
            State::Parked("chan receive"),
            "{d}"
        );
    });
}

/// What the frames cannot say: the fd of an IO wait, the task a join waits for, and how
/// long each has been parked.
#[test]
fn parked_entries_say_which_fd_or_task_and_for_how_long() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    util::watchdog(Duration::from_secs(60), || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        let listener = rt
            .block_on(|| corio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (fd_tx, fd_rx) = std::sync::mpsc::channel();
        let reader = rt.spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            fd_tx.send(conn.as_raw_fd()).unwrap();
            let mut buf = [0u8; 8];
            conn.read(&mut buf).unwrap()
        });
        let client = std::net::TcpStream::connect(addr).unwrap();
        let fd = fd_rx.recv().unwrap();
        let sleeper = rt.spawn(sleeps_a_while);
        let sleeper_id = sleeper.id().as_u64();
        let joiner = rt.spawn(move || sleeper.join().is_err());
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(400));
        let d = dump_until(&rt, |d| d.coroutines.len() == 3);
        let waited = start.elapsed();

        let r = d.get(reader.id().as_u64()).expect("the reader is listed");
        assert_eq!(r.state, State::Parked("IO wait"), "{d}");
        assert_eq!(r.waiting_on, Some(WaitTarget::Read(fd)), "{d}");
        let j = d.get(joiner.id().as_u64()).expect("the joiner is listed");
        assert_eq!(j.state, State::Parked("join"), "{d}");
        assert_eq!(j.waiting_on, Some(WaitTarget::Task(sleeper_id)), "{d}");
        for c in [r, j] {
            let p = c.parked_for.expect("parked entries say for how long");
            // Parked since shortly after `start`; the coarse clock only overstates.
            assert!(
                p >= Duration::from_millis(300) && p <= waited + Duration::from_secs(1),
                "{p:?}: {d}"
            );
        }
        let text = d.to_string();
        assert!(
            text.contains(&format!("[IO wait, fd {fd} read, ")),
            "{text}"
        );
        assert!(
            text.contains(&format!("[join, task {sleeper_id}, ")),
            "{text}"
        );

        drop(client); // the reader's read returns 0
        assert_eq!(reader.join().unwrap(), 0);
        joiner.cancel(); // the sleeper, detached then, is cancelled when `rt` drops
        assert!(joiner.join().unwrap_err().is_cancelled());
    });
}
