//! The scavenger: gives idle stacks and empty slabs back after a surge.
//!
//! A burst of coroutines leaves up to [`DEFAULT_CACHE_CAPACITY`] stacks in
//! the process-wide cache, 16 KiB resident each, and slabs whose stacks are
//! all free. Like Go's background scavenger, a low-frequency thread gives
//! them back: every [`TICK`] it returns the cached stacks that stayed unused
//! for the whole tick (each bucket's low-water mark) to their slabs, which
//! `MADV_DONTNEED` them, and unmaps the slabs that were empty for a whole
//! tick. So memory returns within two ticks of a surge, and a steady load
//! that keeps reusing its stacks loses none of them.
//!
//! The create/drop path never comes here: only the cold paths that move
//! stacks into the cache or empty a slab call [`wake`], which costs a fence
//! and an atomic load while the thread runs. The thread exits once there is
//! nothing left to give back, and a later wake starts it again, so an idle
//! process has no scavenger thread.
//!
//! [`DEFAULT_CACHE_CAPACITY`]: super::DEFAULT_CACHE_CAPACITY

use super::cache::CACHE;
use super::mmap::Mapping;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How often the scavenger looks for idle stacks while there are any.
pub const TICK: Duration = Duration::from_secs(1);

/// Whether the thread is running (so a wake is not needed).
static AWAKE: AtomicBool = AtomicBool::new(false);

/// Whether the thread runs: changed under this lock only.
static STARTED: Mutex<bool> = Mutex::new(false);

/// Tells the scavenger there may be something to give back soon. Called
/// after the cache or a slab changed, with no lock held.
pub(super) fn wake() {
    // Pairs with the fence in `run`: either the thread, about to exit, sees
    // what changed, or this sees that it is exiting.
    fence(Ordering::SeqCst);
    if AWAKE.load(Ordering::Relaxed) {
        return;
    }
    start();
}

#[cold]
fn start() {
    let mut started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
    if *started {
        return; // exiting, after a last look that sees our change; or just started
    }
    let spawned = std::thread::Builder::new()
        .name("corio-scavenger".into())
        .stack_size(64 * 1024)
        .spawn(run);
    // Without a thread (out of threads) memory stays until the next wake or
    // `trim_cache`.
    *started = spawned.is_ok();
    AWAKE.store(*started, Ordering::Relaxed);
}

/// The thread: ticks while there is something idle, then exits.
fn run() {
    loop {
        std::thread::sleep(TICK);
        if tick() {
            continue;
        }
        let mut started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
        AWAKE.store(false, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        // A change made during the last tick found the thread awake and did
        // not start another: look at what is there now.
        if CACHE.held() > 0 || super::slab::empty_slabs() > 0 {
            AWAKE.store(true, Ordering::Relaxed);
            continue;
        }
        *started = false;
        return;
    }
}

/// One round: gives back what stayed idle since the last; returns whether
/// anything is left that a later round may give back.
fn tick() -> bool {
    let (idle, held) = CACHE.scavenge();
    Mapping::unmap_many(idle);
    let empty_slabs = super::slab::scavenge();
    held > 0 || empty_slabs > 0
}
