//! The socket loop for async runtimes: [`Shared::turn`] between waits for the socket, the
//! timer and the handles.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
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
    // The armed sleep and the deadline it is for.
    let mut timer: Option<(Duration, BoxFuture<()>)> = None;
    loop {
        let wait = shared.turn(&mut rx);
        if wait.done {
            return;
        }
        match wait.deadline {
            None => timer = None,
            Some(deadline) => {
                if timer.as_ref().map(|(d, _)| *d) != Some(deadline) {
                    timer = Some((deadline, sleep(deadline.saturating_sub(shared.now()))));
                }
            }
        }
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
            if let Some((_, s)) = &mut timer {
                if s.as_mut().poll(cx).is_ready() {
                    timer = None;
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        })
        .await;
    }
}
