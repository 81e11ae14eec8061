//! loom models of the "no lost wake-up" arguments: channel hand-off, disconnection, and
//! mutex unlock/lock; and of the cancellation races: a waiter cancelled just as it is handed
//! a message or woken passes it on. `wake_handle.rs` makes every waiter a loom thread (and models
//! a cancellation as an unwind out of `park`), so these drive the real channel and mutex
//! code. Run with (see the module docs of `sync`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p corio --lib --release sync::loom_tests
//! ```
//!
//! A lost wake-up shows up as a loom deadlock ("all threads blocked"), a data race or a
//! wrong value as a failed assertion.

use loom::sync::Arc;
use loom::thread;

use super::channel::{bounded, RecvError, SendError};
use super::wake_handle::{cancel_token, cancellable};
use super::Mutex;

/// loom_rendezvous_send_recv: a rendezvous send and receive always meet, whichever of them
/// blocks first, and the message arrives intact.
#[test]
fn loom_rendezvous_send_recv() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || tx.send(7));
        assert_eq!(rx.recv(), Ok(7));
        assert_eq!(t.join().unwrap(), Ok(()));
    });
}

/// loom_bounded_full_then_recv: a sender blocked on a full one-slot channel is woken by the
/// receive that makes room, and FIFO order holds.
#[test]
fn loom_bounded_full_then_recv() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1);
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        t.join().unwrap();
    });
}

/// loom_close_wakes_receiver: dropping the last sender wakes a blocked receiver, which then
/// gets the message sent before (if any) and then `RecvError`.
#[test]
fn loom_close_wakes_receiver() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1);
        let t = thread::spawn(move || {
            tx.send(5).unwrap();
            drop(tx);
        });
        assert_eq!(rx.recv(), Ok(5));
        assert_eq!(rx.recv(), Err(RecvError));
        t.join().unwrap();
    });
}

/// loom_close_wakes_sender: dropping the last receiver wakes a blocked rendezvous sender,
/// which gets its message back.
#[test]
fn loom_close_wakes_sender() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || drop(rx));
        assert_eq!(tx.send(3), Err(SendError(3)));
        t.join().unwrap();
    });
}

/// loom_mutex_unlock_lock: two threads increment under the mutex; the second always gets
/// the lock (no lost wake-up between "unlock" and "queue"), and both increments count.
#[test]
fn loom_mutex_unlock_lock() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0u32));
        let m2 = m.clone();
        let t = thread::spawn(move || *m2.lock() += 1);
        *m.lock() += 1;
        t.join().unwrap();
        assert_eq!(*m.lock(), 2);
    });
}

/// loom_mutex_three_threads: a queued waiter and a barging newcomer around one unlock.
#[test]
fn loom_mutex_three_threads() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(2);
    b.check(|| {
        let m = Arc::new(Mutex::new(0u32));
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || *m.lock() += 1)
            })
            .collect();
        *m.lock() += 1;
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*m.lock(), 3);
    });
}

/// loom_cancelled_receiver_passes_on: a receiver parked on a rendezvous channel is cancelled
/// while a sender hands it a message. Whichever comes first, the message is received exactly
/// once: by the receiver (not cancelled in time), or, passed on, by the next receiver.
#[test]
fn loom_cancelled_receiver_passes_on() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let (token, cancel) = cancel_token();
        let rx2 = rx.clone();
        let r = thread::spawn(move || cancellable(token, || rx2.recv()));
        let s = thread::spawn(move || tx.send(7));
        cancel(r.thread());
        let got = r.join().unwrap();
        match got {
            Some(m) => assert_eq!(m, Ok(7)),
            // Cancelled: the message was passed on (or never handed): it is ours now.
            None => assert_eq!(rx.recv(), Ok(7)),
        }
        assert_eq!(s.join().unwrap(), Ok(()));
    });
}

/// loom_cancelled_select_receiver_passes_on: the same through a two-arm select.
#[test]
fn loom_cancelled_select_receiver_passes_on() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(|| {
        let (tx, rx) = bounded::<u32>(1);
        let (_tx2, rx2) = bounded::<u32>(0);
        let (token, cancel) = cancel_token();
        let rx1 = rx.clone();
        let r = thread::spawn(move || {
            cancellable(token, || {
                let mut sel = super::channel::Select::new();
                let a = sel.recv(&rx1);
                sel.recv(&rx2);
                let op = sel.select();
                assert_eq!(op.index(), a);
                op.recv(&rx1)
            })
        });
        tx.send(7).unwrap();
        cancel(r.thread());
        match r.join().unwrap() {
            Some(m) => assert_eq!(m, Ok(7)),
            None => assert_eq!(rx.try_recv(), Ok(7)),
        }
    });
}

/// loom_mutex_retry_wake_vs_cancel: main unlocks (waking the first waiter to retry) and
/// cancels that waiter; the other waiter still gets the lock.
#[test]
fn loom_mutex_retry_wake_vs_cancel() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(2);
    b.check(|| {
        let m = Arc::new(Mutex::new(0u32));
        let g = m.lock();
        let (token, cancel) = cancel_token();
        let ma = m.clone();
        let a = thread::spawn(move || cancellable(token, || *ma.lock() += 1));
        let mb = m.clone();
        let b = thread::spawn(move || *mb.lock() += 10);
        drop(g);
        cancel(a.thread());
        let a_done = a.join().unwrap().is_some();
        b.join().unwrap();
        assert_eq!(*m.lock(), if a_done { 11 } else { 10 });
    });
}

/// loom_cancelled_sender_reports_what_it_delivered: a sender parked on a rendezvous channel
/// is cancelled while a receiver takes its value. The send returns `Ok` exactly when the value
/// was received: a cancel that loses the race to the receiver leaves the send completed, and
/// one that wins unwinds with the value unsent (the receiver then sees the channel closed).
#[test]
fn loom_cancelled_sender_reports_what_it_delivered() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let (token, cancel) = cancel_token();
        let s = thread::spawn(move || cancellable(token, || tx.send(7).is_ok()));
        let r = thread::spawn(move || rx.recv().ok());
        cancel(s.thread());
        let sent_ok = s.join().unwrap() == Some(true);
        let received = r.join().unwrap() == Some(7);
        assert_eq!(sent_ok, received);
    });
}
