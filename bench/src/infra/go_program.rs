//! The Go peer: `go/peers.go` is embedded in this binary and built with the `go` found on
//! PATH, once per run, into a temporary directory; workloads run it as a child process and
//! read its result lines (see [`crate::infra::child`]).
//!
//! Without a `go` toolchain every Go workload is skipped with the reason.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::infra::child::{self, Finished};
use crate::row::Outcome;

/// The Go program's source, shipped inside the bench binary.
const SOURCE: &str = include_str!("../../go/peers.go");

/// The built program, or why it could not be built; built on first use.
static PROGRAM: OnceLock<Result<Program, String>> = OnceLock::new();

/// The built Go program, deleted with its directory when the bench exits.
#[derive(Debug)]
struct Program {
    dir: PathBuf,
    exe: PathBuf,
    /// `go version` output, for the notes.
    version: String,
}

/// Builds (once) and returns the Go program's path, or why there is none.
fn program() -> Result<PathBuf, String> {
    PROGRAM
        .get_or_init(build)
        .as_ref()
        .map(|p| p.exe.clone())
        .map_err(Clone::clone)
}

/// A note naming the Go toolchain (identical for every Go figure, so printed once).
pub fn version_note() -> String {
    match PROGRAM.get() {
        Some(Ok(p)) => format!(
            "Go: {}, built at run time from bench/go/peers.go",
            p.version
        ),
        _ => "Go: not built".to_owned(),
    }
}

/// `go build` of [`SOURCE`] in a fresh temporary directory.
fn build() -> Result<Program, String> {
    let version = Command::new("go")
        .arg("version")
        .output()
        .map_err(|_| "no `go` toolchain on PATH (Debian: apt-get install golang-go)".to_owned())?;
    let dir = std::env::temp_dir().join(format!("corio-bench-go-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        fs::create_dir_all(&dir)?;
        fs::write(dir.join("peers.go"), SOURCE)?;
        fs::write(dir.join("go.mod"), "module peers\n\ngo 1.19\n")
    };
    write().map_err(|e| format!("cannot write the Go sources: {e}"))?;
    let exe = dir.join("peers");
    let mut cmd = Command::new("go");
    cmd.current_dir(&dir)
        .args(["build", "-o"])
        .arg(&exe)
        .arg(".")
        // Offline: the program uses the standard library only.
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off");
    if std::env::var_os("GOCACHE").is_none() && std::env::var_os("HOME").is_none() {
        cmd.env("GOCACHE", std::env::temp_dir().join("corio-bench-gocache"));
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run go build: {e}"))?;
    if !out.status.success() {
        let _ = fs::remove_dir_all(&dir);
        return Err(format!(
            "go build failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    Ok(Program { dir, exe, version })
}

/// Removes the built program (called once the run is over).
pub fn clean_up() {
    if let Some(Ok(p)) = PROGRAM.get() {
        let _ = fs::remove_dir_all(&p.dir);
    }
}

/// A command running the Go program with `args`.
pub fn command(args: &[String]) -> Result<Command, String> {
    let mut cmd = Command::new(program()?);
    cmd.args(args);
    Ok(cmd)
}

/// Runs the Go program with `args` to the end (killed after `timeout`).
pub fn run(args: &[String], timeout: Duration) -> Result<Finished, String> {
    child::run(command(args)?, None, timeout).map_err(|e| e.to_string())
}

/// Runs the Go program with `args` and returns its figure, with the toolchain noted.
pub fn sample(args: &[String], timeout: Duration) -> Outcome {
    Ok(run(args, timeout)?.sample()?.note(version_note()))
}
