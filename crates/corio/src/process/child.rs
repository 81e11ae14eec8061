//! `Child`: a running child process whose exit a coroutine can wait for without blocking its
//! worker.

use std::fmt;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{ExitStatus, Output};

use super::pipe::{ChildStderr, ChildStdin, ChildStdout};
use crate::net::io::IoSource;
use crate::offload::offload;

/// A spawned child process, like [`std::process::Child`].
///
/// Waiting parks only the calling coroutine: the child's pidfd (Linux 5.3+) is registered
/// with the runtime's reactor and becomes readable when the child exits. Where `pidfd_open`
/// is unavailable, a blocking-pool thread waits (`waitid` with `WNOWAIT`) instead.
///
/// Like std, dropping a `Child` neither kills nor reaps it.
pub struct Child {
    /// The child's stdin, if it was piped.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if it was piped.
    pub stderr: Option<ChildStderr>,
    std: std::process::Child,
    /// Readable once the child has exited; `None` without pidfd support.
    pidfd: Option<IoSource<OwnedFd>>,
}

impl Child {
    pub(crate) fn from_std(mut std: std::process::Child) -> io::Result<Child> {
        let stdin = std.stdin.take().map(ChildStdin::from_std).transpose()?;
        let stdout = std.stdout.take().map(ChildStdout::from_std).transpose()?;
        let stderr = std.stderr.take().map(ChildStderr::from_std).transpose()?;
        let pidfd = pidfd_open(std.id()).ok().map(IoSource::new);
        Ok(Child {
            stdin,
            stdout,
            stderr,
            std,
            pidfd,
        })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.std.id()
    }

    /// Sends `SIGKILL` to the child ([`std::process::Child::kill`]).
    pub fn kill(&mut self) -> io::Result<()> {
        self.std.kill()
    }

    /// The exit status if the child has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.std.try_wait()
    }

    /// Closes the child's stdin (as std does) and waits for it to exit, parking only the
    /// calling coroutine (blocking the thread outside one).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.std.try_wait()? {
            return Ok(status);
        }
        let std = &mut self.std;
        match &self.pidfd {
            Some(pidfd) => pidfd.read(|_| match std.try_wait() {
                Ok(Some(status)) => Ok(status),
                Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
                Err(e) => Err(e),
            }),
            None => {
                let pid = std.id();
                offload(move || wait_exited(pid))?;
                std.wait()
            }
        }
    }

    /// Closes stdin, reads stdout and stderr to their ends (at the same time, so a child that
    /// fills one pipe while the other is read does not stall) and waits for the exit.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = read_both(self.stdout.take(), self.stderr.take())?;
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}

fn read_all(pipe: Option<impl Read>) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut buf)?;
    }
    Ok(buf)
}

/// Reads both pipes to their ends concurrently: stderr in a second coroutine (a thread,
/// outside a coroutine), stdout here.
fn read_both(
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let Some(stderr) = stderr else {
        return Ok((read_all(stdout)?, Vec::new()));
    };
    if crate::task::try_current().is_none() {
        return std::thread::scope(|s| {
            let err = s.spawn(move || read_all(Some(stderr)));
            let out = read_all(stdout);
            let err = err.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            Ok((out?, err?))
        });
    }
    /// Cancels the stderr reader if this coroutine unwinds before joining it.
    struct CancelOnDrop(Option<crate::JoinHandle<io::Result<Vec<u8>>>>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            if let Some(h) = &self.0 {
                h.cancel();
            }
        }
    }
    let mut err = CancelOnDrop(Some(crate::spawn(move || read_all(Some(stderr)))));
    let out = read_all(stdout);
    let err = match err.0.take().expect("joined once").join() {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_payload()),
    };
    Ok((out?, err?))
}

/// A pidfd for `pid`: readable once that process has exited.
fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags by value and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall returned a new open fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Blocks until `pid` has exited, leaving it to be reaped by `Child::wait`.
fn wait_exited(pid: u32) -> io::Result<()> {
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value for waitid to overwrite.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t for the duration of the call.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fallback for kernels without pidfd: wait without reaping, then reap.
    #[test]
    fn wait_exited_leaves_the_child_to_reap() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        wait_exited(child.id()).unwrap();
        assert_eq!(child.try_wait().unwrap().unwrap().code(), Some(7));
    }

    #[test]
    fn pidfd_is_readable_after_exit() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pidfd = IoSource::new(pidfd_open(child.id()).unwrap());
        // Outside a coroutine the wait is a poll(2) on the pidfd.
        let status = pidfd
            .read(|_| child.try_wait()?.ok_or(io::ErrorKind::WouldBlock.into()))
            .unwrap();
        assert!(status.success());
    }
}
