//! A short busy wait before a thread sleeps.
//!
//! A blocking caller and the driver thread hand every command and its answer to each
//! other. When both sleep between hand-overs, each one costs two kernel wake-ups (a byte
//! on the driver's wake-up socket, a futex for the answer): tens of microseconds, several
//! times the work of a read served from local blocks. A thread that expects the other
//! side back within a few microseconds therefore checks for it for a short while
//! ([`SPIN`], [`ANSWER_SPIN`]) before it sleeps, yielding the CPU between checks so a machine with fewer
//! cores than busy threads loses little. Only a thread that was just handed work (or just
//! handed some over) spins; an idle node sleeps at once.

use std::time::{Duration, Instant};

/// How long the driver thread checks for a handle's next command before it sleeps.
pub const SPIN: Duration = Duration::from_micros(50);

/// How long a caller checks for the driver's answer before it sleeps: longer than
/// [`SPIN`], as answers take the driver longer than a caller takes to send its next
/// command (a put over local blocks, signed, takes about 50 µs).
pub const ANSWER_SPIN: Duration = Duration::from_micros(200);

/// Checks `ready` until it is true (then true) or `budget` has passed (then false),
/// pausing between checks (a few spin hints, then a yield of the CPU).
pub fn spin_until(budget: Duration, mut ready: impl FnMut() -> bool) -> bool {
    if ready() {
        return true;
    }
    let start = Instant::now();
    let mut round = 0u32;
    loop {
        if round < 8 {
            for _ in 0..(1 << round) {
                std::hint::spin_loop();
            }
            round += 1;
        } else {
            std::thread::yield_now();
        }
        if ready() {
            return true;
        }
        if start.elapsed() >= budget {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn spins_until_ready_or_out_of_budget() {
        assert!(spin_until(Duration::ZERO, || true));
        let t = Instant::now();
        assert!(!spin_until(Duration::from_millis(2), || false));
        assert!(t.elapsed() >= Duration::from_millis(2));
        let flag = Arc::new(AtomicBool::new(false));
        let setter = std::thread::spawn({
            let flag = flag.clone();
            move || flag.store(true, Ordering::SeqCst)
        });
        assert!(spin_until(Duration::from_secs(10), || flag.load(Ordering::SeqCst)));
        setter.join().unwrap();
    }
}
