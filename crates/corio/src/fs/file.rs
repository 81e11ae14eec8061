//! `File` and `OpenOptions`: std's, with every call run on the blocking pool.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;
use std::sync::Arc;

use super::{owned, Metadata, Permissions};
use crate::offload::offload;

/// The most bytes one `read` or `write` moves (as `tokio::fs::File`): it bounds the copy made
/// for the trip to the pool; `read_exact`/`write_all` loop as usual.
const MAX_CHUNK: usize = 2 * 1024 * 1024;

/// An open file, like [`std::fs::File`]; `Read`, `Write` and `Seek` (on `File` and `&File`)
/// park the coroutine while a pool thread makes the system call.
///
/// Each call is one trip to the pool: wrap the file in a `BufReader`/`BufWriter` for many
/// small reads or writes. The data is copied once between your buffer and the pool's.
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
///
/// corio::run(|| {
///     let path = std::env::temp_dir().join(format!("corio-file-doc-{}", std::process::id()));
///     let mut f = corio::fs::File::options().read(true).write(true).create(true).truncate(true)
///         .open(&path).unwrap();
///     f.write_all(b"hello world").unwrap();
///     f.seek(SeekFrom::Start(6)).unwrap();
///     let mut s = String::new();
///     f.read_to_string(&mut s).unwrap();
///     assert_eq!(s, "world");
///     corio::fs::remove_file(&path).unwrap();
/// });
/// ```
pub struct File {
    // Shared with the pool job in flight (a cancelled caller stops waiting, the job does not).
    std: Arc<std::fs::File>,
}

impl File {
    /// Opens a file for reading ([`std::fs::File::open`]).
    pub fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = owned(path);
        offload(move || std::fs::File::open(path)).map(File::from_std)
    }

    /// Creates or truncates a file for writing ([`std::fs::File::create`]).
    pub fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = owned(path);
        offload(move || std::fs::File::create(path)).map(File::from_std)
    }

    /// Creates a new file for writing; fails if it exists ([`std::fs::File::create_new`]).
    pub fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        let path = owned(path);
        offload(move || std::fs::File::create_new(path)).map(File::from_std)
    }

    /// Options for opening a file in another mode.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps a std file.
    pub fn from_std(file: std::fs::File) -> File {
        File {
            std: Arc::new(file),
        }
    }

    /// The std file; `Err(self)` while a call of a cancelled coroutine still uses it.
    pub fn try_into_std(self) -> Result<std::fs::File, File> {
        Arc::try_unwrap(self.std).map_err(|std| File { std })
    }

    /// Runs `f` on the std file on the pool.
    fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&std::fs::File) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        let std = self.std.clone();
        offload(move || f(&std))
    }

    /// Flushes data and metadata to the device ([`std::fs::File::sync_all`]).
    pub fn sync_all(&self) -> io::Result<()> {
        self.with(|f| f.sync_all())
    }

    /// Flushes data to the device ([`std::fs::File::sync_data`]).
    pub fn sync_data(&self) -> io::Result<()> {
        self.with(|f| f.sync_data())
    }

    /// Truncates or extends the file to `size` bytes ([`std::fs::File::set_len`]).
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        self.with(move |f| f.set_len(size))
    }

    /// The file's metadata ([`std::fs::File::metadata`]).
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.with(|f| f.metadata())
    }

    /// Sets the file's permissions ([`std::fs::File::set_permissions`]).
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        self.with(move |f| f.set_permissions(perm))
    }

    /// A new `File` for the same open file description ([`std::fs::File::try_clone`]).
    pub fn try_clone(&self) -> io::Result<File> {
        self.with(|f| f.try_clone()).map(File::from_std)
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let len = buf.len().min(MAX_CHUNK);
        let chunk = self.with(move |mut f| {
            let mut chunk = vec![0; len];
            let n = f.read(&mut chunk)?;
            chunk.truncate(n);
            Ok(chunk)
        })?;
        buf[..chunk.len()].copy_from_slice(&chunk);
        Ok(chunk.len())
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        // One trip for the whole rest of the file, not one per chunk.
        let rest = self.with(|mut f| {
            let mut rest = Vec::new();
            f.read_to_end(&mut rest)?;
            Ok(rest)
        })?;
        buf.extend_from_slice(&rest);
        Ok(rest.len())
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        let rest = self.with(|mut f| {
            let mut rest = String::new();
            f.read_to_string(&mut rest)?;
            Ok(rest)
        })?;
        buf.push_str(&rest);
        Ok(rest.len())
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let chunk = buf[..buf.len().min(MAX_CHUNK)].to_vec();
        self.with(move |mut f| f.write(&chunk))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(()) // std's File has no buffer either
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.with(move |mut f| f.seek(pos))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

impl From<std::fs::File> for File {
    fn from(file: std::fs::File) -> File {
        File::from_std(file)
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.std.as_raw_fd()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.std.as_fd()
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("File").field(&self.std).finish()
    }
}

/// Options for opening a [`File`], like [`std::fs::OpenOptions`]; `open` runs on the pool.
#[derive(Debug, Clone)]
pub struct OpenOptions(std::fs::OpenOptions);

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// All options off, as [`std::fs::OpenOptions::new`].
    pub fn new() -> Self {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.0.read(on);
        self
    }

    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.0.write(on);
        self
    }

    /// Open for appending (every write goes to the end).
    pub fn append(&mut self, on: bool) -> &mut Self {
        self.0.append(on);
        self
    }

    /// Truncate the file to 0 bytes when opening it.
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.0.truncate(on);
        self
    }

    /// Create the file if it does not exist.
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.0.create(on);
        self
    }

    /// Create the file, failing if it exists.
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.0.create_new(on);
        self
    }

    /// The permission bits a created file gets ([`std::os::unix::fs::OpenOptionsExt::mode`]).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    /// Opens `path` with these options.
    pub fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let (options, path) = (self.0.clone(), owned(path));
        offload(move || options.open(path)).map(File::from_std)
    }
}
