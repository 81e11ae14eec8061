//! Timer channels in `select!` (`after`, `tick`, `never`) and `Interval`.

mod util;

use std::time::{Duration, Instant};

use corio::sync::channel::{self, RecvError, TryRecvError};
use corio::time::{after, interval, interval_at, never, tick, MissedTickBehavior};
use util::watchdog;

fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    watchdog(Duration::from_secs(30), || corio::run(f))
}

#[test]
fn after_fires_in_select_and_never_early() {
    run(|| {
        let (_tx, rx) = channel::unbounded::<u32>();
        let start = Instant::now();
        let d = Duration::from_millis(10);
        let timeout = after(d);
        corio::select! {
            recv(rx) -> _ => unreachable!("nobody sends"),
            recv(timeout) -> at => assert!(at.unwrap() >= start + d),
        }
        assert!(start.elapsed() >= d);
    });
}

#[test]
fn a_ready_message_beats_a_later_after() {
    run(|| {
        let (tx, rx) = channel::unbounded();
        let timeout = after(Duration::from_secs(60));
        corio::spawn(move || tx.send(7).unwrap());
        corio::select! {
            recv(rx) -> m => assert_eq!(m, Ok(7)),
            recv(timeout) -> _ => unreachable!("the message comes first"),
        }
    });
}

#[test]
fn after_sends_once_then_disconnects() {
    run(|| {
        let rx = after(Duration::from_millis(1));
        assert!(rx.recv().is_ok());
        assert_eq!(rx.recv(), Err(RecvError));
    });
}

#[test]
fn tick_ticks_in_select_and_drops_missed_ticks() {
    run(|| {
        let ticks = tick(Duration::from_millis(2));
        let (_tx, rx) = channel::unbounded::<()>();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            corio::select! {
                recv(ticks) -> t => seen.push(t.unwrap()),
                recv(rx) -> _ => unreachable!(),
            }
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        // A slow reader finds at most one tick waiting, not a backlog.
        corio::time::sleep(Duration::from_millis(20));
        assert!(ticks.len() <= 1);
    });
}

/// Once its receiver is dropped the ticker coroutine ends (at its next tick): then nothing
/// can wake the parked main coroutine, and the deadlock report proves the ticker is gone.
#[test]
fn a_dropped_tick_receiver_ends_its_coroutine() {
    let payload = watchdog(Duration::from_secs(30), || {
        std::panic::catch_unwind(|| {
            corio::run(|| {
                let ticks = tick(Duration::from_millis(1));
                ticks.recv().unwrap();
                drop(ticks);
                corio::task::park();
            })
        })
        .unwrap_err()
    });
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(msg.contains("deadlock"), "{msg}");
}

#[test]
fn never_is_empty_and_connected() {
    run(|| {
        let nothing = never::<String>();
        assert_eq!(nothing.try_recv(), Err(TryRecvError::Empty));
        let soon = after(Duration::from_millis(2));
        corio::select! {
            recv(nothing) -> _ => unreachable!("never delivers"),
            recv(soon) -> at => assert!(at.is_ok()),
        }
        // An optional arm switched off with `never`.
        let maybe: Option<channel::Receiver<u8>> = std::hint::black_box(None);
        let arm = maybe.unwrap_or_else(never);
        corio::select! {
            recv(arm) -> _ => unreachable!(),
            default => {}
        }
    });
}

#[test]
fn interval_ticks_on_schedule() {
    run(|| {
        let period = Duration::from_millis(3);
        let start = Instant::now();
        let mut every = interval_at(start, period);
        let due: Vec<Instant> = (0..4).map(|_| every.tick()).collect();
        assert_eq!(due, (0..4).map(|k| start + period * k).collect::<Vec<_>>());
        assert!(Instant::now() >= start + period * 3);
    });
}

#[test]
fn interval_missed_ticks() {
    run(|| {
        let period = Duration::from_millis(2);
        for behavior in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            let mut every = interval(period);
            every.set_missed_tick_behavior(behavior);
            let first = every.tick();
            corio::time::sleep(period * 5); // miss several ticks
            let late = every.tick();
            assert_eq!(late, first + period); // the missed tick is returned at once
            let next = every.tick();
            // The late tick came at least 5 periods after the first (timers never fire early).
            match behavior {
                MissedTickBehavior::Burst => assert_eq!(next, first + period * 2),
                MissedTickBehavior::Delay => assert!(next >= first + period * 6),
                MissedTickBehavior::Skip => {
                    assert!(next >= first + period * 6);
                    assert_eq!((next - first).as_nanos() % period.as_nanos(), 0);
                }
            }
        }
    });
}

#[test]
fn after_works_on_a_plain_thread() {
    let rx = after(Duration::from_millis(1));
    assert!(rx.recv().is_ok());
}

/// A pending `after` is a timer and a small task, not a parked coroutine: ten thousand of
/// them whose receivers are dropped at once leave no live coroutine (no stack) behind for
/// their hour, and the ones kept still fire, each once, never early.
#[test]
fn pending_afters_hold_no_coroutine() {
    run(|| {
        let live = || corio::Handle::current().metrics().live_coroutines;
        let before = live();
        for _ in 0..10_000 {
            drop(after(Duration::from_secs(3600)));
        }
        // Give anything spawned a chance to start (and so to count) before looking.
        corio::time::sleep(Duration::from_millis(5));
        assert_eq!(live(), before, "pending afters must not be coroutines");
        // Made after the count, so that none of them can be firing (running) while it is read.
        let start = Instant::now();
        let kept: Vec<_> = (0..100).map(|_| after(Duration::from_millis(20))).collect();
        for rx in kept {
            let at = rx.recv().expect("a kept after fires");
            assert!(at >= start + Duration::from_millis(20), "fired early");
            assert_eq!(rx.recv(), Err(RecvError), "one message, then disconnected");
        }
    });
}

/// The `select!`-in-a-loop pattern: each turn makes an `after` and drops it when another arm
/// wins. The dropped ones take their timers back, so the wheel holds only the live one,
/// however far off the deadline; a clone keeps the timer until the last receiver goes; one
/// dropped on another thread fires harmlessly at its deadline.
#[test]
fn dropped_afters_take_their_timers_back() {
    run(|| {
        let pending = || -> u64 {
            let m = corio::Handle::current().metrics();
            m.per_worker.iter().map(|w| w.timers).sum()
        };
        let before = pending();
        let (tx, rx) = channel::bounded::<u32>(1);
        for i in 0..20_000 {
            tx.send(i).unwrap();
            corio::select! {
                recv(rx) -> m => assert_eq!(m, Ok(i)),
                recv(after(Duration::from_secs(3600))) -> _ => unreachable!("an hour passed"),
            }
        }
        assert_eq!(pending(), before, "every dropped after took its timer back");

        let a = after(Duration::from_secs(3600));
        let b = a.clone();
        assert_eq!(pending(), before + 1);
        drop(a);
        assert_eq!(pending(), before + 1, "a clone still waits for it");
        drop(b);
        assert_eq!(pending(), before);

        // Dropped on a plain thread: the timer stays, fires, and nothing breaks.
        let far = after(Duration::from_millis(20));
        std::thread::spawn(move || drop(far)).join().unwrap();
        assert_eq!(pending(), before + 1);
        corio::time::sleep(Duration::from_millis(40));
        assert_eq!(pending(), before);
        // And a kept one still fires after all that.
        assert!(after(Duration::from_millis(2)).recv().is_ok());
    });
}

/// A dropped `tick` takes its pending timer back too (before, it stayed for one more period,
/// keeping the deadlock report silent that long), however many ticks it has sent. One
/// worker, so that no tick fires (and no timer moves to another worker's wheel) while the
/// test counts.
#[test]
fn dropped_ticks_take_their_timers_back() {
    let rt = corio::Builder::new().workers(1).build().unwrap();
    watchdog(Duration::from_secs(30), move || {
        rt.block_on(|| {
            let pending = || -> u64 {
                let m = corio::Handle::current().metrics();
                m.per_worker.iter().map(|w| w.timers).sum()
            };
            let before = pending();
            for _ in 0..1000 {
                drop(tick(Duration::from_secs(3600)));
            }
            assert_eq!(pending(), before, "every dropped tick took its timer back");
            let ticks = tick(Duration::from_millis(1));
            let copy = ticks.clone();
            for _ in 0..3 {
                ticks.recv().unwrap();
            }
            drop(ticks);
            assert_eq!(pending(), before + 1, "a clone still ticks");
            copy.recv().unwrap();
            drop(copy);
            assert_eq!(pending(), before);
        })
    });
}

/// An `after` made on a plain thread that entered a runtime (`Runtime::enter`: a runtime
/// context but no worker, so no wheel) falls back to a coroutine of that runtime and fires.
#[test]
fn after_from_a_thread_entered_into_a_runtime_fires() {
    let rt = corio::Builder::new().workers(1).build().unwrap();
    let _guard = rt.enter();
    let rx = after(Duration::from_millis(5));
    assert!(rx.recv_timeout(Duration::from_secs(10)).is_ok());
}

/// A `tick` is a timer between its ticks, not a sleeping coroutine: a thousand tickers add
/// no live coroutine, and a fast one made beside them still ticks, never early.
#[test]
fn tickers_hold_no_coroutine_between_ticks() {
    run(|| {
        let live = || corio::Handle::current().metrics().live_coroutines;
        let before = live();
        let slow: Vec<_> = (0..1000).map(|_| tick(Duration::from_secs(3600))).collect();
        // Give anything spawned a chance to start (and so to count) before looking.
        corio::time::sleep(Duration::from_millis(5));
        assert_eq!(live(), before, "pending ticks must not be coroutines");
        // Made after the count, so that no tick of it can be running while it is read.
        let start = Instant::now();
        let fast = tick(Duration::from_millis(3));
        for k in 1..=4 {
            let t = fast.recv().unwrap();
            // The k-th tick is due k periods after the start at the earliest.
            assert!(
                t >= start + k * Duration::from_millis(3),
                "tick {k} came early"
            );
        }
        drop(slow);
    });
}
