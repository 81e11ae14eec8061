//! Cancellation of `corio::sync` waiters: a waiter cancelled right after it was handed
//! something (a message, a lock, a wake-up, permits) either returns it (the operation
//! completed before the cancel reached it: the coroutine unwinds at its next suspension) or
//! passes it on, so nothing is lost and no other waiter is stranded. Each test pins down one
//! race on one worker, where the order is deterministic: the partner completes the hand-off,
//! then the waiter is cancelled before it runs again. Each checks conservation whichever
//! outcome the join reports.

mod util;
use util::watchdog;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corio::select;
use corio::sync::channel::{bounded, SendError};
use corio::sync::{Condvar, Mutex, RwLock, Semaphore};

const LIMIT: Duration = Duration::from_secs(20);

fn one_worker<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    watchdog(LIMIT, move || {
        let rt = corio::Builder::new().workers(1).build().unwrap();
        rt.block_on(f)
    })
}

/// Lets every other ready coroutine of the (single) worker run until it parks.
fn let_others_park() {
    for _ in 0..8 {
        corio::yield_now();
    }
}

/// `Some(value)` if the task ran to its end, `None` if it was cancelled; panics otherwise.
fn outcome<T>(r: Result<T, corio::task::JoinError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if e.is_cancelled() => None,
        Err(_) => panic!("the task panicked"),
    }
}

fn assert_cancelled<T: std::fmt::Debug>(r: Result<T, corio::task::JoinError>) {
    match r {
        Err(e) => assert!(e.is_cancelled(), "expected a cancellation, got {e}"),
        Ok(v) => panic!("expected a cancellation, got {v:?}"),
    }
}

/// Issue 10 item 1: `send` returned `Ok` (the message went straight to the parked receiver),
/// then the receiver was cancelled before it ran: the message must still be receivable.
fn handed_message_survives_receiver_cancel(cap: usize) {
    one_worker(move || {
        let (tx, rx) = bounded::<u32>(cap);
        let rx2 = rx.clone();
        let r = corio::spawn(move || rx2.recv());
        let_others_park();
        tx.send(42).unwrap();
        r.cancel();
        match outcome(r.join()) {
            Some(got) => assert_eq!((got, rx.try_recv().ok()), (Ok(42), None)),
            None => assert_eq!(rx.try_recv(), Ok(42), "an Ok send was lost (cap {cap})"),
        }
    });
}

#[test]
fn rendezvous_message_survives_receiver_cancel() {
    handed_message_survives_receiver_cancel(0);
}

#[test]
fn buffered_channel_message_survives_receiver_cancel() {
    handed_message_survives_receiver_cancel(8);
}

/// Item 1 through `select!`: the receive arm was chosen, then the selecting coroutine was
/// cancelled.
#[test]
fn handed_message_survives_select_cancel() {
    one_worker(|| {
        let (tx, rx) = bounded::<u32>(0);
        let (_tx_other, rx_other) = bounded::<u32>(0);
        let rx2 = rx.clone();
        let r = corio::spawn(move || {
            select! {
                recv(rx2) -> m => m.ok(),
                recv(rx_other) -> _m => None,
            }
        });
        let_others_park();
        tx.send(7).unwrap();
        r.cancel();
        match outcome(r.join()) {
            Some(got) => assert_eq!((got, rx.try_recv().ok()), (Some(7), None)),
            None => assert_eq!(rx.try_recv(), Ok(7), "an Ok send was lost through select"),
        }
    });
}

/// The handed-on message goes to the next parked receiver, not only to the buffer.
#[test]
fn handed_message_goes_to_the_next_receiver() {
    one_worker(|| {
        let (tx, rx) = bounded::<u32>(0);
        let (rx_a, rx_b) = (rx.clone(), rx.clone());
        let a = corio::spawn(move || rx_a.recv());
        let_others_park();
        let b = corio::spawn(move || rx_b.recv());
        let_others_park();
        tx.send(1).unwrap(); // to `a`, the first in line
        a.cancel();
        match outcome(a.join()) {
            Some(got) => {
                assert_eq!(got, Ok(1));
                drop(tx);
                assert!(b.join().unwrap().is_err(), "one message, received once");
            }
            None => assert_eq!(b.join().unwrap(), Ok(1)),
        }
    });
}

/// Issue 10 item 2: main unlocks and at once cancels the woken waiter A; B must still get
/// the (free) lock.
#[test]
fn mutex_waiter_cancelled_after_wake_passes_it_on() {
    one_worker(|| {
        let m = Arc::new(Mutex::new(0));
        let g = m.lock();
        let (ma, mb) = (m.clone(), m.clone());
        let a = corio::spawn(move || *ma.lock() += 1);
        let b = corio::spawn(move || *mb.lock() += 10);
        let_others_park();
        drop(g); // wakes A ("retry")
        a.cancel();
        let a_ran = outcome(a.join()).is_some();
        b.join().unwrap();
        assert_eq!(*m.lock(), if a_ran { 11 } else { 10 });
        assert!(!m.is_locked(), "the mutex ended locked");
    });
}

/// Item 2's shape for `Semaphore`: a large request at the front is cancelled; the small one
/// behind it fits and must be served.
#[test]
fn semaphore_front_waiter_cancel_serves_the_next() {
    one_worker(|| {
        let sem = Arc::new(Semaphore::new(0));
        let (sa, sb) = (sem.clone(), sem.clone());
        let a = corio::spawn(move || sa.acquire_many(5).forget());
        let_others_park();
        let b = corio::spawn(move || sb.acquire().forget());
        let_others_park();
        sem.release(3); // not enough for A, enough for B (which queues behind A)
        a.cancel();
        assert_cancelled(a.join());
        b.join().unwrap();
        assert_eq!(sem.available_permits(), 2);
    });
}

/// Item 2's shape for `Semaphore`: permits granted to a waiter that is then cancelled go
/// back.
#[test]
fn semaphore_granted_permits_of_cancelled_waiter_return() {
    one_worker(|| {
        let sem = Arc::new(Semaphore::new(0));
        let sa = sem.clone();
        let a = corio::spawn(move || sa.acquire_many(2).forget());
        let_others_park();
        sem.release(2); // granted to A
        a.cancel();
        let kept = outcome(a.join()).is_some(); // A forgets the permits it got
        assert_eq!(sem.available_permits(), if kept { 0 } else { 2 });
    });
}

/// Item 2's shape for `RwLock`: a queued writer is cancelled while readers hold the lock;
/// the readers queued behind it must enter now (they would not wait behind a reader).
#[test]
fn rwlock_cancelled_writer_admits_readers_behind_it() {
    one_worker(|| {
        let l = Arc::new(RwLock::new(0));
        let r0 = l.read();
        let (lw, lr) = (l.clone(), l.clone());
        let w = corio::spawn(move || *lw.write() += 1);
        let_others_park();
        let r = corio::spawn(move || *lr.read());
        let_others_park();
        w.cancel();
        assert_cancelled(w.join());
        assert_eq!(r.join().unwrap(), 0); // while we still hold `r0`
        drop(r0);
        assert!(l.try_write().is_some());
    });
}

/// Item 2's shape for `RwLock`: a writer granted the lock and then cancelled releases it.
#[test]
fn rwlock_granted_then_cancelled_writer_releases() {
    one_worker(|| {
        let l = Arc::new(RwLock::new(0));
        let r0 = l.read();
        let (lw, lr) = (l.clone(), l.clone());
        let w = corio::spawn(move || *lw.write() += 1);
        let_others_park();
        let r = corio::spawn(move || *lr.read());
        let_others_park();
        drop(r0); // grants the writer
        w.cancel();
        let wrote = outcome(w.join()).is_some();
        assert_eq!(r.join().unwrap(), if wrote { 1 } else { 0 });
        assert!(l.try_write().is_some());
    });
}

/// Item 2's shape for `Condvar`: a notified waiter that is cancelled hands the notification
/// to the next waiter.
#[test]
fn condvar_notification_of_cancelled_waiter_passes_on() {
    one_worker(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let spawn_waiter = |p: Arc<(Mutex<bool>, Condvar)>| {
            corio::spawn(move || {
                let g = p.1.wait_while(p.0.lock(), |go| !*go);
                assert!(*g);
            })
        };
        let a = spawn_waiter(pair.clone());
        let_others_park();
        let b = spawn_waiter(pair.clone());
        let_others_park();
        *pair.0.lock() = true;
        pair.1.notify_one(); // to A
        a.cancel();
        if outcome(a.join()).is_some() {
            // A's wait returned before the cancel reached it: it used the notification.
            pair.1.notify_one();
        } // else A passed it on to B
        b.join().unwrap();
    });
}

/// A message whose destructor panics (after noting it ran). It owns no heap memory, so
/// the messages leaked after the first panic leak nothing (ASan stays clean).
struct Bomb(&'static AtomicBool);

impl Drop for Bomb {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
        panic!("Bomb dropped");
    }
}

/// Issue 10 item 8: dropping the last receiver drops the buffered messages; when their
/// destructors panic, the first panic propagates and the rest leak (no abort).
#[test]
fn panicking_message_destructors_do_not_abort() {
    static FIRST: AtomicBool = AtomicBool::new(false);
    static SECOND: AtomicBool = AtomicBool::new(false);
    let (tx, rx) = bounded::<Bomb>(2);
    assert!(tx.send(Bomb(&FIRST)).is_ok());
    assert!(tx.send(Bomb(&SECOND)).is_ok());
    drop(tx);
    let r = panic::catch_unwind(AssertUnwindSafe(move || drop(rx)));
    assert!(r.is_err(), "the destructor's panic propagates");
    assert!(FIRST.load(Ordering::SeqCst));
    assert!(!SECOND.load(Ordering::SeqCst), "the rest leak");
}

/// Item 8: a blocked sender is woken (with its message back) before buffered messages are
/// dropped, so a panicking destructor cannot strand it.
#[test]
fn blocked_sender_is_woken_before_buffered_messages_drop() {
    one_worker(|| {
        let (tx, rx) = bounded::<Result<Bomb, u32>>(1);
        static DROPPED: AtomicBool = AtomicBool::new(false);
        assert!(tx.send(Ok(Bomb(&DROPPED))).is_ok());
        let s = corio::spawn(move || matches!(tx.send(Err(5)), Err(SendError(Err(5)))));
        let_others_park();
        let r = panic::catch_unwind(AssertUnwindSafe(move || drop(rx)));
        assert!(r.is_err());
        assert!(s.join().unwrap(), "the sender gets its message back");
    });
}

/// The cancel is what woke the parked sender, but before the sender runs a receiver takes its
/// value: the send completed, so it returns `Ok` (the cancel comes at its next suspension),
/// and a value a receiver got is never reported unsent. The same for a select's send arm.
#[test]
fn a_cancel_that_loses_the_race_to_a_receiver_leaves_the_send_ok() {
    one_worker(|| {
        let (tx, rx) = bounded::<u32>(0);
        let returned_ok = Arc::new(AtomicBool::new(false));
        let flag = returned_ok.clone();
        let s = corio::spawn(move || {
            let r = tx.send(5);
            flag.store(r.is_ok(), Ordering::SeqCst);
            corio::yield_now(); // the next suspension: the cancel unwinds here
            unreachable!("cancelled at the yield");
        });
        let_others_park();
        s.cancel(); // the sender is parked: the cancel is its only wake
        assert_eq!(rx.try_recv(), Ok(5), "the sender's value is still linked");
        assert_cancelled(s.join());
        assert!(
            returned_ok.load(Ordering::SeqCst),
            "delivered, yet the send failed"
        );
    });
    one_worker(|| {
        let (tx, rx) = bounded::<u32>(0);
        let (_tx2, rx2) = bounded::<u32>(0);
        let s = corio::spawn(move || {
            select! {
                send(tx, 6) -> r => r.is_ok(),
                recv(rx2) -> _ => false,
            }
        });
        let_others_park();
        s.cancel();
        assert_eq!(rx.try_recv(), Ok(6));
        assert_eq!(
            s.join().ok(),
            Some(true),
            "the select returns its completed send"
        );
    });
}

/// A cancelled waiter whose operation nobody completed still unwinds at once from the wait
/// (the cancel is taken as a spurious wake, the wait gives up under its lock, then unwinds).
#[test]
fn a_cancel_of_a_parked_sender_unwinds_it_and_keeps_the_value_unsent() {
    one_worker(|| {
        let (tx, rx) = bounded::<u32>(0);
        let s = corio::spawn(move || tx.send(9));
        let_others_park();
        s.cancel();
        assert_cancelled(s.join());
        assert!(
            rx.try_recv().is_err(),
            "the cancelled send left nothing behind"
        );
    });
}
