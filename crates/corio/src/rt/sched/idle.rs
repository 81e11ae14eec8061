//! Which workers are asleep, and the handshake that keeps a wake-up from being lost between
//! "a producer makes work visible" and "a worker decides there is nothing to do".
//!
//! # Protocol
//!
//! ```text
//!   producer                              worker going idle
//!   ────────                              ─────────────────
//!   P1 push the task (queue RMW)          W1 register: push self on `sleepers`, store count
//!   P2 fence(SeqCst)                      W2 fence(SeqCst)
//!   P3 load count; if > 0: pop a sleeper  W3 look at every visible queue; if work: unregister
//!      and rouse it                       W4 sleep (futex; a token left by P3 returns at once)
//!                                         W5 unregister, search again
//! ```
//!
//! The two fences order P1 before P3 and W1 before W3 in one total order, so either the
//! producer sees the sleeper (and rouses it: the sleeper's token means the rouse may even
//! come before W4) or the worker sees the task at W3. A worker popped by a producer but
//! already awake just searches once more: a wasted wake-up, never a lost one.
//!
//! The same lock also serialises the deadlock check: the worker that registers last sees
//! every worker asleep and, still under the lock, can decide that nothing will ever run again
//! (a worker that found work must take this lock to unregister, so it cannot slip away
//! unseen in between).

use crate::loom::{fence, AtomicUsize, Mutex, Ordering};

/// The registry of sleeping workers (see the module docs).
#[derive(Debug)]
pub(crate) struct Idle {
    sleepers: Mutex<Vec<usize>>,
    /// `sleepers.len()`, readable without the lock (P3).
    count: AtomicUsize,
    workers: usize,
}

impl Idle {
    pub(crate) fn new(workers: usize) -> Self {
        Idle {
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            count: AtomicUsize::new(0),
            workers,
        }
    }

    /// P2–P3: after making work visible, returns a sleeping worker to rouse, if any.
    pub(crate) fn pop_sleeper(&self) -> Option<usize> {
        fence(Ordering::SeqCst);
        if self.count.load(Ordering::SeqCst) == 0 {
            return None; // fast path: everybody is awake and will find the work.
        }
        let mut sleepers = self.sleepers.lock().unwrap();
        let w = sleepers.pop();
        self.count.store(sleepers.len(), Ordering::SeqCst);
        w
    }

    /// W1–W2: registers `me` as about to sleep.
    pub(crate) fn register(&self, me: usize) {
        let mut sleepers = self.sleepers.lock().unwrap();
        if !sleepers.contains(&me) {
            sleepers.push(me);
        }
        self.count.store(sleepers.len(), Ordering::SeqCst);
        drop(sleepers);
        fence(Ordering::SeqCst);
    }

    /// W5 (or W3 on finding work): `me` is awake again.
    pub(crate) fn unregister(&self, me: usize) {
        let mut sleepers = self.sleepers.lock().unwrap();
        if let Some(i) = sleepers.iter().position(|&w| w == me) {
            sleepers.swap_remove(i);
            self.count.store(sleepers.len(), Ordering::SeqCst);
        }
    }

    /// Runs `f` under the registry lock if every worker is registered as asleep.
    pub(crate) fn if_all_asleep<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let sleepers = self.sleepers.lock().unwrap();
        if sleepers.len() == self.workers {
            Some(f())
        } else {
            None
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn register_pop_unregister() {
        let idle = Idle::new(2);
        assert_eq!(idle.pop_sleeper(), None);
        idle.register(1);
        idle.register(1);
        assert_eq!(idle.if_all_asleep(|| ()), None);
        idle.register(0);
        assert_eq!(idle.if_all_asleep(|| 7), Some(7));
        assert_eq!(idle.pop_sleeper(), Some(0));
        idle.unregister(0); // already popped: harmless
        idle.unregister(1);
        assert_eq!(idle.pop_sleeper(), None);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::rt::sched::sleeper::Sleeper;
    use loom::sync::Arc;

    struct Model {
        idle: Idle,
        sleepers: Vec<Sleeper>,
        /// Tasks pushed but not taken: the "visible queue".
        queue: AtomicUsize,
        done: AtomicUsize,
    }

    impl Model {
        fn try_pop(&self) -> bool {
            let mut n = self.queue.load(Ordering::SeqCst);
            while n > 0 {
                match self
                    .queue
                    .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
                {
                    Ok(_) => return true,
                    Err(m) => n = m,
                }
            }
            false
        }

        /// The worker loop, reduced to the idle protocol.
        fn worker(&self, me: usize, tasks: usize) {
            loop {
                if self.done.load(Ordering::SeqCst) == tasks {
                    return;
                }
                if self.try_pop() {
                    if self.done.fetch_add(1, Ordering::SeqCst) + 1 == tasks {
                        // Shutdown: wake everybody so the model can end.
                        for p in &self.sleepers {
                            p.rouse();
                        }
                    }
                    continue;
                }
                self.idle.register(me);
                if self.queue.load(Ordering::SeqCst) > 0
                    || self.done.load(Ordering::SeqCst) == tasks
                {
                    self.idle.unregister(me);
                    continue;
                }
                self.sleepers[me].sleep(None);
                self.idle.unregister(me);
            }
        }

        fn push(&self) {
            self.queue.fetch_add(1, Ordering::SeqCst);
            if let Some(w) = self.idle.pop_sleeper() {
                self.sleepers[w].rouse();
            }
        }
    }

    /// loom_idle_no_lost_wakeup: a task pushed while the only worker goes to sleep is
    /// always run (a lost wake-up shows up as a loom deadlock).
    #[test]
    fn loom_idle_no_lost_wakeup() {
        loom::model(|| {
            let m = Arc::new(Model {
                idle: Idle::new(1),
                sleepers: vec![Sleeper::new()],
                queue: AtomicUsize::new(0),
                done: AtomicUsize::new(0),
            });
            let m2 = m.clone();
            let producer = loom::thread::spawn(move || m2.push());
            m.worker(0, 1);
            producer.join().unwrap();
        });
    }

    /// loom_idle_two_workers: two workers, two tasks pushed from outside.
    #[test]
    fn loom_idle_two_workers() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let m = Arc::new(Model {
                idle: Idle::new(2),
                sleepers: vec![Sleeper::new(), Sleeper::new()],
                queue: AtomicUsize::new(0),
                done: AtomicUsize::new(0),
            });
            let m1 = m.clone();
            let w1 = loom::thread::spawn(move || m1.worker(1, 2));
            let m2 = m.clone();
            let producer = loom::thread::spawn(move || {
                m2.push();
                m2.push();
            });
            m.worker(0, 2);
            producer.join().unwrap();
            w1.join().unwrap();
        });
    }
}
