//! A counting global allocator, per thread, for tests that bound the heap a state machine
//! holds: each test drives its machines on its own thread, so tests running in parallel do
//! not disturb each other's counts.
//!
//! A test binary opts in with
//! `#[global_allocator] static ALLOCATOR: ferrocore_tests::heap::Counting = ferrocore_tests::heap::Counting;`
//! and then reads [`live_bytes`] (what the thread holds now) or [`peak_bytes`] (the most it
//! held since [`reset_peak`]).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting what each thread holds and its peak.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn count(delta: i64) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as i64));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Heap bytes this thread allocated and has not freed (only while [`Counting`] is the
/// global allocator; 0 otherwise).
#[must_use]
pub fn live_bytes() -> i64 {
    LIVE.with(Cell::get)
}

/// The most heap bytes this thread held at once since the last [`reset_peak`].
#[must_use]
pub fn peak_bytes() -> i64 {
    PEAK.with(Cell::get)
}

/// Starts a new peak measurement from what the thread holds now.
pub fn reset_peak() {
    let live = live_bytes();
    PEAK.with(|peak| peak.set(live));
}
