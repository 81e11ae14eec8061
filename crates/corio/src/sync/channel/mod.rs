//! Multi-producer multi-consumer channels, like Go's and crossbeam-channel's: [`bounded`]
//! (`bounded(0)` is a rendezvous, like Go's unbuffered channel), [`unbounded`], and
//! [`select!`](crate::select!) / [`Select`] over several operations.
//!
//! A blocked `send`/`recv` parks the coroutine (its worker runs others meanwhile), or the
//! thread when called outside a coroutine — so coroutines and plain threads can talk both
//! ways over the same channel.
//!
//! ```
//! use corio::sync::channel;
//!
//! let sum = corio::run(|| {
//!     let (tx, rx) = channel::bounded(0); // rendezvous
//!     for i in 0..4u64 {
//!         let tx = tx.clone();
//!         corio::spawn(move || tx.send(i).unwrap());
//!     }
//!     drop(tx); // the loop below ends once every sender is gone
//!     rx.iter().sum::<u64>()
//! });
//! assert_eq!(sum, 6);
//! ```
//!
//! # Disconnection
//! When the last [`Sender`] drops, receivers drain what is buffered and then get
//! [`RecvError`]; when the last [`Receiver`] drops, sends fail at once with the message back
//! ([`SendError`]) and buffered messages are dropped.
//!
//! # Costs
//! A channel is one `Arc`: a short spin lock around a ring buffer and two FIFO queues of
//! blocked operations. A bounded channel allocates its ring once (messages are never
//! allocated), and blocking allocates nothing: the waiting operation lives on the waiter's
//! stack. A send that meets a blocked receiver hands the message straight into the
//! receiver's slot and wakes it.
//!
//! # Threads and the deadlock report
//! A plain thread that talks to coroutines should hold a [`Handle`](crate::Handle) while it
//! does: otherwise the runtime, seeing every coroutine parked, may report a deadlock.

mod chan;
mod error;
mod ops;
mod plain;
mod select;
mod selector;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use error::{
    RecvError, RecvTimeoutError, SelectTimeoutError, SendError, SendTimeoutError, TryRecvError,
    TrySelectError, TrySendError,
};
#[doc(hidden)]
pub use select::{AsReceiver, AsSender};
pub use select::{Select, SelectedOperation};

use crate::loom::Ordering;
use chan::{Chan, Received, Sent};
use plain::Failed;

/// A channel that holds at most `cap` messages; `send` blocks while it is full.
/// `bounded(0)` is a rendezvous channel: each `send` waits for a `recv` to take the message.
///
/// ```
/// use corio::sync::channel::{bounded, TrySendError};
/// let (tx, rx) = bounded(1);
/// tx.send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        cap < usize::MAX,
        "bounded channel capacity must be below usize::MAX"
    );
    pair(Chan::new(cap))
}

/// A channel without a capacity limit: `send` never blocks.
///
/// ```
/// let (tx, rx) = corio::sync::channel::unbounded();
/// for i in 0..3 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    pair(Chan::new(usize::MAX))
}

fn pair<T>(chan: Chan<T>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(chan);
    (Sender { chan: chan.clone() }, Receiver { chan })
}

fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// The sending side of a channel. Clone it for more producers; the channel disconnects for
/// receivers when the last clone drops.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `msg`, waiting while the channel is full (or, for `bounded(0)`, until a receiver
    /// takes it). Fails with the message if every receiver is gone.
    ///
    /// `Ok` means a receiver got the message or it is still receivable, also if that
    /// receiver is then cancelled. If the sending coroutine is cancelled while it waits, the
    /// message may or may not have been delivered (see [cancellation](crate::sync#cancellation)).
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        self.chan.send_wait(msg, None).map_err(|(m, why)| {
            debug_assert!(matches!(why, Failed::Disconnected));
            SendError(m)
        })
    }

    /// Sends `msg` if that can be done without waiting.
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        crate::rt::coop::consume(); // a polling loop must not starve its worker
        match self.chan.try_send(msg, std::ptr::null()) {
            Sent::Done(wake) => {
                if let Some(w) = wake {
                    w.wake();
                }
                Ok(())
            }
            Sent::Full(m) => Err(TrySendError::Full(m)),
            Sent::Disconnected(m) => Err(TrySendError::Disconnected(m)),
        }
    }

    /// Like [`send`](Self::send), giving up after `timeout`.
    ///
    /// ```
    /// use corio::sync::channel::{bounded, SendTimeoutError};
    /// use std::time::Duration;
    /// corio::run(|| {
    ///     let (tx, _rx) = bounded(0); // nobody receives
    ///     let r = tx.send_timeout(7, Duration::from_millis(5));
    ///     assert_eq!(r, Err(SendTimeoutError::Timeout(7)));
    /// });
    /// ```
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(msg, deadline_after(timeout))
    }

    /// Like [`send`](Self::send), giving up at `deadline`.
    pub fn send_deadline(&self, msg: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(msg, Some(deadline))
    }

    fn send_until(&self, msg: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        self.chan
            .send_wait(msg, deadline)
            .map_err(|(m, why)| match why {
                Failed::Disconnected => SendTimeoutError::Disconnected(m),
                Failed::TimedOut => SendTimeoutError::Timeout(m),
            })
    }

    /// Messages waiting in the buffer (0 for a rendezvous channel).
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full (always true for a rendezvous channel).
    pub fn is_full(&self) -> bool {
        self.chan.capacity().is_some_and(|c| self.len() >= c)
    }

    /// The capacity; `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }

    /// Whether `self` and `other` send into the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        // Relaxed: we hold a sender, so the count is at least 1 and cannot reach 0 meanwhile.
        self.chan.sender_count.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last dropper must see every other sender's drop before disconnecting
        // (the disconnect itself is ordered by the channel lock).
        if self.chan.sender_count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.disconnect_senders();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

/// The receiving side of a channel. Clone it for more consumers (each message goes to one);
/// the channel disconnects for senders when the last clone drops.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Receiver<T> {
    /// Runs `hook` once every receiver of the channel is gone (see `Chan::when_receivers_gone`).
    pub(crate) fn when_receivers_gone(&self, hook: impl FnOnce() + Send + 'static) {
        self.chan.when_receivers_gone(Box::new(hook));
    }

    /// Receives a message, waiting until one is there. Fails once the channel is empty and
    /// every sender is gone.
    ///
    /// Cancel-safe: if the coroutine is cancelled while it waits, no message is lost (one
    /// already handed to it is passed on; see [cancellation](crate::sync#cancellation)).
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan.recv_wait(None).map_err(|why| {
            debug_assert!(matches!(why, Failed::Disconnected));
            RecvError
        })
    }

    /// Receives a message if one is there now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        crate::rt::coop::consume(); // as in `try_send`
        match self.chan.try_recv(std::ptr::null()) {
            Received::Done(m, wake) => {
                if let Some(w) = wake {
                    w.wake();
                }
                Ok(m)
            }
            Received::Empty => Err(TryRecvError::Empty),
            Received::Disconnected => Err(TryRecvError::Disconnected),
        }
    }

    /// Like [`recv`](Self::recv), giving up after `timeout`.
    ///
    /// ```
    /// use corio::sync::channel::{unbounded, RecvTimeoutError};
    /// use std::time::Duration;
    /// let (_tx, rx) = unbounded::<i32>();
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(5)), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(deadline_after(timeout))
    }

    /// Like [`recv`](Self::recv), giving up at `deadline`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        self.chan.recv_wait(deadline).map_err(|why| match why {
            Failed::Disconnected => RecvTimeoutError::Disconnected,
            Failed::TimedOut => RecvTimeoutError::Timeout,
        })
    }

    /// A blocking iterator: yields messages until the channel is empty and disconnected.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// A non-blocking iterator: yields the messages there right now.
    ///
    /// ```
    /// let (tx, rx) = corio::sync::channel::unbounded();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]); // tx is alive: does not block
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Messages waiting in the buffer.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full (always true for a rendezvous channel), as
    /// [`Sender::is_full`].
    ///
    /// ```
    /// let (tx, rx) = corio::sync::channel::bounded(1);
    /// assert!(!rx.is_full());
    /// tx.send(1).unwrap();
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.capacity().is_some_and(|c| self.len() >= c)
    }

    /// The capacity; `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }

    /// Whether `self` and `other` receive from the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        // Relaxed: as in `Sender::clone`.
        self.chan.receiver_count.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // AcqRel: as in `Sender::drop`.
        if self.chan.receiver_count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.disconnect_receivers();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

/// A blocking iterator over received messages; see [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// A non-blocking iterator over received messages; see [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// An owning blocking iterator; see [`Receiver`]'s `IntoIterator`.
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
