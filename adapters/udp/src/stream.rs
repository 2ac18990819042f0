//! [`UdxStream`]: one reliable, ordered UDX stream, as futures-io `AsyncRead +
//! AsyncWrite` and as blocking std `Read + Write`.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ferrocore_udx::StreamId;

use crate::shared::{to_io, Shared, Slot, State};

/// One UDX stream of a [`UdxSocket`](crate::UdxSocket): a reliable, ordered byte stream
/// (futures-io [`AsyncRead`](futures_io::AsyncRead) +
/// [`AsyncWrite`](futures_io::AsyncWrite), and blocking [`std::io::Read`] +
/// [`std::io::Write`]) plus unordered, unreliable MESSAGE datagrams.
///
/// A write goes straight into the UDX state machine and out of the socket, on the
/// writer's task or thread. [`close`](futures_io::AsyncWrite::poll_close) (or
/// [`UdxStream::end`]) sends END after the queued data: the peer reads end of stream.
/// Dropping a stream that was not closed destroys it (DESTROY to the peer); a closed
/// one is left to deliver its last data.
///
/// ```no_run
/// # async fn run(socket: ferrocore_udp::UdxSocket, peer: std::net::SocketAddr, peer_id: u32) -> std::io::Result<()> {
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// let mut stream = socket.create_stream()?;
/// socket.connect(&stream, peer_id, peer)?;
/// stream.write_all(b"hello").await?;
/// stream.close().await?; // END: the peer reads end of stream after "hello"
/// let mut reply = Vec::new();
/// stream.read_to_end(&mut reply).await?;
/// # Ok(()) }
/// ```
pub struct UdxStream {
    shared: Arc<Shared>,
    id: StreamId,
}

impl std::fmt::Debug for UdxStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdxStream").field("id", &self.id).finish()
    }
}

/// Which waker a pending operation leaves.
#[derive(Clone, Copy)]
enum Want {
    Read,
    Write,
    Message,
}

impl UdxStream {
    pub(crate) fn new(shared: Arc<Shared>, id: StreamId) -> Self {
        Self { shared, id }
    }

    /// The stream's local id (the peer sends to it: give it to the peer).
    #[must_use]
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Runs `op` on the UDX socket and the stream's slot, then sends what became due.
    fn with<R>(&self, op: impl FnOnce(&mut State, StreamId) -> R) -> R {
        let mut st = self.shared.lock();
        let r = op(&mut st, self.id);
        self.shared.after_handle(&mut st);
        r
    }

    /// Starts sending to the peer's stream `remote_id` at `remote` (UDX has no
    /// handshake: the peer learns our id from the application).
    ///
    /// # Errors
    /// When the stream is closed or already connected.
    pub fn connect(&self, remote_id: StreamId, remote: SocketAddr) -> io::Result<()> {
        let now = self.shared.now();
        self.with(|st, id| st.socket.connect(now, id, remote_id, remote))
            .map_err(to_io)
    }

    /// Sends END after the queued data (what `close` does); the peer reads end of
    /// stream. Later writes fail.
    ///
    /// # Errors
    /// When the stream is gone.
    pub fn end(&self) -> io::Result<()> {
        let now = self.shared.now();
        self.with(|st, id| {
            let slot = st.slots.get_mut(&id).expect("a live stream has a slot");
            if slot.ended || slot.closed.is_some() {
                return Ok(());
            }
            slot.ended = true;
            st.socket.end(now, id).map_err(to_io)
        })
    }

    /// Destroys the stream now: DESTROY to the peer, queued data dropped; reads and
    /// writes then fail or end.
    pub fn destroy(&self) {
        let now = self.shared.now();
        self.with(|st, id| {
            // Already gone if this fails.
            let _ = st.socket.destroy(now, id);
            if let Some(slot) = st.slots.get_mut(&id) {
                slot.closed.get_or_insert(None);
                slot.wake_all();
            }
            st.events += 1;
        });
        self.shared.changed.notify_all();
    }

    /// Sends an unordered, unreliable MESSAGE datagram (it must fit one packet).
    ///
    /// # Errors
    /// When it does not fit, or the stream is not connected or gone.
    pub fn send_message(&self, data: &[u8]) -> io::Result<()> {
        let now = self.shared.now();
        self.with(|st, id| st.socket.send_message(now, id, data))
            .map_err(to_io)
    }

    /// A MESSAGE datagram from the peer, if one is queued; `Ok(None)` when none is.
    ///
    /// # Errors
    /// When the stream is gone (and none is left).
    pub fn try_recv_message(&self) -> io::Result<Option<Vec<u8>>> {
        match self.poll_op(None, Want::Message, |_, _, slot| {
            slot.messages.pop_front().map(Ok)
        }) {
            Poll::Ready(r) => r.map(Some),
            Poll::Pending => Ok(None),
        }
    }

    /// Waits for the next MESSAGE datagram from the peer.
    ///
    /// # Errors
    /// When the stream is gone.
    pub async fn recv_message(&self) -> io::Result<Vec<u8>> {
        poll_fn(|cx| self.poll_recv_message(cx)).await
    }

    /// Polls for the next MESSAGE datagram from the peer.
    ///
    /// # Errors
    /// When the stream is gone.
    pub fn poll_recv_message(&self, cx: &mut Context<'_>) -> Poll<io::Result<Vec<u8>>> {
        self.poll_op(Some(cx.waker()), Want::Message, |_, _, slot| {
            slot.messages.pop_front().map(Ok)
        })
    }

    /// Blocks the thread until the next MESSAGE datagram from the peer.
    ///
    /// # Errors
    /// When the stream is gone.
    pub fn recv_message_blocking(&self) -> io::Result<Vec<u8>> {
        self.block(Want::Message, |_, _, slot| {
            slot.messages.pop_front().map(Ok)
        })
    }

    /// Writes what the send buffer takes of `data` now, without waiting; `Ok(0)` when it
    /// is full.
    ///
    /// # Errors
    /// When the stream is closed, ended or failed.
    pub fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        let now = self.shared.now();
        match self.poll_op(None, Want::Write, |st, id, slot| {
            write_op(st, slot, now, id, data)
        }) {
            Poll::Ready(r) => r,
            Poll::Pending => Ok(0),
        }
    }

    /// One attempt at `op` under the lock: Ready with its answer, or Pending with `waker`
    /// (if any) stored for the `want`ed event. A closed stream answers end of stream or its
    /// error when `op` has nothing.
    fn poll_op<R: Closed>(
        &self,
        waker: Option<&Waker>,
        want: Want,
        op: impl FnOnce(&mut State, StreamId, &mut Slot) -> Option<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        self.attempt(waker, want, op).0
    }

    /// [`poll_op`](Self::poll_op), also returning the socket's event count after it.
    fn attempt<R: Closed>(
        &self,
        waker: Option<&Waker>,
        want: Want,
        op: impl FnOnce(&mut State, StreamId, &mut Slot) -> Option<io::Result<R>>,
    ) -> (Poll<io::Result<R>>, u64) {
        let mut st = self.shared.lock();
        let st = &mut *st;
        let mut slot = st.slots.remove(&self.id).unwrap_or_default();
        let r = op(st, self.id, &mut slot);
        let out = match r {
            Some(r) => Poll::Ready(r),
            None => match &slot.closed {
                Some(None) => Poll::Ready(R::closed(want)),
                Some(Some((kind, msg))) => Poll::Ready(Err(io::Error::new(*kind, msg.clone()))),
                None => {
                    if let Some(w) = waker {
                        let place = match want {
                            Want::Read => &mut slot.read,
                            Want::Write => &mut slot.write,
                            Want::Message => &mut slot.message,
                        };
                        *place = Some(w.clone());
                    }
                    Poll::Pending
                }
            },
        };
        st.slots.insert(self.id, slot);
        self.shared.after_handle(st);
        (out, st.events)
    }

    /// [`poll_op`](Self::poll_op) until ready, waiting on the socket's condition
    /// variable for its next events in between.
    fn block<R: Closed>(
        &self,
        want: Want,
        mut op: impl FnMut(&mut State, StreamId, &mut Slot) -> Option<io::Result<R>>,
    ) -> io::Result<R> {
        loop {
            let (r, seen) = self.attempt(None, want, &mut op);
            if let Poll::Ready(r) = r {
                return r;
            }
            let mut st = self.shared.lock();
            while st.events == seen {
                st = self.shared.wait(st);
            }
        }
    }
}

/// What an operation answers on a stream that closed without an error.
trait Closed: Sized {
    fn closed(want: Want) -> io::Result<Self>;
}

impl Closed for usize {
    fn closed(want: Want) -> io::Result<usize> {
        match want {
            Want::Read => Ok(0),
            _ => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }
}

impl Closed for Vec<u8> {
    fn closed(_: Want) -> io::Result<Vec<u8>> {
        Err(io::ErrorKind::NotConnected.into())
    }
}

/// A failed UDX call: a closed stream's slot says how it ended (`None`); otherwise the
/// error.
fn failed<R>(slot: &Slot, e: ferrocore_udx::UdxError) -> Option<io::Result<R>> {
    if slot.closed.is_some() {
        None
    } else {
        Some(Err(to_io(e)))
    }
}

fn read_op(st: &mut State, slot: &Slot, id: StreamId, buf: &mut [u8]) -> Option<io::Result<usize>> {
    if buf.is_empty() {
        return Some(Ok(0));
    }
    match st.socket.read(id, buf) {
        Ok(0) if st.socket.is_remote_ended(id) => Some(Ok(0)),
        Ok(0) => None,
        Ok(n) => Some(Ok(n)),
        Err(e) => failed(slot, e),
    }
}

fn write_op(
    st: &mut State,
    slot: &Slot,
    now: Duration,
    id: StreamId,
    data: &[u8],
) -> Option<io::Result<usize>> {
    if data.is_empty() {
        return Some(Ok(0));
    }
    if slot.ended {
        return Some(Err(io::ErrorKind::BrokenPipe.into()));
    }
    match st.socket.write(now, id, data) {
        Ok(0) => None,
        Ok(n) => Some(Ok(n)),
        Err(e) => failed(slot, e),
    }
}

impl futures_io::AsyncRead for UdxStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_op(Some(cx.waker()), Want::Read, |st, id, slot| {
            read_op(st, slot, id, buf)
        })
    }
}

impl futures_io::AsyncWrite for UdxStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let now = self.shared.now();
        self.poll_op(Some(cx.waker()), Want::Write, |st, id, slot| {
            write_op(st, slot, now, id, buf)
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are in the state machine, which sends them as the window allows.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.end())
    }
}

impl io::Read for UdxStream {
    /// Blocks the thread until bytes come (or end of stream: `Ok(0)`).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl io::Read for &UdxStream {
    /// Blocks the thread until bytes come (or end of stream: `Ok(0)`).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.block(Want::Read, |st, id, slot| read_op(st, slot, id, buf))
    }
}

impl io::Write for UdxStream {
    /// Blocks the thread until the send buffer takes some of `buf`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Write for &UdxStream {
    /// Blocks the thread until the send buffer takes some of `buf`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.block(Want::Write, |st, id, slot| {
            write_op(st, slot, self.shared.now(), id, buf)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for UdxStream {
    fn drop(&mut self) {
        let now = self.shared.now();
        let mut st = self.shared.lock();
        let st = &mut *st;
        if let Some(slot) = st.slots.remove(&self.id) {
            if !slot.ended && slot.closed.is_none() {
                // Already gone if this fails.
                let _ = st.socket.destroy(now, self.id);
            }
        }
        self.shared.after_handle(st);
        self.shared.release(st);
    }
}
