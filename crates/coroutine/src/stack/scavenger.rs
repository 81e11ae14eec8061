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
//! stacks into the cache or empty a slab call [`wake`], which costs one
//! atomic load while the thread is awake. The thread sleeps on a condition
//! variable while there is nothing to give back, and starts on first use.
//!
//! [`DEFAULT_CACHE_CAPACITY`]: super::DEFAULT_CACHE_CAPACITY

use super::cache::CACHE;
use super::mmap::Mapping;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How often the scavenger looks for idle stacks while there are any.
pub const TICK: Duration = Duration::from_secs(1);

/// Whether the thread is running ticks (so a wake is not needed).
static AWAKE: AtomicBool = AtomicBool::new(false);

/// Whether the thread was started, and a wake it has not seen yet.
static STATE: Mutex<State> = Mutex::new(State {
    started: false,
    woken: false,
});
static WAKE: Condvar = Condvar::new();

struct State {
    started: bool,
    woken: bool,
}

/// Tells the scavenger there may be something to give back soon. Called
/// after the cache or a slab changed, with no lock held.
pub(super) fn wake() {
    // Pairs with the fence in `run`: either the thread, going to sleep,
    // sees what changed, or this sees that it is going to sleep.
    fence(Ordering::SeqCst);
    if AWAKE.load(Ordering::Relaxed) {
        return;
    }
    wake_slow();
}

#[cold]
fn wake_slow() {
    let mut state = STATE.lock().unwrap_or_else(|p| p.into_inner());
    state.woken = true;
    if !state.started {
        let spawned = std::thread::Builder::new()
            .name("corio-scavenger".into())
            .stack_size(64 * 1024)
            .spawn(run);
        // Without a thread (out of threads) memory is kept as before the
        // scavenger existed; `trim_cache` still gives it back.
        state.started = spawned.is_ok();
    }
    WAKE.notify_one();
}

/// The thread: ticks while there is something idle, sleeps otherwise.
fn run() {
    let mut state = STATE.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        while !state.woken {
            state = WAKE.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.woken = false;
        AWAKE.store(true, Ordering::Relaxed);
        drop(state);
        loop {
            std::thread::sleep(TICK);
            if !tick() {
                break;
            }
        }
        state = STATE.lock().unwrap_or_else(|p| p.into_inner());
        AWAKE.store(false, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        // A change made during the last tick found the thread awake and
        // did not wake it: look at what is there now.
        if CACHE.held() > 0 || super::slab::empty_slabs() > 0 {
            state.woken = true;
        }
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
