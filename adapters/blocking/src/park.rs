//! Waiting for a future on the calling thread: checked for a short while
//! ([`ferrocore_driver::spin`]) before the thread parks, so an answer the driver thread
//! gives within microseconds costs no kernel wake-up on either side.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use ferrocore_driver::spin::{spin_until, ANSWER_SPIN};

/// Wakes the waiting thread: a flag it checks while spinning, and an unpark for when
/// it sleeps (cheap when it does not).
struct Signal {
    woken: AtomicBool,
    thread: Thread,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, Ordering::AcqRel) {
            self.thread.unpark();
        }
    }
}

/// Polls `future` on this thread until it is ready.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let signal = Arc::new(Signal {
        woken: AtomicBool::new(false),
        thread: std::thread::current(),
    });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        if !spin_until(ANSWER_SPIN, || signal.woken.load(Ordering::Acquire)) {
            while !signal.woken.load(Ordering::Acquire) {
                std::thread::park();
            }
        }
        signal.woken.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn waits_for_a_wake_from_another_thread_fast_or_slow() {
        for delay in [Duration::ZERO, Duration::from_millis(20)] {
            let slot = Arc::new(std::sync::Mutex::new((None::<u32>, None::<Waker>)));
            let setter = std::thread::spawn({
                let slot = slot.clone();
                move || {
                    std::thread::sleep(delay);
                    let mut s = slot.lock().unwrap();
                    s.0 = Some(7);
                    if let Some(w) = s.1.take() {
                        w.wake();
                    }
                }
            });
            let got = block_on(std::future::poll_fn(|cx| {
                let mut s = slot.lock().unwrap();
                match s.0 {
                    Some(v) => Poll::Ready(v),
                    None => {
                        s.1 = Some(cx.waker().clone());
                        Poll::Pending
                    }
                }
            }));
            assert_eq!(got, 7);
            setter.join().unwrap();
        }
    }
}
