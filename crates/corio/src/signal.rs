//! Unix signals as a channel, like Go's `signal.Notify`.
//!
//! [`signals`] installs handlers (through [`signal-hook`](https://docs.rs/signal-hook), so
//! they coexist with other users of it) and returns a [`Signals`]: a channel receiver of the
//! signal numbers that arrive, usable in [`select!`](crate::select). Each `Signals` gets
//! every signal it asked for; a burst of the same signal may arrive as one.
//!
//! ```
//! use corio::signal::{signals, SIGUSR1};
//!
//! corio::run(|| {
//!     let sigs = signals([SIGUSR1]).unwrap();
//!     // SAFETY: raise only sends a signal to this thread; a handler is installed.
//!     unsafe { libc::raise(SIGUSR1) };
//!     assert_eq!(sigs.recv().unwrap(), SIGUSR1);
//! });
//! ```
//!
//! ## Cost and lifetime
//! Each `Signals` has one OS thread that waits in signal-hook's self-pipe and forwards into
//! the channel; dropping the `Signals` stops it. Handlers stay installed (signal-hook never
//! uninstalls them): a signal nobody listens to any more is ignored instead of taking its
//! default action. While a `Signals` made inside a runtime exists, that runtime's deadlock
//! report stays silent, since a signal may yet wake a coroutine waiting for it.

use std::fmt;
use std::io;
use std::os::raw::c_int;
use std::thread;
use std::time::Duration;

use signal_hook::iterator::{Handle as HookHandle, Signals as HookSignals};

use crate::sync::channel::{self, AsReceiver, Receiver, RecvError, RecvTimeoutError, TryRecvError};

pub use signal_hook::consts::signal::{
    SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH,
};

/// Starts receiving `signals` (e.g. `[SIGINT, SIGTERM]`).
///
/// # Errors
/// `InvalidInput` for a signal that cannot or must not be handled (`SIGKILL`, `SIGSTOP`,
/// `SIGSEGV`, `SIGILL`, `SIGFPE`); an OS error when the forwarding thread cannot start.
pub fn signals(signals: impl IntoIterator<Item = c_int>) -> io::Result<Signals> {
    let signals: Vec<c_int> = signals.into_iter().collect();
    signals.iter().try_for_each(|&sig| allowed(sig))?;
    let mut hook = HookSignals::new(signals)?;
    let handle = hook.handle();
    let (tx, rx) = channel::unbounded();
    let runtime = crate::Handle::try_current();
    thread::Builder::new()
        .name("corio-signal".into())
        .spawn(move || {
            let _runtime = runtime; // keeps the deadlock report quiet while we listen
            for sig in hook.forever() {
                if tx.send(sig).is_err() {
                    break;
                }
            }
        })?;
    Ok(Signals { rx, handle })
}

/// signal-hook panics on these; we refuse them with an error instead.
fn allowed(sig: c_int) -> io::Result<()> {
    if signal_hook::consts::FORBIDDEN.contains(&sig) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {sig} cannot be received as a message (SIGKILL, SIGSTOP, SIGSEGV, SIGILL, SIGFPE)"),
        ));
    }
    Ok(())
}

/// The signals asked for in [`signals`], as a channel; `recv` parks only the coroutine.
///
/// It works in `select!` like a [`Receiver`] (`recv(sigs) -> sig => ...`), and
/// [`receiver`](Self::receiver) gives the receiver itself.
pub struct Signals {
    rx: Receiver<c_int>,
    handle: HookHandle,
}

impl Signals {
    /// Waits for the next signal.
    pub fn recv(&self) -> Result<c_int, RecvError> {
        self.rx.recv()
    }

    /// The next signal if one has arrived.
    pub fn try_recv(&self) -> Result<c_int, TryRecvError> {
        self.rx.try_recv()
    }

    /// Waits at most `timeout` for the next signal.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<c_int, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }

    /// Also receives `signal` from now on (errors as in [`signals`]).
    pub fn add_signal(&self, signal: c_int) -> io::Result<()> {
        allowed(signal)?;
        self.handle.add_signal(signal)
    }

    /// The channel the signals arrive on.
    pub fn receiver(&self) -> &Receiver<c_int> {
        &self.rx
    }
}

impl AsReceiver for Signals {
    type Item = c_int;
    fn as_receiver(&self) -> &Receiver<c_int> {
        &self.rx
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.handle.close(); // ends the forwarding thread's `forever` loop
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signals")
            .field("pending", &self.rx.len())
            .finish()
    }
}
