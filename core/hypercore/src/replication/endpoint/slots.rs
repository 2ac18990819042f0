//! The endpoint's core slots, and which of them were changed since the last flush.
//!
//! A flush brings changed cores up to date (their log events, finished requests,
//! announcements). With a store's ten thousand cores open, looking at every core on every
//! flush cost more than the work itself (each look touches the core's boxed slot), so
//! [`Slots`] notes every core handed out for changing (`get_mut`, `IndexMut`, `iter_mut`,
//! `push`) and a flush visits only those. It also keeps the cores that had a deadline at
//! their last flush, so the next deadline is found without looking at every core.

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::ops::{Index, IndexMut};

/// Slots by index (a removed one leaves `None`: one pointer), and the indices handed out
/// mutably since [`take_touched`](Self::take_touched).
pub(super) struct Slots<T> {
    slots: Vec<Option<Box<T>>>,
    /// Indices handed out mutably, each once, in the order they were.
    touched: Vec<u32>,
    /// `queued[i]`: `i` is in `touched`.
    queued: Vec<bool>,
    /// Indices whose slot had a deadline when last flushed (see
    /// [`set_has_deadline`](Self::set_has_deadline)).
    deadlines: BTreeSet<u32>,
}

impl<T> Slots<T> {
    pub(super) fn new() -> Self {
        Self {
            slots: Vec::new(),
            touched: Vec::new(),
            queued: Vec::new(),
            deadlines: BTreeSet::new(),
        }
    }

    fn mark(&mut self, i: usize) {
        if let Some(q) = self.queued.get_mut(i) {
            if !*q {
                *q = true;
                self.touched.push(i as u32);
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Adds a slot (touched: a new core is flushed once).
    pub(super) fn push(&mut self, slot: Option<Box<T>>) {
        self.slots.push(slot);
        self.queued.push(false);
        self.mark(self.slots.len() - 1);
    }

    pub(super) fn get(&self, i: usize) -> Option<&Option<Box<T>>> {
        self.slots.get(i)
    }

    /// Slot `i` for changing: it is flushed next time.
    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut Option<Box<T>>> {
        self.mark(i);
        self.slots.get_mut(i)
    }

    /// Slot `i` for the flush itself (not noted as touched).
    pub(super) fn get_mut_flushing(&mut self, i: usize) -> Option<&mut Option<Box<T>>> {
        self.slots.get_mut(i)
    }

    pub(super) fn iter(&self) -> core::slice::Iter<'_, Option<Box<T>>> {
        self.slots.iter()
    }

    /// Every slot for changing: all are flushed next time.
    pub(super) fn iter_mut(&mut self) -> core::slice::IterMut<'_, Option<Box<T>>> {
        for i in 0..self.slots.len() {
            self.mark(i);
        }
        self.slots.iter_mut()
    }

    /// The indices touched since the last call, in increasing order; none is noted any
    /// more.
    pub(super) fn take_touched(&mut self) -> Vec<u32> {
        let mut touched = core::mem::take(&mut self.touched);
        for &i in &touched {
            self.queued[i as usize] = false;
        }
        touched.sort_unstable();
        touched
    }
}

impl<T> Slots<T> {
    /// Notes whether slot `i`, just flushed, has a deadline.
    pub(super) fn set_has_deadline(&mut self, i: u32, has: bool) {
        if has {
            self.deadlines.insert(i);
        } else {
            self.deadlines.remove(&i);
        }
    }

    /// Every slot that can have a deadline: those that had one when last flushed and those
    /// touched since (an index may come twice).
    pub(super) fn deadline_candidates(&self) -> impl Iterator<Item = &T> + '_ {
        self.deadlines
            .iter()
            .chain(&self.touched)
            .filter_map(|&i| self.slots.get(i as usize)?.as_deref())
    }
}

impl<T> Index<usize> for Slots<T> {
    type Output = Option<Box<T>>;

    fn index(&self, i: usize) -> &Self::Output {
        &self.slots[i]
    }
}

impl<T> IndexMut<usize> for Slots<T> {
    fn index_mut(&mut self, i: usize) -> &mut Self::Output {
        self.mark(i);
        &mut self.slots[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_slots_handed_out_mutably_are_touched_each_once_in_order() {
        let mut s: Slots<u8> = Slots::new();
        for v in 0..5 {
            s.push(Some(Box::new(v)));
        }
        assert_eq!(s.take_touched(), [0, 1, 2, 3, 4]);
        assert!(s.take_touched().is_empty());
        let _ = s.get(1);
        let _ = &s[2];
        assert!(s.take_touched().is_empty(), "reads touch nothing");
        let _ = s.get_mut(3);
        let _ = &mut s[1];
        let _ = s.get_mut(3);
        let _ = s.get_mut_flushing(4);
        let _ = s.get_mut(9);
        assert_eq!(s.take_touched(), [1, 3]);
        let _ = s.iter_mut();
        assert_eq!(s.take_touched(), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn deadline_candidates_are_the_noted_and_the_touched() {
        let mut s: Slots<u8> = Slots::new();
        for v in 0..5 {
            s.push(Some(Box::new(v)));
        }
        let _ = s.take_touched();
        assert_eq!(s.deadline_candidates().count(), 0);
        s.set_has_deadline(1, true);
        s.set_has_deadline(3, true);
        s.set_has_deadline(3, false);
        let _ = s.get_mut(4);
        let mut seen: Vec<u8> = s.deadline_candidates().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, [1, 4]);
    }
}
