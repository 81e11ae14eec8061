//! `corio::fs`: std-shaped round trips, and proof that a blocked file call parks only its
//! coroutine (another coroutine on the same, single worker keeps running).

mod util;

use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corio::fs;
use util::watchdog;

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("corio-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn one_worker() -> corio::Runtime {
    corio::Builder::new().workers(1).build().unwrap()
}

#[test]
fn round_trips_while_a_neighbour_ticks() {
    watchdog(Duration::from_secs(60), || {
        one_worker().block_on(|| {
            let tmp = TempDir::new("round-trips");
            let (ticks, stop) = (
                Arc::new(AtomicU64::new(0)),
                Arc::new(AtomicBool::new(false)),
            );
            let ticker = {
                let (ticks, stop) = (ticks.clone(), stop.clone());
                corio::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        ticks.fetch_add(1, Ordering::Relaxed);
                        corio::yield_now();
                    }
                })
            };

            let dir = tmp.0.join("a/b/c");
            fs::create_dir_all(&dir).unwrap();
            let path = dir.join("data.bin");
            let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
            fs::write(&path, &data).unwrap();
            assert_eq!(fs::read(&path).unwrap(), data);
            assert_eq!(fs::metadata(&path).unwrap().len(), data.len() as u64);

            // File: Read, Write, Seek, and a BufReader on top.
            let mut f = fs::File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(dir.join("lines.txt"))
                .unwrap();
            for i in 0..100 {
                writeln!(f, "line {i}").unwrap();
            }
            f.seek(SeekFrom::Start(0)).unwrap();
            let lines: Vec<String> = BufReader::new(&f).lines().map(Result::unwrap).collect();
            assert_eq!(lines.len(), 100);
            assert_eq!(lines[42], "line 42");
            f.seek(SeekFrom::Start(5)).unwrap();
            let mut two = [0; 2];
            f.read_exact(&mut two).unwrap();
            assert_eq!(&two, b"0\n");
            f.set_len(4).unwrap();
            assert_eq!(f.metadata().unwrap().len(), 4);
            drop(f);

            // copy, rename, read_dir, remove_file.
            let copy = dir.join("copy.bin");
            assert_eq!(fs::copy(&path, &copy).unwrap(), data.len() as u64);
            fs::rename(&copy, dir.join("moved.bin")).unwrap();
            assert!(!fs::try_exists(&copy).unwrap());
            let mut names: Vec<String> = fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            assert_eq!(names, ["data.bin", "lines.txt", "moved.bin"]);
            fs::remove_file(dir.join("moved.bin")).unwrap();
            assert_eq!(
                fs::read_to_string(dir.join("missing")).unwrap_err().kind(),
                std::io::ErrorKind::NotFound
            );

            stop.store(true, Ordering::Relaxed);
            ticker.join().unwrap();
            // The ticker ran while the main coroutine waited for the pool.
            assert!(ticks.load(Ordering::Relaxed) > 0);
        })
    });
}

/// Opening a FIFO for reading blocks until a writer opens it. The writer is another coroutine
/// on the only worker: if the read blocked the worker, the writer could never run.
#[test]
fn a_blocked_call_parks_only_its_coroutine() {
    let tmp = TempDir::new("fifo");
    let fifo = tmp.0.join("fifo");
    let c_path = CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c_path` is a valid NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let got = watchdog(Duration::from_secs(30), move || {
        one_worker().block_on(move || {
            let writer = {
                let fifo = fifo.clone();
                corio::spawn(move || {
                    for _ in 0..100 {
                        corio::yield_now(); // keeps ticking on the shared worker
                    }
                    fs::write(&fifo, "through the fifo").unwrap();
                })
            };
            let got = fs::read_to_string(&fifo).unwrap();
            writer.join().unwrap();
            got
        })
    });
    assert_eq!(got, "through the fifo");
}

#[test]
fn works_on_a_plain_thread() {
    let tmp = TempDir::new("plain");
    let path = tmp.0.join("x");
    fs::write(&path, b"plain").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"plain");
    let mut f = fs::File::open(&path).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "plain");
}
