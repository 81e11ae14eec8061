//! `Builder::dump_on_sigquit(true)`: on SIGQUIT (Ctrl-\), the dump of every runtime that
//! asked for it goes to stderr, and the program keeps running (Go prints its goroutines and
//! exits; a server being debugged is better left up).
//!
//! The signal handler only writes a byte to a pipe (async-signal-safe); a thread named
//! `corio-sigquit` reads it and takes the dumps ([`crate::debug`]). The handler is installed
//! once per process, when the first such runtime is built, and replaces SIGQUIT's default
//! action (a core dump) for the rest of the process.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;

use crate::rt::context;

/// The pipe's write end, for the handler (-1 until installed).
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// Runtimes (by id) that asked for dumps; ids of dropped runtimes are pruned lazily.
static RUNTIMES: Mutex<Vec<u64>> = Mutex::new(Vec::new());
/// The outcome of installing the handler, once.
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

/// Dumps runtime `id` on every SIGQUIT from now on.
pub(crate) fn enable(id: u64) -> io::Result<()> {
    INSTALLED
        .get_or_init(|| install().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| io::Error::other(format!("corio: cannot handle SIGQUIT: {e}")))?;
    RUNTIMES.lock().unwrap().push(id);
    Ok(())
}

extern "C" fn on_sigquit(_: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: `write` is async-signal-safe; errno is saved and restored around it so the
        // interrupted code does not see it change.
        unsafe {
            let errno = *libc::__errno_location();
            let byte = 1u8;
            libc::write(fd, (&byte as *const u8).cast(), 1);
            *libc::__errno_location() = errno;
        }
    }
}

/// Creates the pipe and the reader thread, then installs the handler.
fn install() -> io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [read, write] = fds;
    thread::Builder::new()
        .name("corio-sigquit".into())
        .spawn(move || serve(read))?;
    PIPE_WRITE.store(write, Ordering::Relaxed);
    // SAFETY: a zeroed `sigaction` is a valid empty one; the handler only calls
    // async-signal-safe functions.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigquit as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGQUIT, &sa, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The reader thread: one round of dumps per byte.
fn serve(read: libc::c_int) {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads at most one byte into `byte`, which lives across the call.
        let n = unsafe { libc::read(read, (&mut byte as *mut u8).cast(), 1) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return;
        }
        let ids = RUNTIMES.lock().unwrap().clone();
        for id in ids {
            match context::runtime(id) {
                Some(shared) => {
                    let dump = crate::debug::take(&shared);
                    eprintln!("corio: SIGQUIT: coroutines of runtime {id}:\n\n{dump}");
                }
                None => RUNTIMES.lock().unwrap().retain(|&r| r != id),
            }
        }
    }
}
