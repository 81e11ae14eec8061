//! A hierarchical timer wheel (6 levels of 64 slots, 1 ms resolution, ~2 years of range),
//! one per worker: a coroutine's timers live on its home worker, like the coroutine.
//!
//! Level `L` slot `s` holds timers whose deadline (in ms since the wheel's origin) differs
//! from `elapsed` first in base-64 digit `L`, and has digit `s` there. Level 0 therefore holds
//! the current 64 ms, level 1 the current 4 s in 64 ms blocks, and so on. When time reaches a
//! slot of level `L > 0`, its timers are re-inserted, landing on lower levels ("cascading").
//!
//! Removal is O(1) and lazy: an entry carries a generation, its slab index is reused at once,
//! and the stale key left in a slot list is skipped when the slot is processed. So that a loop
//! that sets and removes far-off timers (a long `timeout` around quick work) does not pile
//! stale keys up until their slots come round, the slot lists are swept once the stale keys
//! outnumber the pending timers (amortised O(1) per removal).

use std::time::{Duration, Instant};

use crate::rt::scope::Mark;
use crate::rt::task::cell::TaskRef;

const LEVELS: usize = 6;
const SLOTS: usize = 64;
const MAX_MS: u64 = (1 << (6 * LEVELS)) - 1;
/// Stale keys tolerated before a sweep, however few timers are pending.
const SWEEP_MIN: usize = 1024;

/// Identifies a timer for [`Wheel::take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    generation: u32,
}

struct TimerEntry {
    deadline: u64,
    generation: u32,
    task: Option<TaskRef>,
    /// A timeout scope's mark, set when the timer fires (before its task is woken).
    mark: Option<Mark>,
    /// A retry of what an unwind held back (see [`Wheel::insert_retry`]).
    retry: bool,
}

/// The wheel (see the module docs).
pub(crate) struct Wheel {
    origin: Instant,
    /// Milliseconds since `origin` processed so far.
    elapsed: u64,
    slots: Box<[[Vec<TimerKey>; SLOTS]; LEVELS]>,
    /// Bit `s` of `occupied[L]`: level `L` slot `s` may hold keys.
    occupied: [u64; LEVELS],
    entries: Vec<TimerEntry>,
    free: Vec<u32>,
    live: usize,
    /// Pending timers that are retries ([`Wheel::insert_retry`]).
    retries: usize,
    /// Keys in slot lists whose timer was removed.
    stale: usize,
}

impl Wheel {
    pub(crate) fn new(origin: Instant) -> Self {
        Wheel {
            origin,
            elapsed: 0,
            slots: Box::new(std::array::from_fn(|_| std::array::from_fn(|_| Vec::new()))),
            occupied: [0; LEVELS],
            entries: Vec::new(),
            free: Vec::new(),
            live: 0,
            retries: 0,
            stale: 0,
        }
    }

    /// Pending timers.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Pending timers that are retries ([`insert_retry`](Self::insert_retry)).
    pub(crate) fn retries(&self) -> usize {
        self.retries
    }

    /// Deadline in wheel milliseconds, rounded up so a timer never fires early.
    fn ms(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.origin);
        let ms = d.as_millis() as u64 + u64::from(d.subsec_nanos() % 1_000_000 != 0);
        ms.min(MAX_MS)
    }

    /// Registers `task` to be woken at `deadline`, setting `mark` first if given.
    pub(crate) fn insert(
        &mut self,
        deadline: Instant,
        task: TaskRef,
        mark: Option<Mark>,
    ) -> TimerKey {
        let when = self.ms(deadline).max(self.elapsed + 1);
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push(TimerEntry {
                    deadline: 0,
                    generation: 0,
                    task: None,
                    mark: None,
                    retry: false,
                });
                (self.entries.len() - 1) as u32
            }
        };
        let e = &mut self.entries[index as usize];
        e.deadline = when;
        e.generation = e.generation.wrapping_add(1);
        e.task = Some(task);
        e.mark = mark;
        let key = TimerKey {
            index,
            generation: e.generation,
        };
        self.live += 1;
        self.place(key, when);
        key
    }

    /// [`insert`](Self::insert) for a retry of what an unwind held back (a cancellation, a
    /// due timeout scope): the task is woken as by a scope's timer. Counted apart, since such
    /// a timer wakes nothing that could end the unwind (see `Worker::publish_timers`).
    pub(crate) fn insert_retry(&mut self, deadline: Instant, task: TaskRef) -> TimerKey {
        let key = self.insert(deadline, task, Some(Mark::default()));
        self.entries[key.index as usize].retry = true;
        self.retries += 1;
        key
    }

    fn place(&mut self, key: TimerKey, when: u64) {
        let level = level_for(self.elapsed, when);
        let slot = ((when >> (6 * level)) & 63) as usize;
        self.slots[level][slot].push(key);
        self.occupied[level] |= 1 << slot;
    }

    /// Whether `key` is still pending.
    pub(crate) fn contains(&self, key: TimerKey) -> bool {
        let e = &self.entries[key.index as usize];
        e.generation == key.generation && e.task.is_some()
    }

    /// Cancels a pending timer and returns its task (so that the caller can drop it once it
    /// no longer holds the wheel), or `None` if it had fired or was removed already.
    pub(crate) fn take(&mut self, key: TimerKey) -> Option<TaskRef> {
        if !self.contains(key) {
            return None;
        }
        let task = self.release(key.index);
        self.stale += 1;
        if self.stale > SWEEP_MIN && self.stale > self.live {
            self.sweep();
        }
        task
    }

    /// Drops every stale key from the slot lists (and the room a burst of them took).
    fn sweep(&mut self) {
        let entries = &self.entries;
        for (level, slots) in self.slots.iter_mut().enumerate() {
            for (slot, keys) in slots.iter_mut().enumerate() {
                keys.retain(|k| {
                    let e = &entries[k.index as usize];
                    e.generation == k.generation && e.task.is_some()
                });
                if keys.capacity() > 4 * keys.len() + 16 {
                    keys.shrink_to(2 * keys.len());
                }
                if keys.is_empty() {
                    self.occupied[level] &= !(1 << slot);
                }
            }
        }
        self.stale = 0;
    }

    fn release(&mut self, index: u32) -> Option<TaskRef> {
        let e = &mut self.entries[index as usize];
        e.generation = e.generation.wrapping_add(1); // stale keys in slot lists now mismatch
        let task = e.task.take();
        e.mark = None;
        if std::mem::take(&mut e.retry) {
            self.retries -= 1;
        }
        self.free.push(index);
        self.live -= 1;
        task
    }

    /// The earliest time a slot must be processed (not later than the earliest deadline).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.is_empty() {
            return None;
        }
        let ms = self.next_expiration()?.2;
        Some(self.origin + Duration::from_millis(ms))
    }

    /// `(level, slot, when)` of the next occupied slot.
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let shift = 6 * level as u64;
            let pos = ((self.elapsed >> shift) & 63) as u32;
            let dist = occupied.rotate_right(pos).trailing_zeros();
            let slot = ((pos + dist) % 64) as usize;
            let range = 1u64 << shift; // ms per slot on this level
            let base = self.elapsed & !((range << 6) - 1); // start of this level's 64 slots
            let mut when = base + slot as u64 * range;
            if (slot as u32) < pos || (slot as u32 == pos && level > 0) {
                when += range << 6; // wrapped into the next rotation
            }
            return Some((level, slot, when.max(self.elapsed)));
        }
        None
    }

    /// Moves time to `now`, passing each expired timer's task to `fire`, with whether it was
    /// a timeout scope's (its mark is set by then).
    pub(crate) fn advance(&mut self, now: Instant, mut fire: impl FnMut(TaskRef, bool)) {
        // Whole milliseconds only: with deadlines rounded up, nothing fires early.
        let now = (now.saturating_duration_since(self.origin).as_millis() as u64)
            .min(MAX_MS)
            .max(self.elapsed);
        while let Some((level, slot, when)) = self.next_expiration() {
            if when > now {
                break;
            }
            self.elapsed = when;
            self.occupied[level] &= !(1 << slot);
            let keys = std::mem::take(&mut self.slots[level][slot]);
            for key in &keys {
                let e = &self.entries[key.index as usize];
                if e.generation != key.generation || e.task.is_none() {
                    self.stale -= 1; // removed
                    continue;
                }
                if e.deadline <= when {
                    let scoped = e.mark.as_ref().map(|mark| mark.set(true)).is_some();
                    if let Some(task) = self.release(key.index) {
                        fire(task, scoped);
                    }
                } else {
                    let d = e.deadline;
                    self.place(*key, d); // cascade down
                }
            }
            // Keep the slot's allocation for reuse.
            let mut keys = keys;
            keys.clear();
            if self.slots[level][slot].is_empty() {
                self.slots[level][slot] = keys;
            }
        }
        self.elapsed = now;
    }
}

/// The level whose digit is the highest one in which `elapsed` and `when` differ.
fn level_for(elapsed: u64, when: u64) -> usize {
    let masked = (elapsed ^ when) | 63; // differ only in digit 0 → level 0
    let significant = 63 - masked.leading_zeros() as usize;
    (significant / 6).min(LEVELS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;
    use std::sync::Arc;

    fn task() -> TaskRef {
        crate::rt::task::cell::TaskCell::new(|| (), 0, None, std::panic::Location::caller())
    }

    fn fired_at(wheel: &mut Wheel, origin: Instant, ms: u64) -> usize {
        let mut n = 0;
        wheel.advance(origin + Duration::from_millis(ms), |_, _| n += 1);
        n
    }

    #[test]
    fn fires_in_order_never_early() {
        let origin = Instant::now();
        let mut w = Wheel::new(origin);
        let delays = [
            1u64, 5, 63, 64, 65, 100, 4095, 4096, 5000, 300_000, 20_000_000,
        ];
        for d in delays {
            w.insert(origin + Duration::from_millis(d), task(), None);
        }
        assert_eq!(w.len(), delays.len());
        let mut fired = 0;
        for d in delays {
            assert_eq!(
                fired_at(&mut w, origin, d - 1) + fired,
                fired,
                "early at {d}"
            );
            fired += fired_at(&mut w, origin, d);
            assert_eq!(fired, delays.iter().filter(|&&x| x <= d).count(), "at {d}");
        }
        assert!(w.is_empty());
    }

    #[test]
    fn remove_and_reuse() {
        let origin = Instant::now();
        let mut w = Wheel::new(origin);
        let t = task();
        let k = w.insert(origin + Duration::from_millis(10), t.clone(), None);
        assert!(w.contains(k));
        assert!(w.take(k).is_some());
        assert!(w.take(k).is_none());
        let k2 = w.insert(origin + Duration::from_millis(20), t.clone(), None);
        assert_ne!(k, k2);
        assert_eq!(fired_at(&mut w, origin, 15), 0);
        assert_eq!(fired_at(&mut w, origin, 25), 1);
        assert_eq!(Arc::strong_count(&t), 1);
    }

    /// Keys held in slot lists, stale ones included.
    fn keys_held(w: &Wheel) -> usize {
        w.slots.iter().flatten().map(Vec::len).sum()
    }

    #[test]
    fn removed_far_off_timers_do_not_pile_up_in_the_slot_lists() {
        let origin = Instant::now();
        let mut w = Wheel::new(origin);
        let kept = w.insert(origin + Duration::from_secs(7200), task(), None);
        for i in 0..100_000u64 {
            let k = w.insert(origin + Duration::from_secs(3600 + i % 100), task(), None);
            assert!(w.take(k).is_some());
        }
        assert_eq!(w.len(), 1);
        assert!(
            keys_held(&w) <= SWEEP_MIN + 2,
            "{} keys held",
            keys_held(&w)
        );
        assert!(w.contains(kept));
        // What is still pending fires, and the stale count stays consistent through it.
        assert_eq!(fired_at(&mut w, origin, 7_200_000), 1);
        assert_eq!((w.len(), w.stale, keys_held(&w)), (0, 0, 0));
    }

    #[test]
    fn retries_are_counted_until_they_fire_or_are_removed() {
        let origin = Instant::now();
        let mut w = Wheel::new(origin);
        w.insert(origin + Duration::from_millis(2), task(), None);
        w.insert_retry(origin + Duration::from_millis(1), task());
        let k = w.insert_retry(origin + Duration::from_millis(9), task());
        assert_eq!((w.len(), w.retries()), (3, 2));
        let mut scoped = Vec::new();
        w.advance(origin + Duration::from_millis(1), |_, s| scoped.push(s));
        assert_eq!(scoped, [true], "a retry wakes as a scope's timer does");
        assert_eq!((w.len(), w.retries()), (2, 1));
        assert!(w.take(k).is_some());
        assert_eq!((w.len(), w.retries()), (1, 0));
        // The freed entries are reused by plain timers, which do not count as retries.
        w.insert(origin + Duration::from_millis(5), task(), None);
        w.insert(origin + Duration::from_millis(6), task(), None);
        assert_eq!((w.len(), w.retries()), (3, 0));
    }

    #[test]
    fn a_scope_mark_is_set_when_its_timer_fires_only() {
        let origin = Instant::now();
        let mut w = Wheel::new(origin);
        let (fires, removed) = (Mark::default(), Mark::default());
        w.insert(
            origin + Duration::from_millis(3),
            task(),
            Some(fires.clone()),
        );
        let k = w.insert(
            origin + Duration::from_millis(3),
            task(),
            Some(removed.clone()),
        );
        assert!(w.take(k).is_some());
        assert_eq!(fired_at(&mut w, origin, 2), 0);
        assert!(!fires.get());
        assert_eq!(fired_at(&mut w, origin, 3), 1);
        assert!(fires.get() && !removed.get());
        assert_eq!(
            Rc::strong_count(&removed),
            1,
            "the wheel let go of the mark"
        );
    }

    #[test]
    fn next_deadline_bounds_the_earliest_timer() {
        let origin = Instant::now();
        let mut w = Wheel::new(origin);
        assert!(w.next_deadline().is_none());
        w.insert(origin + Duration::from_millis(5000), task(), None);
        let nd = w.next_deadline().unwrap();
        assert!(nd <= origin + Duration::from_millis(5000));
        // Following next_deadline repeatedly reaches the timer.
        let mut n = 0;
        for _ in 0..10 {
            if let Some(d) = w.next_deadline() {
                w.advance(d + Duration::from_millis(1), |_, _| n += 1);
            }
        }
        assert_eq!(n, 1);
    }
}
