//! Timer channels (`after`, `tick`, `never`) and `Interval`. An `after` is a task that waits
//! unstarted on its worker's timer wheel and sends when the timer fires (`rt::timer::run_at`);
//! a `tick` is a chain of such tasks, each sending one tick and setting the next timer.
//! Re-exported from [`crate::time`].

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::rt::{has_wheel, run_at, RunAt};
use crate::sync::channel::{self, Receiver, Sender, TrySendError};
use crate::time::sleep_until;

/// A receiver that gets one message, the [`Instant`] it was sent, once `duration` has passed
/// — crossbeam's `after` and Go's `time.After`, for [`select!`](crate::select) timeouts.
///
/// ```
/// use std::time::Duration;
/// use corio::sync::channel;
///
/// corio::run(|| {
///     let (_tx, rx) = channel::unbounded::<u32>();
///     let timeout = corio::time::after(Duration::from_millis(5));
///     corio::select! {
///         recv(rx) -> _ => unreachable!("nobody sends"),
///         recv(timeout) -> at => assert!(at.is_ok()),
///     }
/// });
/// ```
///
/// After its message the channel is *disconnected* (a second `recv` returns `Err(RecvError)`
/// at once), whereas crossbeam's stays empty for ever: keep a fired `after` out of later
/// `select!`s, or make a new one.
///
/// # Cost
/// Inside a coroutine: a timer on the worker's wheel and a small task (about 150 bytes, no
/// stack) until the deadline; the task gets a coroutine only to send, when the timer fires.
/// Dropping the receiver (every clone of it) before then takes the timer back and frees
/// the task, if it is dropped on the worker that made it (in the coroutine that made it,
/// say: the usual `select!` in a loop); dropped anywhere else, the timer stays until its
/// deadline. On a thread that is not a worker but has entered a runtime
/// (`Runtime::enter`): a coroutine of that runtime that sleeps until the deadline; outside
/// any runtime, a thread. For a timeout on every turn of a hot loop, `select!`'s
/// `default(timeout)` arm is cheaper still (no channel, no task).
#[track_caller]
pub fn after(duration: Duration) -> Receiver<Instant> {
    let Some(deadline) = Instant::now().checked_add(duration) else {
        return never();
    };
    let (tx, rx) = channel::bounded(1);
    let send = move || {
        let _ = tx.try_send(Instant::now()); // the only message: never full
    };
    match run_at(deadline, send) {
        // Dropped unfired (a `select!` that took another arm): take the timer back.
        Ok(timer) => rx.when_receivers_gone(move || timer.cancel()),
        Err(send) => spawn_timer(move || {
            sleep_until(deadline);
            send();
        }),
    }
    rx
}

/// A receiver that gets the current [`Instant`] every `period`, starting one `period` from
/// now — crossbeam's `tick` and Go's `time.Tick`. It holds at most one tick: ticks the
/// receiver has not taken in time are dropped, so a slow reader never sees a backlog. The
/// channel never disconnects.
///
/// ```
/// use std::time::Duration;
///
/// corio::run(|| {
///     let ticks = corio::time::tick(Duration::from_millis(2));
///     let stop = corio::time::after(Duration::from_secs(10));
///     let mut n = 0;
///     loop {
///         corio::select! {
///             recv(ticks) -> t => { t.unwrap(); n += 1; if n == 3 { break; } }
///             recv(stop) -> _ => panic!("three ticks take longer than 10 s?"),
///         }
///     }
/// });
/// ```
///
/// # Cost
/// Inside a coroutine: one timer on the worker's wheel for as long as the receiver lives;
/// each tick is a small task that sends and sets the next timer (no coroutine or stack
/// waits in between). Dropping the receiver (every clone of it) takes the pending timer
/// back, if it is dropped on the worker that holds that timer (as for [`after`]); anywhere
/// else, the next tick finds the receiver gone and sets none. While a tick is pending, the
/// deadlock report of its runtime stays silent (a tick is always coming). On a thread that
/// is not a worker: a coroutine of the entered runtime that sleeps from tick to tick;
/// outside any runtime, a thread.
///
/// # Panics
/// If `period` is zero.
pub fn tick(period: Duration) -> Receiver<Instant> {
    assert!(
        !period.is_zero(),
        "corio::time::tick: the period must not be zero"
    );
    let (tx, rx) = channel::bounded(1);
    if has_wheel() {
        let pending = PendingTick::default();
        next_tick(tx, Instant::now(), period, pending.clone());
        rx.when_receivers_gone(move || {
            let timer = pending.lock().unwrap().take();
            if let Some(timer) = timer {
                timer.cancel();
            }
        });
    } else {
        spawn_timer(move || ticker(tx, period));
    }
    rx
}

/// The timer of a tick chain's next tick, for the receiver's end to take back.
type PendingTick = Arc<Mutex<Option<RunAt>>>;

/// Sets a timer on this worker's wheel for the tick after `last`: a task that sends it and
/// then sets the one after, until the receiver is gone. The timer goes in `pending`.
fn next_tick(tx: Sender<Instant>, last: Instant, period: Duration, pending: PendingTick) {
    let Some(at) = last.checked_add(period) else {
        return;
    };
    let at = at.max(Instant::now()); // after a stall, no burst of ticks
    let slot = pending.clone();
    let fire = move || match tx.try_send(Instant::now()) {
        Ok(()) | Err(TrySendError::Full(_)) => next_tick(tx, at, period, slot),
        Err(TrySendError::Disconnected(_)) => {}
    };
    // `tick` checked for a wheel, and a fired tick runs on a worker: `fire` comes back only
    // if that is ever wrong, and is then dropped (the receiver sees the channel close).
    if let Ok(timer) = run_at(at, fire) {
        *pending.lock().unwrap() = Some(timer);
    }
}

/// A tick loop for a thread that is not a worker (see `tick`).
fn ticker(tx: Sender<Instant>, period: Duration) {
    let mut next = Instant::now();
    loop {
        next = match next.checked_add(period) {
            Some(next) => next.max(Instant::now()), // after a stall, no burst of ticks
            None => return,
        };
        sleep_until(next);
        match tx.try_send(Instant::now()) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

/// A receiver that never gets a message and never disconnects — crossbeam's `never`: an arm
/// of a [`select!`](crate::select) that is switched off (`maybe.unwrap_or_else(never)`).
///
/// All `never` receivers of one message type share one channel, whose sender lives for the
/// rest of the process (hence `T: Send + 'static`).
pub fn never<T: Send + 'static>() -> Receiver<T> {
    static NEVER: OnceLock<Mutex<HashMap<TypeId, Box<dyn Any + Send>>>> = OnceLock::new();
    let mut map = NEVER.get_or_init(Default::default).lock().unwrap();
    let pair = map
        .entry(TypeId::of::<T>())
        .or_insert_with(|| Box::new(channel::bounded::<T>(0)));
    let (_tx, rx) = pair
        .downcast_ref::<(Sender<T>, Receiver<T>)>()
        .expect("keyed by the message type");
    rx.clone()
}

/// Runs a timer's body as a coroutine of the current runtime, or on a thread outside one.
fn spawn_timer(body: impl FnOnce() + Send + 'static) {
    match crate::Handle::try_current() {
        Some(rt) => drop(rt.spawn(body)),
        None => drop(std::thread::spawn(body)),
    }
}
