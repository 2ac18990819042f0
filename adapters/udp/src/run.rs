//! The socket loop for async runtimes: [`Shared::turn`] between waits for the socket, the
//! timer and the handles.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::io::AsyncUdpIo;
use crate::shared::Shared;
use crate::UdxSocket;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A runtime's timer: a future that completes after a duration (not earlier).
pub type Sleep = Arc<dyn Fn(Duration) -> BoxFuture<()> + Send + Sync>;

/// The future that runs a [`UdxSocket`] on an async runtime (from [`drive`]): spawn it.
/// It ends when every handle to the socket is gone and its streams are done.
#[must_use = "the socket does nothing unless its driver is spawned"]
pub struct SocketDriver {
    inner: BoxFuture<()>,
}

impl std::fmt::Debug for SocketDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketDriver").finish_non_exhaustive()
    }
}

impl SocketDriver {
    /// A driver around the loop future `inner`.
    pub(crate) fn new(inner: BoxFuture<()>) -> Self {
        Self { inner }
    }
}

impl Future for SocketDriver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

/// The loop of `socket` over the runtime socket `io` (the one the socket was made with)
/// and the runtime's `sleep`.
///
/// ```no_run
/// # fn f(socket: &ferrocore_udp::UdxSocket, io: std::sync::Arc<impl ferrocore_udp::AsyncUdpIo>) {
/// let sleep: ferrocore_udp::Sleep = std::sync::Arc::new(|d| {
///     Box::pin(async move { async_io::Timer::after(d).await; })
/// });
/// let driver = ferrocore_udp::drive(socket, io, sleep);
/// // spawn `driver` on the executor
/// # }
/// ```
pub fn drive<U: AsyncUdpIo>(socket: &UdxSocket, io: Arc<U>, sleep: Sleep) -> SocketDriver {
    SocketDriver {
        inner: Box::pin(run(socket.shared().clone(), io, sleep)),
    }
}

async fn run<U: AsyncUdpIo>(shared: Arc<Shared>, io: Arc<U>, sleep: Sleep) {
    let mut rx = shared.recv_buffers();
    let mut timer = LoopTimer::default();
    loop {
        let wait = shared.turn(&mut rx);
        if wait.done {
            return;
        }
        timer.arm(wait.deadline, shared.now(), &sleep);
        poll_fn(|cx| {
            if shared.take_wake(cx.waker()) {
                return Poll::Ready(());
            }
            if wait.send_blocked && io.poll_send_ready(cx).is_ready() {
                return Poll::Ready(());
            }
            if io.poll_recv_ready(cx).is_ready() {
                return Poll::Ready(());
            }
            timer.poll(cx)
        })
        .await;
    }
}

/// A loop's sleep and the deadline it is for.
#[derive(Default)]
pub(crate) struct LoopTimer {
    armed: Option<(Duration, BoxFuture<()>)>,
}

impl LoopTimer {
    /// Sleeps until `deadline` (on a clock that reads `now`), keeping the sleep already
    /// armed for it; `None` disarms.
    pub(crate) fn arm(&mut self, deadline: Option<Duration>, now: Duration, sleep: &Sleep) {
        match deadline {
            None => self.armed = None,
            Some(d) if self.armed.as_ref().map(|(t, _)| *t) != Some(d) => {
                self.armed = Some((d, sleep(d.saturating_sub(now))));
            }
            Some(_) => {}
        }
    }

    /// Ready (and disarmed) when the deadline has passed.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some((_, s)) = &mut self.armed {
            if s.as_mut().poll(cx).is_ready() {
                self.armed = None;
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

/// Registers `waker` in `slot` unless `woken` was set since the loop's last turn (then
/// clears it and returns true: run a turn now).
pub(crate) fn register_unless_woken(
    woken: &mut bool,
    slot: &mut Option<Waker>,
    waker: &Waker,
) -> bool {
    if std::mem::take(woken) {
        return true;
    }
    if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
        *slot = Some(waker.clone());
    }
    false
}
