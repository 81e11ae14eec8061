//! Starts a few named coroutines blocked in different ways and prints the runtime's dump
//! (`corio::debug::dump`), as a Go user would get from SIGQUIT.
//!
//! ```sh
//! cargo run --example dump
//! ```

use std::sync::Arc;
use std::time::Duration;

use corio::sync::{channel, Mutex};

#[inline(never)]
fn consume(rx: channel::Receiver<String>) {
    for msg in rx {
        println!("{msg}");
    }
}

#[inline(never)]
fn update(state: Arc<Mutex<u64>>) {
    *state.lock() += 1;
}

#[inline(never)]
fn poll_every_minute() {
    loop {
        corio::time::sleep(Duration::from_secs(60));
    }
}

#[track_caller] // the dump names the caller as the spawn site
fn named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> corio::JoinHandle<T> {
    corio::task::Builder::new().name(name).spawn(f)
}

fn main() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let (tx, rx) = channel::unbounded::<String>();
        let consumer = named("consumer", move || consume(rx));
        let state = Arc::new(Mutex::new(0));
        let guard = state.lock(); // held: the updater waits for it
        let s = state.clone();
        let updater = named("updater", move || update(s));
        let poller = named("poller", poll_every_minute);
        let waiter = named("waiter", move || consumer.join());
        corio::time::sleep(Duration::from_millis(50)); // let them all reach their waits

        print!("{}", corio::debug::dump());

        drop(guard);
        updater.join().unwrap();
        drop(tx);
        waiter.join().unwrap().unwrap();
        poller.cancel();
    });
}
