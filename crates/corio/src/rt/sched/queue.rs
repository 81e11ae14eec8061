//! The queues of unstarted tasks: each worker's bounded `fresh` ring ([`Fresh`], with the
//! [`Stealer`] other workers take half of it through) and the runtime's [`Injector`].
//!
//! Neither allocates once warm. They replaced crossbeam's deques, which grow and shrink their
//! buffer as a burst of spawns comes and goes and allocate a block per 63 injected tasks: the
//! `spawn` row's batches of 1000 spawns then joins freed and reallocated those every batch,
//! and each allocation above glibc's small sizes consolidated its fast bins, sending the task
//! cells' own allocations down the slow path. Same scheduling, one worker: 1698 → 1417
//! instructions per spawn (callgrind), 180 → 153 ns.
//!
//! # The ring
//!
//! [`LOCAL_CAP`] slots; `tail` (written only by the owner) is where the next push goes, and
//! `head` packs two positions: `real`, the next task to take, and `steal`, where a steal in
//! progress began (equal to `real` when none is). A thief first claims a run of tasks by
//! moving `real` past them (one CAS), copies them out, then sets `steal = real` (a second
//! CAS). Until then the owner does not reuse those slots: its room is counted from `steal`.
//! The owner pops by moving `real` (and `steal` with it when no steal is in progress).
//! Positions are `u32` counters that wrap; slot `i` is `i % LOCAL_CAP`.
//!
//! The same protocol as tokio's local run queue (`runtime/scheduler/multi_thread/queue.rs`),
//! written for corio's task type and checked by the loom models below.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::sync::Arc;

use crate::loom::cell::UnsafeCell;
use crate::loom::{AtomicU32, AtomicU64, AtomicUsize, Mutex, Ordering};

/// Slots in a worker's ring (4 under loom, so the models can fill it).
const LOCAL_CAP: usize = if cfg!(loom) { 4 } else { 256 };
/// How many tasks a full ring moves to the injector at once: the older half.
const SPILL: u32 = (LOCAL_CAP / 2) as u32;
/// Most tasks one steal takes from the injector into a ring.
const INJECTOR_BATCH: usize = 32;

const _: () = assert!(LOCAL_CAP.is_power_of_two() && LOCAL_CAP <= u32::MAX as usize / 2);

struct Ring<T> {
    /// `pack(steal, real)`.
    head: AtomicU64,
    tail: AtomicU32,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

fn pack(steal: u32, real: u32) -> u64 {
    ((steal as u64) << 32) | real as u64
}

fn unpack(head: u64) -> (u32, u32) {
    ((head >> 32) as u32, head as u32)
}

impl<T> Ring<T> {
    fn slot(&self, pos: u32) -> &UnsafeCell<MaybeUninit<T>> {
        &self.slots[pos as usize & (LOCAL_CAP - 1)]
    }

    /// # Safety
    /// The slot at `pos` holds a task that the caller has claimed (it alone reads it).
    unsafe fn take(&self, pos: u32) -> T {
        // SAFETY: the caller's claim makes this the one read of an initialised slot.
        self.slot(pos)
            .with_mut(|p| unsafe { (*p).assume_init_read() })
    }

    /// # Safety
    /// The slot at `pos` is free (between `tail` and `steal + LOCAL_CAP`) and only the owner
    /// writes slots.
    unsafe fn put(&self, pos: u32, task: T) {
        // SAFETY: nobody reads a free slot until `tail` is published past it.
        self.slot(pos).with_mut(|p| unsafe { (*p).write(task) });
    }

    /// Tasks in the ring that nobody has claimed.
    fn len(&self) -> usize {
        let (_, real) = unpack(self.head.load(Ordering::Acquire));
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(real) as usize
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Both ends are gone: no steal is in progress, so `real..tail` are the tasks left.
        let (_, real) = unpack(self.head.load(Ordering::Relaxed));
        let tail = self.tail.load(Ordering::Relaxed);
        let mut pos = real;
        while pos != tail {
            // SAFETY: `&mut self`: the slots between `real` and `tail` are initialised and
            // nobody else can read them.
            drop(unsafe { self.take(pos) });
            pos = pos.wrapping_add(1);
        }
    }
}

/// The owner's end of a worker's ring: push and pop (FIFO). `Send` but not `Sync`: exactly
/// one thread, the worker's, may use it.
pub(crate) struct Fresh<T> {
    ring: Arc<Ring<T>>,
    not_sync: PhantomData<std::cell::Cell<()>>,
}

/// The thieves' end of a worker's ring.
pub(crate) struct Stealer<T> {
    ring: Arc<Ring<T>>,
}

// SAFETY: the ring hands each task to exactly one thread (the claims above), and `T: Send`
// lets it move there.
unsafe impl<T: Send> Send for Stealer<T> {}
// SAFETY: as for `Send`: every method claims tasks through the atomics before touching them.
unsafe impl<T: Send> Sync for Stealer<T> {}
// SAFETY: moving the owner's end to another thread moves the owner role with it.
unsafe impl<T: Send> Send for Fresh<T> {}

/// A new empty ring: its owner's end and its thieves' end.
pub(crate) fn ring<T>() -> (Fresh<T>, Stealer<T>) {
    let ring = Arc::new(Ring {
        head: AtomicU64::new(0),
        tail: AtomicU32::new(0),
        slots: (0..LOCAL_CAP)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect(),
    });
    let fresh = Fresh {
        ring: ring.clone(),
        not_sync: PhantomData,
    };
    (fresh, Stealer { ring })
}

impl<T> Fresh<T> {
    /// Adds `task` at the back. If the ring is full, its older half and `task` go to
    /// `overflow` instead, and this returns `true` (the caller lets idle workers know).
    pub(crate) fn push(&self, task: T, overflow: &Injector<T>) -> bool {
        let ring = &*self.ring;
        let mut task = task;
        loop {
            let (steal, real) = unpack(ring.head.load(Ordering::Acquire));
            // Only this thread writes `tail`.
            let tail = ring.tail.load(Ordering::Relaxed);
            if tail.wrapping_sub(steal) < LOCAL_CAP as u32 {
                // SAFETY: `tail` is below `steal + LOCAL_CAP`, so its slot is free, and we are
                // the owner.
                unsafe { ring.put(tail, task) };
                ring.tail.store(tail.wrapping_add(1), Ordering::Release);
                return false;
            }
            if steal != real {
                // A thief is taking some: it frees room soon; only this task overflows.
                overflow.push(task);
                return true;
            }
            match self.spill(real, task, overflow) {
                Ok(()) => return true,
                Err(t) => task = t, // a thief or our own pop moved `head`: look again
            }
        }
    }

    /// Moves the [`SPILL`] oldest tasks and `task` to the injector, if `head` is still
    /// `(real, real)` (a full ring with no steal in progress).
    fn spill(&self, real: u32, task: T, injector: &Injector<T>) -> Result<(), T> {
        let ring = &*self.ring;
        let next = real.wrapping_add(SPILL);
        // Acquire is not needed: the slots were written by this thread.
        if ring
            .head
            .compare_exchange(
                pack(real, real),
                pack(next, next),
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return Err(task);
        }
        let claimed = (0..SPILL).map(|i| {
            // SAFETY: the CAS above claimed `real..next` for us; each is read once.
            unsafe { ring.take(real.wrapping_add(i)) }
        });
        injector.push_batch(claimed.chain(std::iter::once(task)));
        Ok(())
    }

    /// Takes the task at the front.
    pub(crate) fn pop(&self) -> Option<T> {
        let ring = &*self.ring;
        let mut head = ring.head.load(Ordering::Acquire);
        loop {
            let (steal, real) = unpack(head);
            if real == ring.tail.load(Ordering::Relaxed) {
                return None;
            }
            let next_real = real.wrapping_add(1);
            // With a steal in progress only `real` moves; `steal` stays where it began.
            let next = if steal == real {
                pack(next_real, next_real)
            } else {
                pack(steal, next_real)
            };
            match ring
                .head
                .compare_exchange(head, next, Ordering::AcqRel, Ordering::Acquire)
            {
                // SAFETY: the CAS claimed `real` for us.
                Ok(_) => return Some(unsafe { ring.take(real) }),
                Err(actual) => head = actual,
            }
        }
    }

    /// Whether the ring holds no task (exact for its owner: only it adds).
    pub(crate) fn is_empty(&self) -> bool {
        self.ring.len() == 0
    }

    /// Slots this owner may still fill without spilling.
    fn room(&self) -> usize {
        let (steal, _) = unpack(self.ring.head.load(Ordering::Acquire));
        let tail = self.ring.tail.load(Ordering::Relaxed);
        LOCAL_CAP - tail.wrapping_sub(steal) as usize
    }

    /// Appends tasks the caller has taken from elsewhere; there must be room for each.
    fn extend(&self, tasks: impl Iterator<Item = T>) {
        let ring = &*self.ring;
        let mut tail = ring.tail.load(Ordering::Relaxed);
        for task in tasks {
            // SAFETY: the caller checked `room`, which only grows meanwhile (thieves free
            // slots, only we fill them), and we are the owner.
            unsafe { ring.put(tail, task) };
            tail = tail.wrapping_add(1);
        }
        ring.tail.store(tail, Ordering::Release);
    }
}

impl<T> Stealer<T> {
    /// Takes half of the ring's tasks (rounded up, at most `LOCAL_CAP / 2`): returns the
    /// first and appends the others to `dst`, the caller's own ring. `None` if there was
    /// nothing to take, `dst` has no room for half a ring, or another thief is mid-steal.
    pub(crate) fn steal_into(&self, dst: &Fresh<T>) -> Option<T> {
        if dst.room() < LOCAL_CAP / 2 {
            return None;
        }
        let (first, n) = self.claim(|available| (available - available / 2).min(SPILL))?;
        let src = &*self.ring;
        let mut claimed = (0..n).map(|i| {
            // SAFETY: `claim` gave us `first..first + n`, and the owner does not refill them
            // before `release`.
            unsafe { src.take(first.wrapping_add(i)) }
        });
        let task = claimed.next();
        dst.extend(claimed);
        self.release(first);
        task
    }

    /// Takes the task at the front, unless another thief is mid-steal.
    pub(crate) fn steal_one(&self) -> Option<T> {
        let (first, _) = self.claim(|_| 1)?;
        // SAFETY: as in `steal_into`, for the one task claimed.
        let task = unsafe { self.ring.take(first) };
        self.release(first);
        Some(task)
    }

    /// Claims `how_many(available)` tasks (at least one) from the front by moving `real` past
    /// them; `steal` stays at the first until [`release`](Self::release), so the owner keeps
    /// off their slots. Returns the first position and the count.
    fn claim(&self, how_many: impl Fn(u32) -> u32) -> Option<(u32, u32)> {
        let ring = &*self.ring;
        let mut head = ring.head.load(Ordering::Acquire);
        loop {
            let (steal, real) = unpack(head);
            if steal != real {
                return None; // another thief is copying: leave it to them
            }
            let available = ring.tail.load(Ordering::Acquire).wrapping_sub(real);
            if available == 0 {
                return None;
            }
            let n = how_many(available);
            match ring.head.compare_exchange(
                head,
                pack(steal, real.wrapping_add(n)),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some((real, n)),
                Err(actual) => head = actual,
            }
        }
    }

    /// Ends the steal that [`claim`](Self::claim)ed from `first`: its slots are free again
    /// (the owner may have popped meanwhile, so `real` is re-read).
    fn release(&self, first: u32) {
        let ring = &*self.ring;
        let mut head = ring.head.load(Ordering::Acquire);
        loop {
            let (steal, real) = unpack(head);
            debug_assert_eq!(steal, first);
            match ring.head.compare_exchange(
                head,
                pack(real, real),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Tasks waiting in the ring (a snapshot).
    pub(crate) fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether the ring looked empty. The fence orders this look after the caller's own
    /// earlier writes (the idle protocol: register as idle, then look at the queues).
    pub(crate) fn is_empty(&self) -> bool {
        let (_, real) = unpack(self.ring.head.load(Ordering::Acquire));
        crate::loom::fence(Ordering::SeqCst);
        self.ring.tail.load(Ordering::Acquire) == real
    }
}

/// The runtime's shared FIFO of unstarted tasks: spawns from threads that are not workers,
/// and what full rings spill. A lock around a `VecDeque`: it is touched in batches (a spill
/// moves half a ring in one lock, a worker takes up to [`INJECTOR_BATCH`] in one), and its
/// length is kept beside it so that looking for work takes no lock.
pub(crate) struct Injector<T> {
    queue: Mutex<VecDeque<T>>,
    len: AtomicUsize,
}

impl<T> Default for Injector<T> {
    fn default() -> Self {
        Injector {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }
}

impl<T> Injector<T> {
    fn lock(&self) -> impl std::ops::DerefMut<Target = VecDeque<T>> + '_ {
        // A panic cannot leave the deque half-changed (it only moves tasks in and out).
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `task` at the back.
    pub(crate) fn push(&self, task: T) {
        self.push_batch(std::iter::once(task));
    }

    /// Adds `tasks` at the back, in order, under one lock.
    pub(crate) fn push_batch(&self, tasks: impl Iterator<Item = T>) {
        let mut queue = self.lock();
        queue.extend(tasks);
        // SeqCst, as every store the idle protocol's look at the queues must see.
        self.len.store(queue.len(), Ordering::SeqCst);
    }

    /// Takes the task at the front.
    pub(crate) fn pop(&self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let mut queue = self.lock();
        let task = queue.pop_front();
        self.len.store(queue.len(), Ordering::SeqCst);
        task
    }

    /// Takes the task at the front and moves a batch after it into `dst` (half of what is
    /// queued, at most [`INJECTOR_BATCH`] and what fits).
    pub(crate) fn pop_into(&self, dst: &Fresh<T>) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let room = dst.room();
        let mut queue = self.lock();
        let task = queue.pop_front()?;
        let n = queue.len().div_ceil(2).min(INJECTOR_BATCH).min(room);
        dst.extend(queue.drain(..n));
        self.len.store(queue.len(), Ordering::SeqCst);
        Some(task)
    }

    /// Whether it looked empty (no lock; SeqCst, for the idle protocol).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tasks queued (a snapshot).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo_within_one_ring() {
        let (fresh, _stealer) = ring();
        let injector = Injector::default();
        for i in 0..10 {
            assert!(!fresh.push(i, &injector));
        }
        let popped: Vec<_> = std::iter::from_fn(|| fresh.pop()).collect();
        assert_eq!(popped, (0..10).collect::<Vec<_>>());
        assert!(fresh.is_empty());
    }

    #[test]
    fn a_full_ring_spills_its_older_half_and_the_new_task() {
        let (fresh, stealer) = ring();
        let injector = Injector::default();
        for i in 0..LOCAL_CAP {
            assert!(!fresh.push(i, &injector));
        }
        assert!(fresh.push(LOCAL_CAP, &injector));
        assert_eq!(injector.len(), LOCAL_CAP / 2 + 1);
        assert_eq!(stealer.len(), LOCAL_CAP / 2);
        let spilled: Vec<_> = std::iter::from_fn(|| injector.pop()).collect();
        let mut expected: Vec<_> = (0..LOCAL_CAP / 2).collect();
        expected.push(LOCAL_CAP);
        assert_eq!(spilled, expected);
        let kept: Vec<_> = std::iter::from_fn(|| fresh.pop()).collect();
        assert_eq!(kept, (LOCAL_CAP / 2..LOCAL_CAP).collect::<Vec<_>>());
    }

    #[test]
    fn steal_takes_half_rounded_up_and_wraps() {
        let (victim, stealer) = ring();
        let (thief, _) = ring();
        let injector = Injector::default();
        // Move the positions near the wrap of the slot index first.
        for round in 0..3 {
            for i in 0..LOCAL_CAP - 3 {
                victim.push(round * 1000 + i, &injector);
            }
            while victim.pop().is_some() {}
        }
        for i in 0..5 {
            victim.push(i, &injector);
        }
        assert_eq!(stealer.steal_into(&thief), Some(0));
        assert_eq!(thief.pop(), Some(1));
        assert_eq!(thief.pop(), Some(2));
        assert_eq!(thief.pop(), None);
        assert_eq!(victim.pop(), Some(3));
        assert_eq!(stealer.steal_one(), Some(4));
        assert_eq!(stealer.steal_into(&thief), None);
        assert!(injector.is_empty());
    }

    #[test]
    fn injector_batches_into_a_ring_within_its_room() {
        let (fresh, _) = ring();
        let injector = Injector::default();
        injector.push_batch(0..100);
        assert_eq!(injector.pop_into(&fresh), Some(0));
        // Half of the 99 left, capped at the batch size.
        assert_eq!(fresh.ring.len(), INJECTOR_BATCH);
        assert_eq!(injector.len(), 99 - INJECTOR_BATCH);
        for i in INJECTOR_BATCH..LOCAL_CAP - 1 {
            fresh.push(1000 + i, &injector);
        }
        assert_eq!(fresh.room(), 1);
        assert_eq!(injector.pop_into(&fresh), Some(1 + INJECTOR_BATCH));
        assert_eq!(fresh.room(), 0);
    }

    #[test]
    fn dropping_the_ring_drops_what_it_holds() {
        let token = Arc::new(());
        let (fresh, stealer) = ring();
        let injector = Injector::default();
        for _ in 0..LOCAL_CAP + 1 {
            fresh.push(token.clone(), &injector);
        }
        drop(fresh.pop());
        drop((fresh, stealer, injector));
        assert_eq!(Arc::strong_count(&token), 1);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    /// Everything pushed comes out exactly once, wherever it went: popped by its owner,
    /// stolen (then popped by the thief), or spilled to the injector.
    fn check_all_taken(pushed: usize, mut taken: Vec<usize>) {
        taken.sort_unstable();
        assert_eq!(taken, (0..pushed).collect::<Vec<_>>());
    }

    /// A thief's whole haul: one steal into its own ring, then everything popped from it.
    fn steal_all(stealer: &Stealer<usize>) -> Vec<usize> {
        let (mine, _) = ring();
        let mut got: Vec<usize> = stealer.steal_into(&mine).into_iter().collect();
        got.extend(std::iter::from_fn(|| mine.pop()));
        got
    }

    /// loom_ring_steal_vs_pop_and_spill: the owner pushes past capacity (so it spills) and
    /// pops while a thief steals half.
    #[test]
    fn loom_ring_steal_vs_pop_and_spill() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let (fresh, stealer) = ring::<usize>();
            let injector = Injector::default();
            let thief = loom::thread::spawn(move || steal_all(&stealer));
            let pushed = LOCAL_CAP + 2;
            let mut taken = Vec::new();
            for i in 0..pushed {
                fresh.push(i, &injector);
                if i == 1 {
                    taken.extend(fresh.pop());
                }
            }
            taken.extend(std::iter::from_fn(|| fresh.pop()));
            taken.extend(thief.join().unwrap());
            taken.extend(std::iter::from_fn(|| injector.pop()));
            check_all_taken(pushed, taken);
        });
    }

    /// loom_ring_steal_one_vs_refill: a single steal from a full ring while its owner pops
    /// and refills the slot (the owner must not reuse it before the thief has read it).
    #[test]
    fn loom_ring_steal_one_vs_refill() {
        loom::model(|| {
            let (fresh, stealer) = ring::<usize>();
            let injector = Injector::default();
            for i in 0..LOCAL_CAP {
                fresh.push(i, &injector);
            }
            let thief = loom::thread::spawn(move || stealer.steal_one());
            let mut taken: Vec<usize> = fresh.pop().into_iter().collect();
            fresh.push(LOCAL_CAP, &injector);
            fresh.push(LOCAL_CAP + 1, &injector);
            taken.extend(thief.join().unwrap());
            taken.extend(std::iter::from_fn(|| fresh.pop()));
            taken.extend(std::iter::from_fn(|| injector.pop()));
            check_all_taken(LOCAL_CAP + 2, taken);
        });
    }

    /// loom_ring_two_thieves: two thieves and the owner's pops race for the same tasks.
    #[test]
    fn loom_ring_two_thieves() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(|| {
            let (fresh, stealer) = ring::<usize>();
            let injector = Injector::default();
            let pushed = 3;
            for i in 0..pushed {
                fresh.push(i, &injector);
            }
            let stealer = Arc::new(stealer);
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let stealer = stealer.clone();
                    loom::thread::spawn(move || steal_all(&stealer))
                })
                .collect();
            let mut taken: Vec<usize> = fresh.pop().into_iter().collect();
            for t in thieves {
                taken.extend(t.join().unwrap());
            }
            taken.extend(std::iter::from_fn(|| fresh.pop()));
            check_all_taken(pushed, taken);
        });
    }
}
