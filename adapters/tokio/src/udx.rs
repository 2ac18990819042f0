//! UDX over Tokio: [`UdxSocket::bind`] runs a [`ferrocore_udp`] socket on a
//! `tokio::net::UdpSocket` and Tokio's timer; its streams are Tokio `AsyncRead +
//! AsyncWrite` (and futures-io, through [`UdxStream::into_inner`]).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use ferrocore_tokio::udx::UdxSocket;
//! let a = UdxSocket::bind("127.0.0.1:0").await?;
//! let b = UdxSocket::bind("127.0.0.1:0").await?;
//! let mut sa = a.create_stream()?;
//! let mut sb = b.create_stream()?;
//! a.connect(&sa, sb.id(), b.local_addr()?)?;
//! b.connect(&sb, sa.id(), a.local_addr()?)?;
//! sa.write_all(b"ping").await?;
//! sa.shutdown().await?; // END
//! let mut got = Vec::new();
//! sb.read_to_end(&mut got).await?;
//! assert_eq!(got, b"ping");
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ferrocore_udp::quinn_udp::UdpSockRef;
use ferrocore_udp::{AsyncUdpIo, Interest, UdpIo};
use std::net::ToSocketAddrs;
use tokio::io::ReadBuf;

pub use ferrocore_udp::{Config, Datagram, StreamId};

/// Tokio's UDP socket as the loop's glue.
struct TokioUdp(tokio::net::UdpSocket);

impl UdpIo for TokioUdp {
    fn sock(&self) -> UdpSockRef<'_> {
        UdpSockRef::from(&self.0)
    }

    fn batched(
        &self,
        interest: Interest,
        op: &mut dyn FnMut(UdpSockRef<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let interest = match interest {
            Interest::Read => tokio::io::Interest::READABLE,
            Interest::Write => tokio::io::Interest::WRITABLE,
        };
        self.0.try_io(interest, || op(self.sock()))
    }

    fn send_to(&self, datagram: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.try_send_to(datagram, to)
    }

    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.try_recv_from(buf)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl AsyncUdpIo for TokioUdp {
    fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_send_ready(cx)
    }

    fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_recv_ready(cx)
    }
}

ferrocore_udp::runtime_socket! {
    /// A UDX socket run by a Tokio task: [`ferrocore_udp::UdxSocket`]'s methods (through
    /// `Deref`), with streams that are Tokio `AsyncRead + AsyncWrite`.
    UdxSocket
}

impl UdxSocket {
    /// Binds a UDP socket to `addr` and runs UDX on it (a Tokio task, until every handle
    /// and stream is dropped), with datagrams moved in OS batches.
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// let socket = ferrocore_tokio::udx::UdxSocket::bind("127.0.0.1:0").await?;
    /// println!("{}", socket.local_addr()?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When binding fails.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::bind_with(addr, Config::default()).await
    }

    /// [`bind`](Self::bind) with a [`Config`] (e.g. `batching: false` for one datagram
    /// per system call).
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// use ferrocore_tokio::udx::{Config, UdxSocket};
    /// let plain = UdxSocket::bind_with("127.0.0.1:0", Config { batching: false, ..Config::default() }).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When binding fails.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub async fn bind_with(addr: impl ToSocketAddrs, config: Config) -> io::Result<Self> {
        let udp = ferrocore_udp::bind_std(addr, &config)?;
        let io = Arc::new(TokioUdp(tokio::net::UdpSocket::from_std(udp)?));
        let socket = ferrocore_udp::UdxSocket::new(io.clone(), config)?;
        let sleep: ferrocore_udp::Sleep =
            Arc::new(|d| Box::pin(tokio::time::sleep(d)) as ferrocore_udp::BoxFuture<()>);
        tokio::spawn(ferrocore_udp::drive(&socket, io, sleep));
        Ok(Self(socket))
    }

    /// A new stream with a random local id (see
    /// [`ferrocore_udp::UdxSocket::create_stream`]).
    ///
    /// ```no_run
    /// # async fn f(socket: ferrocore_tokio::udx::UdxSocket) -> std::io::Result<()> {
    /// let stream = socket.create_stream()?;
    /// println!("{}", stream.id());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When the OS random number generator fails or the socket has too many streams.
    pub fn create_stream(&self) -> io::Result<UdxStream> {
        self.0.create_stream().map(UdxStream)
    }

    /// A new stream with local id `id`.
    ///
    /// ```no_run
    /// # async fn f(socket: ferrocore_tokio::udx::UdxSocket) -> std::io::Result<()> {
    /// let stream = socket.create_stream_with_id(42)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When the id is in use or the socket has too many streams.
    pub fn create_stream_with_id(&self, id: StreamId) -> io::Result<UdxStream> {
        self.0.create_stream_with_id(id).map(UdxStream)
    }
}

/// A UDX stream as Tokio `AsyncRead + AsyncWrite` (`shutdown` sends END; drop without it
/// destroys). Derefs to [`ferrocore_udp::UdxStream`] (connect, messages).
///
/// ```no_run
/// # async fn f(mut stream: ferrocore_tokio::udx::UdxStream) -> std::io::Result<()> {
/// use tokio::io::AsyncWriteExt;
/// stream.write_all(b"hello").await?;
/// stream.send_message(b"an unreliable datagram")?;
/// stream.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UdxStream(ferrocore_udp::UdxStream);

impl UdxStream {
    /// The runtime-agnostic stream (futures-io `AsyncRead + AsyncWrite`), e.g. for
    /// [`Node::attach`](ferrocore_futures::Node::attach).
    ///
    /// ```no_run
    /// # fn f(stream: ferrocore_tokio::udx::UdxStream) {
    /// let inner: ferrocore_udp::UdxStream = stream.into_inner();
    /// # }
    /// ```
    #[must_use]
    pub fn into_inner(self) -> ferrocore_udp::UdxStream {
        self.0
    }
}

impl Deref for UdxStream {
    type Target = ferrocore_udp::UdxStream;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for UdxStream {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl tokio::io::AsyncRead for UdxStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let read =
            futures_io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, buf.initialize_unfilled());
        read.map_ok(|n| buf.advance(n))
    }
}

impl tokio::io::AsyncWrite for UdxStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures_io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}
