//! Files and directories, shaped like [`std::fs`], without blocking the worker.
//!
//! Each call runs the std call on the blocking pool ([`spawn_blocking`](crate::spawn_blocking))
//! and parks only the calling coroutine meanwhile, as `tokio::fs` does: Linux has no readiness
//! for regular files, so a reactor cannot help. On a plain thread the std call runs directly.
//!
//! ```
//! corio::run(|| {
//!     let dir = std::env::temp_dir().join(format!("corio-fs-doc-{}", std::process::id()));
//!     corio::fs::create_dir_all(&dir).unwrap();
//!     let path = dir.join("hello.txt");
//!     corio::fs::write(&path, "hello").unwrap();
//!     assert_eq!(corio::fs::read_to_string(&path).unwrap(), "hello");
//!     corio::fs::remove_dir_all(&dir).unwrap();
//! });
//! ```
//!
//! ## Cost
//! A call costs a hand-off to a pool thread and back (a few microseconds), so prefer whole-file
//! calls ([`read()`], [`write()`]) and wrap a [`File`] in a `BufReader`/`BufWriter` when doing
//! many small reads or writes. A cancelled coroutine stops waiting at once; the call it
//! started still completes on the pool.

mod dir;
mod file;

pub use dir::{read_dir, ReadDir};
pub use file::{File, OpenOptions};
pub use std::fs::{DirEntry, FileType, Metadata, Permissions};

use std::io;
use std::path::{Path, PathBuf};

use crate::offload::offload;

/// Owns a path argument so that it can travel to the blocking pool.
fn owned(path: impl AsRef<Path>) -> PathBuf {
    path.as_ref().to_path_buf()
}

/// Reads the whole file into a vector ([`std::fs::read`]).
pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = owned(path);
    offload(move || std::fs::read(path))
}

/// Reads the whole file into a string ([`std::fs::read_to_string`]).
pub fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = owned(path);
    offload(move || std::fs::read_to_string(path))
}

/// Writes `contents` as the whole file, creating or truncating it ([`std::fs::write`]).
/// The bytes are copied once to travel to the pool.
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let (path, contents) = (owned(path), contents.as_ref().to_vec());
    offload(move || std::fs::write(path, contents))
}

/// The metadata of a path, following symbolic links ([`std::fs::metadata`]).
pub fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = owned(path);
    offload(move || std::fs::metadata(path))
}

/// The metadata of a path, not following a final symbolic link
/// ([`std::fs::symlink_metadata`]).
pub fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = owned(path);
    offload(move || std::fs::symlink_metadata(path))
}

/// Whether the path exists; `Err` when that cannot be told ([`std::fs::exists`]).
pub fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = owned(path);
    offload(move || path.try_exists())
}

/// Creates a directory ([`std::fs::create_dir`]).
pub fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    offload(move || std::fs::create_dir(path))
}

/// Creates a directory and any missing parents ([`std::fs::create_dir_all`]).
pub fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    offload(move || std::fs::create_dir_all(path))
}

/// Removes a file ([`std::fs::remove_file`]).
pub fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    offload(move || std::fs::remove_file(path))
}

/// Removes an empty directory ([`std::fs::remove_dir`]).
pub fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    offload(move || std::fs::remove_dir(path))
}

/// Removes a directory and everything in it ([`std::fs::remove_dir_all`]); one pool job.
pub fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    offload(move || std::fs::remove_dir_all(path))
}

/// Renames a file or directory, replacing `to` if it is a file ([`std::fs::rename`]).
pub fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (owned(from), owned(to));
    offload(move || std::fs::rename(from, to))
}

/// Copies a file's contents and permissions; returns the bytes copied ([`std::fs::copy`]).
pub fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (owned(from), owned(to));
    offload(move || std::fs::copy(from, to))
}

/// Creates a hard link `link` to `original` ([`std::fs::hard_link`]).
pub fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (owned(original), owned(link));
    offload(move || std::fs::hard_link(original, link))
}

/// Creates a symbolic link `link` pointing to `original` ([`std::os::unix::fs::symlink`]).
pub fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (owned(original), owned(link));
    offload(move || std::os::unix::fs::symlink(original, link))
}

/// The target of a symbolic link ([`std::fs::read_link`]).
pub fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = owned(path);
    offload(move || std::fs::read_link(path))
}

/// The absolute path with every link and `.`/`..` resolved ([`std::fs::canonicalize`]).
pub fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = owned(path);
    offload(move || std::fs::canonicalize(path))
}

/// Sets a path's permissions ([`std::fs::set_permissions`]).
pub fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = owned(path);
    offload(move || std::fs::set_permissions(path, perm))
}
