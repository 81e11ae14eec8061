//! `read_dir`: a directory's entries, read on the pool a batch at a time.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::Path;

use super::{owned, DirEntry};
use crate::offload::offload;

/// Entries read per trip to the pool.
const BATCH: usize = 128;

/// Iterates over a directory's entries ([`std::fs::read_dir`]); an entry's `file_type()` needs
/// no system call, its `metadata()` makes one on the calling thread (use
/// [`corio::fs::metadata`](super::metadata) on its `path()` to keep the worker free).
pub fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = owned(path);
    let std = offload(move || std::fs::read_dir(path))?;
    Ok(ReadDir {
        std: Some(std),
        batch: VecDeque::new(),
    })
}

/// The iterator returned by [`read_dir`]: it reads up to 128 entries per trip to the pool.
pub struct ReadDir {
    // `None` once the std iterator is exhausted (or was lost to a cancelled trip).
    std: Option<std::fs::ReadDir>,
    batch: VecDeque<io::Result<DirEntry>>,
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.batch.is_empty() {
            let mut std = self.std.take()?;
            let (std, batch) = offload(move || {
                let batch: VecDeque<_> = std.by_ref().take(BATCH).collect();
                let done = batch.len() < BATCH;
                ((!done).then_some(std), batch)
            });
            self.std = std;
            self.batch = batch;
        }
        self.batch.pop_front()
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir")
            .field("buffered", &self.batch.len())
            .finish_non_exhaustive()
    }
}
