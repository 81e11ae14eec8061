//! Failure paths of the runtime itself: a panic during cancellation, destructors that run
//! during a cancel or a shutdown, spawning after the runtime is gone, dropping a runtime from
//! inside, tasks that cannot get a stack. Each case once lost a coroutine, a worker or the
//! whole process; cases that must end the process run in a child process.

mod util;

use std::panic::{self, AssertUnwindSafe};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use util::watchdog;

const LIMIT: Duration = Duration::from_secs(20);

fn one_worker() -> corio::Runtime {
    corio::Builder::new().workers(1).build().unwrap()
}

/// Whether this process is a child started by [`run_child`].
fn in_child() -> bool {
    std::env::var_os("CORIO_TEST_CHILD").is_some()
}

/// Runs test `name` of this binary in a child process and returns its output; the child is
/// killed if it hangs.
fn run_child(name: &str) -> Output {
    let out = Command::new("timeout")
        .arg("20")
        .arg(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("CORIO_TEST_CHILD", "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(124), "child {name} hung: {out:?}");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs test `name` in a child process ([`run_child`]) and checks that it exits successfully
/// and that its stderr says each of `lines`.
fn child_succeeds_saying(name: &str, lines: &[&str]) {
    let out = run_child(name);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for line in lines {
        assert!(err.contains(line), "missing {line:?} in: {err}");
    }
}

// ----- 3: a panic during cancellation ends at the join; the worker lives on ----------------

#[test]
fn panic_after_catching_the_cancellation_reaches_the_join() {
    watchdog(LIMIT, || {
        one_worker().block_on(|| {
            let h = corio::spawn(|| {
                let caught = panic::catch_unwind(|| {
                    corio::time::sleep(Duration::from_secs(3600));
                });
                assert!(caught.is_err(), "the cancel unwinds the sleep");
                panic!("boom while cancelled");
            });
            corio::time::sleep(Duration::from_millis(5));
            h.cancel();
            let err = h.join().unwrap_err();
            assert_eq!(
                *err.into_panic().downcast::<&str>().unwrap(),
                "boom while cancelled"
            );
            // The worker (the only one, which also runs this main coroutine) is alive.
            assert_eq!(corio::spawn(|| 7).join().unwrap(), 7);
        })
    });
}

#[test]
fn a_coroutine_that_handles_its_cancellation_may_wait_again_and_return() {
    watchdog(LIMIT, || {
        one_worker().block_on(|| {
            let h = corio::spawn(|| {
                let caught = panic::catch_unwind(|| {
                    corio::time::sleep(Duration::from_secs(3600));
                });
                assert!(caught.is_err());
                // Delivered once: later waits work as usual.
                corio::time::sleep(Duration::from_millis(1));
                corio::yield_now();
                42
            });
            corio::time::sleep(Duration::from_millis(5));
            h.cancel();
            assert_eq!(h.join().unwrap(), 42);
        })
    });
}

// ----- 4: destructors during a cancel run as the coroutine -------------------------------

struct OnDrop<F: FnMut()>(F);
impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

#[test]
fn destructors_of_a_cancelled_coroutine_see_it_as_current() {
    watchdog(LIMIT, || {
        one_worker().block_on(|| {
            let seen = Arc::new(StdMutex::new(None));
            let s = seen.clone();
            let h = corio::spawn(move || {
                let _g = OnDrop(move || {
                    *s.lock().unwrap() = Some(corio::task::current().id());
                });
                corio::time::sleep(Duration::from_secs(3600));
            });
            let id = h.id();
            corio::time::sleep(Duration::from_millis(5));
            h.cancel();
            assert!(h.join().unwrap_err().is_cancelled());
            assert_eq!(*seen.lock().unwrap(), Some(id));
        })
    });
}

#[test]
fn a_destructor_of_a_cancelled_coroutine_may_wait_for_a_lock() {
    // A pooled connection goes back to its pool in `Drop`, under a corio Mutex that another
    // coroutine of the same (only) worker holds: the destructor must park the coroutine, not
    // block the worker thread.
    watchdog(LIMIT, || {
        one_worker().block_on(|| {
            let pool = Arc::new(corio::sync::Mutex::new(Vec::new()));
            let held = pool.lock();
            let p = pool.clone();
            let h = corio::spawn(move || {
                let _conn = OnDrop(move || p.lock().push("conn"));
                corio::time::sleep(Duration::from_secs(3600));
            });
            corio::time::sleep(Duration::from_millis(5));
            h.cancel();
            for _ in 0..10 {
                corio::yield_now(); // the cancelled coroutine reaches its destructor and waits
            }
            assert!(!h.is_finished(), "its destructor is waiting for the lock");
            drop(held);
            assert!(h.join().unwrap_err().is_cancelled());
            assert_eq!(*pool.lock(), vec!["conn"]);
        })
    });
}

#[test]
fn a_cancel_is_delivered_once_even_if_a_destructor_waits() {
    watchdog(LIMIT, || {
        one_worker().block_on(|| {
            let (tx, rx) = corio::sync::channel::bounded::<u32>(0);
            let got = Arc::new(AtomicUsize::new(0));
            let g = got.clone();
            let h = corio::spawn(move || {
                let _g = OnDrop(move || {
                    // Waits inside the unwind, as a coroutine (the worker runs main
                    // meanwhile): it neither unwinds again nor returns early.
                    let v = rx.recv().unwrap();
                    corio::time::sleep(Duration::from_millis(1));
                    g.fetch_add(v as usize, Ordering::SeqCst);
                });
                corio::time::sleep(Duration::from_secs(3600));
            });
            corio::time::sleep(Duration::from_millis(5));
            h.cancel();
            h.cancel(); // twice: still one delivery
            corio::yield_now();
            tx.send(5).unwrap();
            assert!(h.join().unwrap_err().is_cancelled());
            assert_eq!(got.load(Ordering::SeqCst), 5);
        })
    });
}

#[test]
fn a_destructor_that_panics_during_a_cancel_aborts_with_both_messages() {
    // Rust aborts on a panic while unwinding; corio cannot catch it. Documented on `cancel`.
    if in_child() {
        one_worker().block_on(|| {
            let h = corio::spawn(|| {
                let _g = OnDrop(|| panic!("destructor panicked during cancel"));
                corio::time::sleep(Duration::from_secs(3600));
            });
            corio::time::sleep(Duration::from_millis(5));
            h.cancel();
            let _ = h.join();
        });
        return;
    }
    let out = run_child("a_destructor_that_panics_during_a_cancel_aborts_with_both_messages");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("destructor panicked during cancel"),
        "{out:?}"
    );
}

#[test]
fn cancelling_a_coroutine_whose_destructor_waits_during_a_panic_does_not_abort() {
    // The coroutine is already unwinding (its own panic) when the cancel comes, inside a
    // destructor that waits: a second unwind there would abort the process. The cancel is
    // held back, the destructor's waits finish, and the join reports the panic.
    if in_child() {
        one_worker().block_on(|| {
            let (tx, rx) = corio::sync::channel::bounded::<u32>(0);
            let (started_tx, started_rx) = corio::sync::channel::bounded::<()>(1);
            let h = corio::spawn(move || {
                let _g = OnDrop(move || {
                    started_tx.send(()).unwrap();
                    corio::time::sleep(Duration::from_millis(20)); // a plain park
                    assert_eq!(rx.recv(), Ok(7)); // a wait that settles interrupts
                    eprintln!("destructor finished");
                });
                panic!("first panic");
            });
            started_rx.recv().unwrap(); // the destructor runs, as part of the unwind
            h.cancel();
            corio::time::sleep(Duration::from_millis(40));
            h.cancel(); // again, while it waits in `recv`
            corio::time::sleep(Duration::from_millis(5));
            tx.send(7).unwrap();
            let err = h.join().unwrap_err();
            assert!(err.is_panic(), "{err}");
            eprintln!("joined: panic");
        });
        return;
    }
    child_succeeds_saying(
        "cancelling_a_coroutine_whose_destructor_waits_during_a_panic_does_not_abort",
        &["destructor finished", "joined: panic"],
    );
}

/// std counts panics per thread, so while coroutine A's destructor waits in the middle of
/// A's unwind, the whole worker thread counts as panicking. A coroutine that parked before
/// that is still cancelled at once (its park was noted as not unwinding): A's destructor here
/// waits for exactly that. One that parks during A's unwind has its cancel held back until
/// A's unwind ends, and then gets it: nothing is lost.
#[test]
fn a_cancel_is_not_held_up_by_another_coroutines_unwind() {
    watchdog(LIMIT, || {
        one_worker().block_on(|| {
            let (gone_tx, gone_rx) = corio::sync::channel::bounded::<()>(0);
            let before = corio::spawn(move || {
                let _g = OnDrop(move || {
                    let _ = gone_tx.send(());
                });
                corio::time::sleep(Duration::from_secs(3600));
            });
            let (a_started_tx, a_started_rx) = corio::sync::channel::bounded::<()>(1);
            let a = corio::spawn(move || {
                let _g = OnDrop(move || {
                    a_started_tx.send(()).unwrap();
                    // Mid-unwind: waits until the other coroutine's cancellation went through.
                    assert_eq!(gone_rx.recv(), Ok(()));
                });
                corio::time::sleep(Duration::from_secs(3600));
            });
            corio::time::sleep(Duration::from_millis(5));
            a.cancel();
            a_started_rx.recv().unwrap();
            let during = corio::spawn(|| corio::time::sleep(Duration::from_secs(3600)));
            corio::time::sleep(Duration::from_millis(5));
            during.cancel();
            before.cancel();
            assert!(before.join().unwrap_err().is_cancelled());
            assert!(a.join().unwrap_err().is_cancelled());
            assert!(during.join().unwrap_err().is_cancelled());
        })
    });
}

/// A held cancellation is retried by a timer for as long as the unwind lasts, but that timer
/// can wake nothing while the unwind goes on: a destructor that waits forever mid-unwind is a
/// deadlock, and the report says so instead of the program hanging in silence. (Main may not
/// wait again once reported, so it ends the destructor's wait without waiting, and returns.)
#[test]
fn a_destructor_that_waits_forever_during_a_panic_is_reported_as_a_deadlock() {
    if in_child() {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        one_worker().block_on(move || {
            let (release_tx, release_rx) = corio::sync::channel::bounded::<()>(0);
            let (started_tx, started_rx) = corio::sync::channel::bounded::<()>(1);
            let h = corio::spawn(move || {
                let _g = OnDrop(move || {
                    started_tx.send(()).unwrap();
                    // Mid-unwind, waits for a sender that main holds while it joins.
                    assert!(release_rx.recv().is_err());
                    done_tx.send(()).unwrap();
                });
                panic!("first panic");
            });
            started_rx.recv().unwrap();
            h.cancel(); // held back: the coroutine is unwinding
            let report = panic::catch_unwind(AssertUnwindSafe(|| h.join()));
            let payload = report.expect_err("expected the deadlock report");
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            assert!(msg.contains("deadlock"), "{msg}");
            eprintln!("reported");
            drop(release_tx);
        });
        // Nothing was lost: the ended wait let the unwind finish.
        done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        eprintln!("destructor finished");
        return;
    }
    child_succeeds_saying(
        "a_destructor_that_waits_forever_during_a_panic_is_reported_as_a_deadlock",
        &["reported", "destructor finished"],
    );
}

/// The other side of the rule above: once the unwind that held a cancellation back has ended,
/// the retry timer is what delivers it, so it counts as a wake-up source again. Here the held
/// coroutine waits where nothing else would ever wake it, and main joins it.
#[test]
fn a_cancel_held_by_an_unwind_that_has_ended_is_not_a_deadlock() {
    watchdog(LIMIT, || {
        one_worker().block_on(|| {
            let (a_started_tx, a_started_rx) = corio::sync::channel::bounded::<()>(1);
            let (release_tx, release_rx) = corio::sync::channel::bounded::<()>(0);
            let a = corio::spawn(move || {
                let _g = OnDrop(move || {
                    a_started_tx.send(()).unwrap();
                    assert!(release_rx.recv().is_err()); // mid-unwind until main lets go
                });
                panic!("first panic");
            });
            a_started_rx.recv().unwrap();
            // Parks during A's unwind, in a wait that nothing will end (a park may return
            // spuriously, so it parks again).
            let during = corio::spawn(|| loop {
                corio::task::park();
            });
            corio::time::sleep(Duration::from_millis(5));
            during.cancel(); // held back until A's unwind ends
            corio::time::sleep(Duration::from_millis(5)); // (it takes the cancel now)
            drop(release_tx);
            assert!(a.join().unwrap_err().is_panic());
            assert!(during.join().unwrap_err().is_cancelled());
        })
    });
}

#[test]
fn a_destructor_that_waits_forever_during_shutdown_is_left_behind() {
    // At shutdown nothing may wait (no coroutine will run again to wake it). This wait is in
    // a destructor that the shutdown's cancellation runs, inside an unwind, where a panic
    // would abort the process: the coroutine is left behind (its stack leaked), its join
    // says so, and the process goes on.
    if in_child() {
        let rt = one_worker();
        let (tx, rx) = corio::sync::channel::bounded::<()>(0);
        let h = rt.block_on(move || {
            let (started_tx, started_rx) = corio::sync::channel::bounded::<()>(1);
            let h = corio::spawn(move || {
                let _g = OnDrop(move || {
                    let _ = rx.recv();
                });
                started_tx.send(()).unwrap();
                corio::time::sleep(Duration::from_secs(3600));
            });
            // Started, so shutdown cancels it (an unstarted task would just be dropped).
            started_rx.recv().unwrap();
            h
        });
        drop(rt); // the destructor above would wait for `tx` forever
        let err = h.join().unwrap_err();
        assert!(err.is_panic(), "{err}");
        // The receiver's waiter, on the leaked stack, is still linked in the channel:
        // disconnecting wakes it into the dead runtime, harmlessly.
        drop(tx);
        // The process is healthy: a new runtime runs, and its panics are caught as usual.
        assert!(!std::thread::panicking());
        let rt = one_worker();
        let caught = rt.block_on(|| corio::spawn(|| panic!("second")).join());
        assert!(caught.unwrap_err().is_panic());
        eprintln!("process goes on");
        return;
    }
    child_succeeds_saying(
        "a_destructor_that_waits_forever_during_shutdown_is_left_behind",
        &["was still waiting inside an unwind", "process goes on"],
    );
}

#[test]
fn a_coroutine_that_waits_at_shutdown_after_catching_its_cancellation_gets_a_clear_panic() {
    // Not inside an unwind (it caught the cancellation, then waited): the wait panics with a
    // message that says why, the coroutine unwinds as usual, and the drop returns.
    if in_child() {
        let rt = one_worker();
        let (tx, rx) = corio::sync::channel::bounded::<()>(0);
        let h = rt.block_on(move || {
            let (started_tx, started_rx) = corio::sync::channel::bounded::<()>(1);
            let h = corio::spawn(move || {
                started_tx.send(()).unwrap();
                let caught = panic::catch_unwind(|| {
                    corio::time::sleep(Duration::from_secs(3600));
                });
                assert!(caught.is_err(), "cancelled by the shutdown");
                let _ = rx.recv(); // nothing will ever send
            });
            started_rx.recv().unwrap();
            h
        });
        drop(rt);
        let err = h.join().unwrap_err();
        assert!(err.is_panic(), "{err}");
        drop(tx);
        eprintln!("dropped");
        return;
    }
    child_succeeds_saying(
        "a_coroutine_that_waits_at_shutdown_after_catching_its_cancellation_gets_a_clear_panic",
        &["runtime is shutting down", "dropped"],
    );
}

// ----- 5: spawning after the runtime is gone fails fast ----------------------------------

#[test]
fn spawn_through_a_handle_after_the_runtime_is_dropped_is_cancelled_at_once() {
    watchdog(LIMIT, || {
        let rt = one_worker();
        let handle = rt.handle();
        drop(rt);
        let h = handle.spawn(|| 1);
        assert!(h.join().unwrap_err().is_cancelled());
    });
}

#[test]
fn spawn_under_an_enter_guard_after_the_runtime_is_dropped_is_cancelled_at_once() {
    watchdog(LIMIT, || {
        let rt = one_worker();
        let _guard = rt.enter();
        drop(rt);
        let h = corio::spawn(|| 1);
        assert!(h.join().unwrap_err().is_cancelled());
    });
}

#[test]
fn spawns_racing_the_drop_all_end() {
    watchdog(LIMIT, || {
        for _ in 0..50 {
            let rt = corio::Builder::new().workers(2).build().unwrap();
            let handle = rt.handle();
            let spawner = std::thread::spawn(move || {
                (0..200)
                    .map(|i| handle.spawn(move || i))
                    .collect::<Vec<_>>()
            });
            drop(rt);
            for h in spawner.join().unwrap() {
                match h.join() {
                    Ok(_) => {}
                    Err(e) => assert!(e.is_cancelled()),
                }
            }
        }
    });
}

// ----- 7: dropping a runtime from inside one of its coroutines ---------------------------

#[test]
fn dropping_a_runtime_inside_its_own_coroutine_is_a_clear_error() {
    watchdog(LIMIT, || {
        let rt = corio::Builder::new().workers(2).build().unwrap();
        let slot: Arc<StdMutex<Option<corio::Runtime>>> = Arc::new(StdMutex::new(None));
        let s = slot.clone();
        let h = rt.spawn(move || loop {
            if let Some(rt) = s.lock().unwrap().take() {
                drop(rt);
                return;
            }
            corio::yield_now();
        });
        *slot.lock().unwrap() = Some(rt);
        let msg = h.join().unwrap_err().to_string();
        assert!(
            msg.contains("inside one of its own coroutines"),
            "unexpected payload: {msg:?}"
        );
    });
}

// ----- helpers used by the child-process cases -------------------------------------------

#[allow(dead_code)]
fn catch<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    panic::catch_unwind(AssertUnwindSafe(f))
}

// ----- 6: tasks that cannot get a stack are reported, not lost silently -------------------

#[test]
fn tasks_that_cannot_start_are_reported_once_and_counted() {
    if in_child() {
        // No stack of this size can be mapped (more than the address space).
        let rt = corio::Builder::new()
            .workers(1)
            .stack_size(1 << 50)
            .build()
            .unwrap();
        for i in 0..100 {
            drop(rt.spawn(move || i)); // detached: nobody would see the error
        }
        let last = rt.spawn(|| 0);
        let err = last.join().unwrap_err();
        assert!(err.is_panic());
        let msg = err.to_string();
        assert!(msg.contains("cannot create a coroutine"), "{msg}");
        return;
    }
    let out = run_child("tasks_that_cannot_start_are_reported_once_and_counted");
    assert!(out.status.success(), "{out:?}");
    let err = stderr(&out);
    let reports = err.matches("could not start so far").count();
    assert_eq!(reports, 1, "one report within a second: {err}");
    assert!(err.contains("cannot create a coroutine"), "{err}");
}

// ----- 4 (cont.): a task cancelled before it started has no coroutine ----------------------

#[test]
fn a_wait_in_the_destructor_of_a_never_started_task_fails_instead_of_blocking_the_worker() {
    watchdog(LIMIT, || {
        one_worker().block_on(|| {
            let guard = OnDrop(corio::task::park); // would block the worker thread for good
            let h = corio::spawn(move || {
                let _g = guard;
            });
            h.cancel(); // one worker, main has not suspended: the task has not started
            let err = h.join().unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("outside any coroutine"), "{msg:?}");
            assert_eq!(corio::spawn(|| 3).join().unwrap(), 3, "the worker lives on");
        })
    });
}

// ----- 1 (kernel side): a wait that completed before the cancel keeps its result ---------

#[test]
fn a_sender_whose_value_was_taken_before_the_cancel_keeps_its_ok() {
    watchdog(LIMIT, || {
        one_worker().block_on(|| {
            let (tx, rx) = corio::sync::channel::bounded::<u32>(0);
            let h = corio::spawn(move || tx.send(9).is_ok());
            corio::yield_now(); // the sender parks in `send`
            assert_eq!(rx.recv().unwrap(), 9); // takes the value and wakes the sender
            h.cancel(); // before the sender runs again
            assert!(
                h.join().unwrap(),
                "send returned Ok and the task ran to its end"
            );
        })
    });
}

#[test]
fn a_cancelled_wait_that_did_not_complete_unwinds_at_once() {
    watchdog(LIMIT, || {
        one_worker().block_on(|| {
            let (tx, rx) = corio::sync::channel::bounded::<u32>(0);
            let after = Arc::new(AtomicUsize::new(0));
            let a = after.clone();
            let h = corio::spawn(move || {
                let r = rx.recv();
                a.fetch_add(1, Ordering::SeqCst); // must not run: the recv never completed
                r
            });
            corio::yield_now(); // the receiver parks in `recv`
            h.cancel();
            assert!(h.join().unwrap_err().is_cancelled());
            assert_eq!(after.load(Ordering::SeqCst), 0);
            drop(tx);
        })
    });
}
