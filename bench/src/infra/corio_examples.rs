//! corio's own servers for the network rows: the `echo` and `http` examples of
//! `crates/corio/examples/`, measured as users would run them (`echo ADDR WORKERS`).
//!
//! They are built once per run with the cargo that runs the bench (`$CARGO`, else `cargo` on
//! PATH), into the bench's own target directory and profile, so a `cargo run --release -p
//! corio-bench` builds them beside the bench binary (the corio library is already built
//! there; only the examples compile). Without cargo the corio entries are skipped with the
//! reason.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The examples the network rows run.
const EXAMPLES: [&str; 2] = ["echo", "http"];

/// The directory holding the built examples, or why they could not be built.
static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Builds the examples (once) and returns the directory holding them.
fn built() -> Result<PathBuf, String> {
    BUILT.get_or_init(build).clone()
}

/// `cargo build -p corio --example echo --example http` into the bench's target directory.
fn build() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe.parent().ok_or("the bench binary has no directory")?;
    let target_dir = profile_dir
        .parent()
        .ok_or("the bench binary is not in a target dir")?;
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--quiet", "-p", "corio"])
        .env("CARGO_TARGET_DIR", target_dir)
        .stdout(Stdio::null());
    for name in EXAMPLES {
        cmd.args(["--example", name]);
    }
    if release {
        cmd.arg("--release");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo to build corio's examples: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building corio's examples failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(profile_dir.join("examples"))
}

/// The command running example `name` on `addr` with one worker.
pub fn server(name: &str, addr: &str) -> Result<Command, String> {
    let path = built()?.join(name);
    if !path.exists() {
        return Err(format!("corio example `{name}` was not built"));
    }
    let mut cmd = Command::new(path);
    cmd.args([addr, "1"]);
    Ok(cmd)
}

/// A note saying which server ran.
pub fn note(name: &str) -> String {
    format!("corio: server = crates/corio/examples/{name}.rs with 1 worker (`{name} ADDR 1`)")
}
