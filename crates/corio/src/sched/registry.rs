//! Live runtimes by id, so a waker used on a thread outside a runtime can find the home
//! worker of its task without every task holding an `Arc` to its runtime (which would put a
//! contended reference count on the spawn path).

use std::sync::{Arc, Mutex, Weak};

use super::Shared;

static LIVE: Mutex<Vec<(u64, Weak<Shared>)>> = Mutex::new(Vec::new());

pub(crate) fn insert(id: u64, shared: &Arc<Shared>) {
    LIVE.lock().unwrap().push((id, Arc::downgrade(shared)));
}

pub(crate) fn remove(id: u64) {
    LIVE.lock().unwrap().retain(|(i, _)| *i != id);
}

/// The runtime with this id, if it is still alive.
pub(crate) fn get(id: u64) -> Option<Arc<Shared>> {
    let live = LIVE.lock().unwrap();
    live.iter()
        .find(|(i, _)| *i == id)
        .and_then(|(_, w)| w.upgrade())
}
