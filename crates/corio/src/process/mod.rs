//! Child processes, shaped like [`std::process`], that a coroutine waits for without blocking
//! its worker.
//!
//! [`Command`] builds and spawns a child; [`Child::wait`] parks the coroutine on the child's
//! pidfd in the reactor; piped stdio ([`ChildStdin`], [`ChildStdout`], [`ChildStderr`]) are
//! non-blocking pipes implementing `Read`/`Write` that park like sockets. Spawning itself
//! (`fork`/`exec`, fast with `posix_spawn`/`vfork`) runs on the calling thread, as in tokio.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::process::Stdio;
//! use corio::process::Command;
//!
//! corio::run(|| {
//!     assert!(Command::new("true").status().unwrap().success());
//!
//!     let out = Command::new("echo").arg("hello").output().unwrap();
//!     assert_eq!(out.stdout, b"hello\n");
//!
//!     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped())
//!         .spawn().unwrap();
//!     let mut stdin = child.stdin.take().unwrap();
//!     corio::spawn(move || stdin.write_all(b"through cat").unwrap()); // closes on drop
//!     let mut s = String::new();
//!     child.stdout.take().unwrap().read_to_string(&mut s).unwrap();
//!     assert_eq!(s, "through cat");
//!     assert!(child.wait().unwrap().success());
//! });
//! ```

mod child;
mod pipe;

pub use child::Child;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
pub use std::process::{ExitStatus, Output, Stdio};

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;

/// A process builder, like [`std::process::Command`]; [`as_std_mut`](Self::as_std_mut)
/// reaches the rest of std's options (`CommandExt`: `uid`, `process_group`, `pre_exec`, …).
pub struct Command {
    std: std::process::Command,
    /// Whether `stdin` was configured (`output` defaults it to null, as std does).
    stdin_set: bool,
}

impl Command {
    /// A command for the program `program` (looked up in `PATH` unless it is a path).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what `env` adds).
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// The child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// The child's standard input (inherited by default).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// The child's standard output (inherited by default).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// The child's standard error (inherited by default).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// Starts the child; its piped streams become corio streams.
    pub fn spawn(&mut self) -> io::Result<Child> {
        Child::from_std(self.std.spawn()?)
    }

    /// Starts the child and waits for it (parking only the coroutine); stdio is inherited
    /// unless configured.
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }

    /// Starts the child with stdout and stderr piped (and stdin null unless configured),
    /// collects both and waits for the exit.
    pub fn output(&mut self) -> io::Result<Output> {
        if !self.stdin_set {
            self.std.stdin(Stdio::null());
        }
        self.std.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.spawn()?.wait_with_output()
    }

    /// The std command inside.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The std command inside, for options this type does not mirror.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }
}

impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            stdin_set: false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}
