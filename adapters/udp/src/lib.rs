//! # ferrocore-udp
//!
//! The runtime-agnostic half of ferrocore's UDX sockets: [`ferrocore_udx::Socket`] (the
//! sans-IO state of every stream on one UDP socket) driven over a real UDP socket.
//!
//! * [`UdxSocket`] is a cheap, cloneable handle to one socket; [`UdxStream`] one reliable
//!   stream on it: futures-io `AsyncRead + AsyncWrite` and blocking `Read + Write`, plus
//!   MESSAGE datagrams. Streams plug into a replication node exactly as TCP sockets do
//!   (`node.attach(stream, role)`: Noise XX runs in band).
//! * Handles and the loop share the state ([`Shared`]: a mutex around the UDX socket,
//!   the streams' wakers, a condition variable for blocking callers). A stream's write
//!   goes straight into the state machine and out of the socket on the writer's own task
//!   or thread; the loop body ([`Shared::turn`]: receive a batch, fire due timers, hand
//!   events to the streams, send what is due, say when to wake next) is written once.
//! * A runtime adds only its socket ([`UdpIo`], [`AsyncUdpIo`]: a few lines each) and its
//!   timer: `ferrocore-tokio`, `ferrocore-futures` (async-io) and `ferrocore-blocking`
//!   (a thread in `poll(2)`) each have a `UdxSocket::bind`.
//! * Datagrams move in OS batches through [`quinn_udp`] (GSO and GRO, `recvmmsg`, where
//!   the OS has them; a plain path where not), or one datagram per system call with
//!   [`Config::batching`] off.
//! * Datagrams the UDX router does not take (dht-rpc, holepunch probes, unknown stream
//!   ids) queue for [`UdxSocket::recv_datagram`]; [`UdxSocket::send_datagram`] sends raw.
//! * Stream ids come from the OS random number generator ([`UdxSocket::create_stream`]).
//!
//! ```no_run
//! # async fn run(a: ferrocore_udp::UdxSocket, b: ferrocore_udp::UdxSocket) -> std::io::Result<()> {
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! // `a` and `b` come from a runtime adapter's `UdxSocket::bind`.
//! let mut sa = a.create_stream()?;
//! let mut sb = b.create_stream()?;
//! a.connect(&sa, sb.id(), b.local_addr()?)?;
//! b.connect(&sb, sa.id(), a.local_addr()?)?;
//! sa.write_all(b"ping").await?;
//! sa.close().await?;
//! let mut got = Vec::new();
//! sb.read_to_end(&mut got).await?;
//! assert_eq!(got, b"ping");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod hyperdht;
mod io;
mod local;
mod machine;
mod rpc;
mod run;
mod shared;
mod stream;
pub mod swarm;
#[cfg(test)]
mod tests;

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

pub use ferrocore_hyperdht;
pub use ferrocore_udx as udx;
pub use ferrocore_udx::{StreamId, UdxError};
pub use hyperdht::{DhtConnection, DhtMachine, DhtNode, OpResult, MAX_OPS};
pub use io::{bind_std, AsyncUdpIo, Interest, RecvBuffers, UdpIo};
pub use local::{local_addresses, validate_local_addresses, VALIDATE_TIMEOUT};
pub use machine::{drive_machine, run_machine_blocking, Machine, MachineNode, EVENT_QUEUE};
pub use quinn_udp;
pub use rpc::{
    bootstrap_list, from_ipv4, to_ipv4, RpcConfig, RpcEvent, RpcMachine, RpcNode, PUBLIC_BOOTSTRAP,
};
pub use run::{drive, BoxFuture, Sleep, SocketDriver};
pub use shared::{Datagram, Shared, Wait, MESSAGE_QUEUE, UNROUTED_QUEUE};
pub use stream::UdxStream;

/// Declares a runtime adapter's `UdxSocket`: a cloneable newtype of [`UdxSocket`] that
/// derefs to it, to which the adapter adds its `bind`.
///
/// ```
/// ferrocore_udp::runtime_socket! {
///     /// A UDX socket of my runtime.
///     MySocket
/// }
/// fn addr(s: &MySocket) -> std::io::Result<std::net::SocketAddr> {
///     s.local_addr() // a `ferrocore_udp::UdxSocket` method
/// }
/// ```
#[macro_export]
macro_rules! runtime_socket {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        pub struct $name($crate::UdxSocket);

        impl ::core::ops::Deref for $name {
            type Target = $crate::UdxSocket;

            fn deref(&self) -> &$crate::UdxSocket {
                &self.0
            }
        }
    };
}

/// How a UDX socket runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The UDX state machine's settings (MTU, windows, congestion control).
    pub udx: ferrocore_udx::Config,
    /// Move datagrams in OS batches (quinn-udp: GSO/GRO, `recvmmsg`) — the default — or
    /// one per system call.
    pub batching: bool,
    /// The OS send and receive buffer sizes to ask for (`SO_SNDBUF`/`SO_RCVBUF`; the OS
    /// may grant less). `None` keeps the OS default (Linux: about 208 KiB, which drops
    /// datagrams of a fast stream in bursts). Default: 2 MiB.
    pub socket_buffer: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            udx: ferrocore_udx::Config::default(),
            batching: true,
            socket_buffer: Some(2 << 20),
        }
    }
}

/// A handle to one UDX socket: its streams, and the datagrams UDX does not take. Clones
/// share the socket; it stops (after its streams deliver their last data, at most a few
/// seconds) when every handle and stream is dropped. Made by a runtime adapter's
/// `UdxSocket::bind`, or by [`UdxSocket::new`] with a loop of the caller's.
pub struct UdxSocket {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for UdxSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdxSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl Clone for UdxSocket {
    fn clone(&self) -> Self {
        self.shared.lock().handles += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for UdxSocket {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        self.shared.release(&mut st);
    }
}

impl UdxSocket {
    /// A UDX socket over a runtime's UDP socket `io`. Nothing moves until a loop runs
    /// [`Shared::turn`] on [`shared`](Self::shared): [`drive`] for an async runtime.
    ///
    /// ```no_run
    /// # fn make(io: std::sync::Arc<dyn ferrocore_udp::UdpIo>) -> std::io::Result<()> {
    /// // `io`: the runtime's UDP socket behind `UdpIo` (each adapter has one).
    /// let socket = ferrocore_udp::UdxSocket::new(io, ferrocore_udp::Config::default())?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When quinn-udp cannot set up the socket for batching.
    pub fn new(io: Arc<dyn UdpIo>, config: Config) -> std::io::Result<Self> {
        let shared = Shared::new(io, config.udx, config.batching)?;
        shared.lock().handles = 1;
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The state the socket's loop drives.
    #[must_use]
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The address the socket is bound to (give it to the peer).
    ///
    /// ```no_run
    /// # fn f(socket: ferrocore_udp::UdxSocket) -> std::io::Result<()> {
    /// println!("listening on {}", socket.local_addr()?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As the OS's.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.shared.io.local_addr()
    }

    /// Whether datagrams move in OS batches (see [`Config::batching`]).
    #[must_use]
    pub fn is_batched(&self) -> bool {
        self.shared.is_batched()
    }

    /// Datagrams one send may carry now: up to 43 of 1500 bytes with GSO, 1 without (or
    /// with [`Config::batching`] off).
    ///
    /// ```no_run
    /// # fn f(socket: ferrocore_udp::UdxSocket) {
    /// println!("GSO: {} segments per send", socket.max_segments());
    /// # }
    /// ```
    #[must_use]
    pub fn max_segments(&self) -> usize {
        self.shared.max_segments()
    }

    /// A new stream with a random local id (from the OS random number generator). Give
    /// [`UdxStream::id`] to the peer, and [`connect`](Self::connect) it to the peer's.
    ///
    /// ```no_run
    /// # fn f(socket: ferrocore_udp::UdxSocket) -> std::io::Result<()> {
    /// let stream = socket.create_stream()?;
    /// println!("my stream id: {}", stream.id());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When the OS random number generator fails, or the socket has too many streams.
    pub fn create_stream(&self) -> std::io::Result<UdxStream> {
        loop {
            let mut id = [0u8; 4];
            getrandom::getrandom(&mut id).map_err(std::io::Error::from)?;
            let id = u32::from_le_bytes(id);
            if id == 0 || self.shared.lock().slots.contains_key(&id) {
                continue;
            }
            return self.create_stream_with_id(id);
        }
    }

    /// A new stream with local id `id` (chosen by the application).
    ///
    /// ```no_run
    /// # fn f(socket: ferrocore_udp::UdxSocket) -> std::io::Result<()> {
    /// let stream = socket.create_stream_with_id(42)?;
    /// assert_eq!(stream.id(), 42);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When the id is in use or the socket has too many streams.
    pub fn create_stream_with_id(&self, id: StreamId) -> std::io::Result<UdxStream> {
        self.shared.create_stream(id)?;
        Ok(UdxStream::new(self.shared.clone(), id))
    }

    /// Connects `stream` to the peer's stream `remote_id` at `remote` (UDX has no
    /// handshake: each side learns the other's id from the application, e.g. a DHT
    /// handshake). Same as [`UdxStream::connect`].
    ///
    /// ```no_run
    /// # fn f(socket: ferrocore_udp::UdxSocket, peer: std::net::SocketAddr) -> std::io::Result<()> {
    /// let stream = socket.create_stream()?;
    /// socket.connect(&stream, 7, peer)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When the stream is gone or already connected.
    pub fn connect(
        &self,
        stream: &UdxStream,
        remote_id: StreamId,
        remote: SocketAddr,
    ) -> std::io::Result<()> {
        stream.connect(remote_id, remote)
    }

    /// Sends a raw datagram from this socket (dht-rpc, probes), ahead of UDX output.
    ///
    /// ```no_run
    /// # fn f(socket: ferrocore_udp::UdxSocket, peer: std::net::SocketAddr) {
    /// socket.send_datagram(peer, &[0]); // a holepunch probe
    /// # }
    /// ```
    pub fn send_datagram(&self, to: SocketAddr, data: &[u8]) {
        self.shared.send_raw(to, data);
    }

    /// A datagram the UDX router did not take, if one is queued.
    ///
    /// ```no_run
    /// # fn f(socket: ferrocore_udp::UdxSocket) {
    /// while let Some(d) = socket.try_recv_datagram() {
    ///     println!("{} bytes from {}", d.data.len(), d.from);
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn try_recv_datagram(&self) -> Option<Datagram> {
        self.shared.lock().unrouted.pop_front()
    }

    /// Polls for a datagram the UDX router did not take.
    pub fn poll_recv_datagram(&self, cx: &mut Context<'_>) -> Poll<Datagram> {
        let mut st = self.shared.lock();
        match st.unrouted.pop_front() {
            Some(d) => Poll::Ready(d),
            None => {
                st.unrouted_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Waits for a datagram the UDX router did not take: dht-rpc messages, holepunch
    /// probes, UDX packets for stream ids this socket does not have (at most
    /// [`UNROUTED_QUEUE`] are kept).
    ///
    /// ```no_run
    /// # async fn f(socket: ferrocore_udp::UdxSocket) {
    /// let d = socket.recv_datagram().await;
    /// println!("{:?} from {}", d.data, d.from);
    /// # }
    /// ```
    pub async fn recv_datagram(&self) -> Datagram {
        poll_fn(|cx| self.poll_recv_datagram(cx)).await
    }

    /// Blocks the thread until a datagram the UDX router did not take comes.
    ///
    /// ```no_run
    /// # fn f(socket: ferrocore_udp::UdxSocket) {
    /// let d = socket.recv_datagram_blocking();
    /// # }
    /// ```
    #[must_use]
    pub fn recv_datagram_blocking(&self) -> Datagram {
        let mut st = self.shared.lock();
        loop {
            if let Some(d) = st.unrouted.pop_front() {
                return d;
            }
            st = self.shared.wait(st);
        }
    }

    /// Blocks the thread until a datagram the UDX router did not take comes (`Some`),
    /// `timeout` passes, or [`Shared::kick`] was called since `kicks` was last updated
    /// (`None`; `kicks` is updated). `timeout` `None` waits without a limit.
    ///
    /// ```no_run
    /// # fn f(socket: ferrocore_udp::UdxSocket) {
    /// let mut kicks = 0;
    /// let d = socket.recv_datagram_timeout(Some(std::time::Duration::from_millis(10)), &mut kicks);
    /// # }
    /// ```
    #[must_use]
    pub fn recv_datagram_timeout(
        &self,
        timeout: Option<std::time::Duration>,
        kicks: &mut u64,
    ) -> Option<Datagram> {
        let end = timeout.map(|t| std::time::Instant::now() + t);
        let mut st = self.shared.lock();
        loop {
            if let Some(d) = st.unrouted.pop_front() {
                return Some(d);
            }
            if st.kicks != *kicks {
                *kicks = st.kicks;
                return None;
            }
            st = match end {
                None => self.shared.wait(st),
                Some(end) => {
                    let left = end.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    self.shared.wait_timeout(st, left)
                }
            };
        }
    }

    /// How many streams the socket holds: open ones, ended or destroyed ones whose close
    /// is not yet acknowledged, and closed ones lingering (a few seconds) to acknowledge a
    /// retransmitted END again.
    #[must_use]
    pub fn stream_count(&self) -> usize {
        self.shared.lock().socket.stream_count()
    }

    /// How many streams are not closed yet: [`stream_count`](Self::stream_count) without
    /// the lingering ones. A socket dropped while this is above zero leaves those streams'
    /// remotes retransmitting to nobody.
    #[must_use]
    pub fn open_stream_count(&self) -> usize {
        self.shared.lock().socket.open_stream_count()
    }

    /// The stream's UDX statistics (cwnd, RTT, bytes and packets sent and received).
    #[must_use]
    pub fn stats(&self, stream: &UdxStream) -> Option<ferrocore_udx::Stats> {
        self.shared.lock().socket.stats(stream.id())
    }
}
