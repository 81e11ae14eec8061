//! `corio::signal`: raised signals arrive on the channel, in `select!`, to every subscriber,
//! and to a main coroutine parked waiting for one (not reported as a deadlock). Each test uses
//! its own signal, since the tests share the process.

mod util;

use std::time::Duration;

use corio::signal::{signals, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH};
use corio::sync::channel;
use util::watchdog;

fn raise(sig: libc::c_int) {
    // SAFETY: raise sends `sig` to the calling thread; every test installs a handler first.
    assert_eq!(unsafe { libc::raise(sig) }, 0);
}

#[test]
fn a_raised_signal_arrives() {
    watchdog(Duration::from_secs(30), || {
        corio::run(|| {
            let sigs = signals([SIGUSR1]).unwrap();
            raise(SIGUSR1);
            assert_eq!(sigs.recv().unwrap(), SIGUSR1);
        })
    });
}

#[test]
fn signals_work_in_select() {
    watchdog(Duration::from_secs(30), || {
        corio::run(|| {
            let sigs = signals([SIGUSR2]).unwrap();
            let (_tx, never) = channel::bounded::<()>(0);
            corio::spawn(|| raise(SIGUSR2));
            corio::select! {
                recv(sigs) -> sig => assert_eq!(sig.unwrap(), SIGUSR2),
                recv(never) -> _ => unreachable!(),
            }
        })
    });
}

#[test]
fn every_subscriber_gets_the_signal() {
    watchdog(Duration::from_secs(30), || {
        corio::run(|| {
            let a = signals([SIGWINCH]).unwrap();
            let b = signals([SIGWINCH]).unwrap();
            raise(SIGWINCH);
            assert_eq!(a.recv().unwrap(), SIGWINCH);
            assert_eq!(b.recv().unwrap(), SIGWINCH);
        })
    });
}

/// The main coroutine parks in `recv` with nothing else to run; the signal comes from a plain
/// thread. The forwarding thread's runtime handle keeps the deadlock report silent.
#[test]
fn a_parked_main_coroutine_waits_for_a_signal() {
    watchdog(Duration::from_secs(30), || {
        corio::run(|| {
            let sigs = signals([SIGHUP]).unwrap();
            std::thread::spawn(|| {
                // Usually lets main park first (not asserted: either order must work).
                std::thread::sleep(Duration::from_millis(50));
                raise(SIGHUP);
            });
            assert_eq!(sigs.recv().unwrap(), SIGHUP);
        })
    });
}

#[test]
fn unhandleable_signals_are_refused() {
    for sig in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV] {
        let err = signals([SIGUSR1, sig]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
    let sigs = signals([SIGUSR1]).unwrap();
    assert!(sigs.add_signal(libc::SIGKILL).is_err());
}
