//! [`Select`]: wait for the first of several channel operations; and the
//! [`select!`](crate::select!) macro built on it.

use std::fmt;
use std::time::{Duration, Instant};

use super::error::{RecvError, SelectTimeoutError, SendError, TrySelectError};
use super::ops::{self, Operation, RecvOp, SendOp, Timeout};
use super::{Receiver, Sender};

/// Waits on several send and receive operations and performs exactly one: the first that
/// can proceed, chosen at random among those ready at once (so no arm starves).
///
/// Like Go's `select`, and unlike crossbeam's, a send's message is given when the operation
/// is added (it is evaluated up front); if another operation is chosen the message is dropped
/// with the `Select`. A receive on a disconnected channel, and a send on a channel without
/// receivers, count as ready (they complete with an error).
///
/// ```
/// use corio::sync::channel::{unbounded, Select};
///
/// let (tx1, rx1) = unbounded::<i32>();
/// let (tx2, rx2) = unbounded::<&str>();
/// tx2.send("hi").unwrap();
///
/// let mut sel = Select::new();
/// let a = sel.recv(&rx1);
/// let b = sel.recv(&rx2);
/// let op = sel.select();
/// assert_eq!(op.index(), b);
/// assert_eq!(op.recv(&rx2), Ok("hi"));
/// # let _ = (a, tx1);
/// ```
///
/// Adding operations boxes them (one small allocation each); plain `send`/`recv` never
/// allocate.
pub struct Select<'a> {
    ops: Vec<Box<dyn Operation + 'a>>,
}

impl<'a> Select<'a> {
    /// An empty selection.
    pub fn new() -> Self {
        Select { ops: Vec::new() }
    }

    /// Adds a send of `msg` on `tx`; returns the operation's index.
    pub fn send<T>(&mut self, tx: &'a Sender<T>, msg: T) -> usize {
        self.ops.push(Box::new(SendOp::new(&tx.chan, msg)));
        self.ops.len() - 1
    }

    /// Adds a receive on `rx`; returns the operation's index.
    pub fn recv<T>(&mut self, rx: &'a Receiver<T>) -> usize {
        self.ops.push(Box::new(RecvOp::new(&rx.chan)));
        self.ops.len() - 1
    }

    /// Performs one operation, waiting until one can proceed.
    ///
    /// With no operations it waits forever (like Go's empty `select {}`).
    pub fn select(&mut self) -> SelectedOperation<'_, 'a> {
        let index = ops::run_select(&mut self.ops, Timeout::Never).expect("no deadline");
        SelectedOperation { sel: self, index }
    }

    /// Performs one operation if one can proceed right now.
    ///
    /// An error means there was an instant, during the call, at which no operation could
    /// proceed (the answer is linearizable), not merely that each was found unready at some
    /// point of a pass over them.
    pub fn try_select(&mut self) -> Result<SelectedOperation<'_, 'a>, TrySelectError> {
        match ops::run_select(&mut self.ops, Timeout::Now) {
            Some(index) => Ok(SelectedOperation { sel: self, index }),
            None => Err(TrySelectError),
        }
    }

    /// Like [`select`](Self::select), giving up after `timeout`.
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'_, 'a>, SelectTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(d) => self.select_deadline(d),
            None => Ok(self.select()),
        }
    }

    /// Like [`select`](Self::select), giving up at `deadline`.
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'_, 'a>, SelectTimeoutError> {
        match ops::run_select(&mut self.ops, Timeout::At(deadline)) {
            Some(index) => Ok(SelectedOperation { sel: self, index }),
            None => Err(SelectTimeoutError),
        }
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operations", &self.ops.len())
            .finish()
    }
}

/// The operation a [`Select`] performed. Read its result with [`recv`](Self::recv) or
/// [`send`](Self::send), passing the same channel end the operation was added with.
#[must_use = "the operation's result (a message or an error) is in here"]
pub struct SelectedOperation<'s, 'a> {
    sel: &'s mut Select<'a>,
    index: usize,
}

impl SelectedOperation<'_, '_> {
    /// The index the operation got when it was added.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The result of the performed receive.
    ///
    /// # Panics
    /// If the performed operation is not a receive on `rx`'s channel.
    pub fn recv<T>(self, rx: &Receiver<T>) -> Result<T, RecvError> {
        let op = &mut self.sel.ops[self.index];
        let chan = &*rx.chan as *const _ as *const ();
        assert!(
            op.id() == (chan, false),
            "SelectedOperation::recv called with a receiver that is not the selected operation's"
        );
        let p = op.result_ptr() as *mut Option<Result<T, RecvError>>;
        // SAFETY: `op.id()` proved the operation is a `RecvOp` on the very channel `rx`
        // shares (one live allocation holds one `Chan<T>`), so its result field has type
        // `Option<Result<T, RecvError>>`; `&mut self.sel` makes this the only access.
        unsafe { (*p).take() }.expect("a selected operation has a result")
    }

    /// The result of the performed send (the message back if every receiver was gone).
    ///
    /// # Panics
    /// If the performed operation is not a send on `tx`'s channel.
    pub fn send<T>(self, tx: &Sender<T>) -> Result<(), SendError<T>> {
        let op = &mut self.sel.ops[self.index];
        let chan = &*tx.chan as *const _ as *const ();
        assert!(
            op.id() == (chan, true),
            "SelectedOperation::send called with a sender that is not the selected operation's"
        );
        let p = op.result_ptr() as *mut Option<Result<(), SendError<T>>>;
        // SAFETY: as in `recv`: the operation is a `SendOp` on `tx`'s channel.
        unsafe { (*p).take() }.expect("a selected operation has a result")
    }
}

impl fmt::Debug for SelectedOperation<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}

/// Lets `select!` take a `Receiver` or a reference to one. Not public API.
#[doc(hidden)]
pub trait AsReceiver {
    /// The message type.
    type Item;
    /// The receiver.
    fn as_receiver(&self) -> &Receiver<Self::Item>;
}

impl<T> AsReceiver for Receiver<T> {
    type Item = T;
    fn as_receiver(&self) -> &Receiver<T> {
        self
    }
}

impl<R: AsReceiver + ?Sized> AsReceiver for &R {
    type Item = R::Item;
    fn as_receiver(&self) -> &Receiver<R::Item> {
        (**self).as_receiver()
    }
}

/// Lets `select!` take a `Sender` or a reference to one. Not public API.
#[doc(hidden)]
pub trait AsSender {
    /// The message type.
    type Item;
    /// The sender.
    fn as_sender(&self) -> &Sender<Self::Item>;
}

impl<T> AsSender for Sender<T> {
    type Item = T;
    fn as_sender(&self) -> &Sender<T> {
        self
    }
}

impl<S: AsSender + ?Sized> AsSender for &S {
    type Item = S::Item;
    fn as_sender(&self) -> &Sender<S::Item> {
        (**self).as_sender()
    }
}

/// Waits on several channel operations and runs the arm of the one performed — Go's
/// `select`, with crossbeam's syntax.
///
/// ```text
/// select! {
///     recv(rx) -> msg => body,          // msg: Result<T, RecvError>
///     send(tx, value) -> res => body,   // res: Result<(), SendError<T>>
///     default => body,                  // optional: run if nothing is ready now
///     default() => body,                // the same
///     default(timeout) => body,         // or: run if nothing was ready within `timeout`
/// }
/// ```
///
/// Channel expressions and send values are evaluated once, in order, before waiting (as in
/// Go); an unsent value is dropped. They may be temporaries (`recv(make_rx())`). Among arms
/// ready at once one is picked uniformly at random. A `default` arm runs only if there was
/// an instant at which no arm was ready (see [`Select::try_select`]).
/// Bodies are expressions (followed by `,`) or blocks. Built on [`Select`].
///
/// ```
/// use corio::sync::channel::{bounded, unbounded};
/// use std::time::Duration;
///
/// corio::run(|| {
///     let (tx, rx) = unbounded::<u32>();
///     let (stop_tx, stop_rx) = bounded::<()>(0);
///     corio::spawn(move || {
///         for i in 0..3 {
///             tx.send(i).unwrap();
///         }
///         stop_tx.send(()).unwrap(); // a rendezvous: returns once the loop took it
///     });
///     let mut got = Vec::new();
///     loop {
///         corio::select! {
///             recv(rx) -> m => got.push(m.unwrap()),
///             recv(stop_rx) -> s => { s.unwrap(); break; }
///             default(Duration::from_secs(5)) => panic!("timed out"),
///         }
///     }
///     got.extend(rx.try_iter()); // what was still buffered when `stop` won the race
///     assert_eq!(got, [0, 1, 2]);
/// });
/// ```
#[macro_export]
macro_rules! select {
    // ---- parsing: each step mints fresh `ch`/`idx` identifiers (macro hygiene) ----
    (@parse $arms:tt $def:tt) => {
        $crate::select!(@emit $arms $def)
    };
    (@parse $arms:tt $def:tt , $($rest:tt)*) => {
        $crate::select!(@parse $arms $def $($rest)*)
    };
    (@parse [$($arms:tt)*] $def:tt recv($r:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)* (recv ch idx ($r) ($res) $body)] $def $($rest)*)
    };
    (@parse [$($arms:tt)*] $def:tt recv($r:expr) -> $res:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($arms)* (recv ch idx ($r) ($res) $body)] $def $($($rest)*)?)
    };
    (@parse [$($arms:tt)*] $def:tt send($s:expr, $m:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)* (send ch idx msg ($s, $m) ($res) $body)] $def $($rest)*)
    };
    (@parse [$($arms:tt)*] $def:tt send($s:expr, $m:expr) -> $res:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($arms)* (send ch idx msg ($s, $m) ($res) $body)] $def $($($rest)*)?)
    };
    (@parse $arms:tt [] default() => $body:block $($rest:tt)*) => {
        $crate::select!(@parse $arms [(now) $body] $($rest)*)
    };
    (@parse $arms:tt [] default() => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse $arms [(now) $body] $($($rest)*)?)
    };
    (@parse $arms:tt [] default => $body:block $($rest:tt)*) => {
        $crate::select!(@parse $arms [(now) $body] $($rest)*)
    };
    (@parse $arms:tt [] default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse $arms [(now) $body] $($($rest)*)?)
    };
    (@parse $arms:tt [] default($t:expr) => $body:block $($rest:tt)*) => {
        $crate::select!(@parse $arms [(after $t) $body] $($rest)*)
    };
    (@parse $arms:tt [] default($t:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse $arms [(after $t) $body] $($($rest)*)?)
    };

    // ---- code generation ----
    (@emit [$($arm:tt)*] $def:tt) => {{
        // The channel expressions (temporaries included) are bound before the `Select`
        // that borrows them, so they outlive it.
        $( $crate::select!(@bind $arm); )*
        let mut __corio_sel = $crate::sync::channel::Select::new();
        $( $crate::select!(@register __corio_sel $arm); )*
        $crate::select!(@wait __corio_sel [$($arm)*] $def)
    }};
    (@bind (recv $ch:ident $idx:ident ($r:expr) $res:tt $body:tt)) => {
        let $ch = &$r;
    };
    (@bind (send $ch:ident $idx:ident $msg:ident ($s:expr, $m:expr) $res:tt $body:tt)) => {
        let $ch = &$s;
        let $msg = $m;
    };
    (@register $sel:ident (recv $ch:ident $idx:ident $args:tt $res:tt $body:tt)) => {
        let $idx = $sel.recv($crate::sync::channel::AsReceiver::as_receiver($ch));
    };
    (@register $sel:ident (send $ch:ident $idx:ident $msg:ident $args:tt $res:tt $body:tt)) => {
        let $idx = $sel.send($crate::sync::channel::AsSender::as_sender($ch), $msg);
    };
    (@wait $sel:ident $arms:tt []) => {{
        let __corio_op = $sel.select();
        $crate::select!(@dispatch __corio_op $arms)
    }};
    (@wait $sel:ident $arms:tt [(now) $body:tt]) => {
        match $sel.try_select() {
            ::std::result::Result::Ok(__corio_op) => $crate::select!(@dispatch __corio_op $arms),
            ::std::result::Result::Err(_) => $body,
        }
    };
    (@wait $sel:ident $arms:tt [(after $t:expr) $body:tt]) => {
        match $sel.select_timeout($t) {
            ::std::result::Result::Ok(__corio_op) => $crate::select!(@dispatch __corio_op $arms),
            ::std::result::Result::Err(_) => $body,
        }
    };
    (@dispatch $op:ident []) => {
        ::std::unreachable!("select!: the performed operation matches no arm")
    };
    (@dispatch $op:ident [(recv $ch:ident $idx:ident $args:tt ($res:pat) $body:tt) $($rest:tt)*]) => {
        if $op.index() == $idx {
            let $res = $op.recv($crate::sync::channel::AsReceiver::as_receiver($ch));
            $body
        } else {
            $crate::select!(@dispatch $op [$($rest)*])
        }
    };
    (@dispatch $op:ident [(send $ch:ident $idx:ident $msg:ident $args:tt ($res:pat) $body:tt) $($rest:tt)*]) => {
        if $op.index() == $idx {
            let $res = $op.send($crate::sync::channel::AsSender::as_sender($ch));
            $body
        } else {
            $crate::select!(@dispatch $op [$($rest)*])
        }
    };

    // ---- entry ----
    ($($tokens:tt)*) => {
        $crate::select!(@parse [] [] $($tokens)*)
    };
}
