//! UDX on any futures executor: [`UdxSocket::bind`] makes a [`ferrocore_udp`] socket on
//! an async-io `Async<std::net::UdpSocket>` and returns the [`SocketDriver`] future to
//! spawn, timed by the same [`Timer`] as the node's. Its streams are futures-io `AsyncRead +
//! AsyncWrite`: [`Node::attach`](crate::Node::attach) takes them as it takes TCP
//! streams.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use ferrocore_futures::udx::UdxSocket;
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! smol::block_on(async {
//!     let (a, driver) = UdxSocket::bind("127.0.0.1:0".parse().unwrap(), smol::Timer::after)?;
//!     smol::spawn(driver).detach();
//!     let (b, driver) = UdxSocket::bind("127.0.0.1:0".parse().unwrap(), smol::Timer::after)?;
//!     smol::spawn(driver).detach();
//!     let mut sa = a.create_stream()?;
//!     let mut sb = b.create_stream()?;
//!     a.connect(&sa, sb.id(), b.local_addr()?)?;
//!     b.connect(&sb, sa.id(), a.local_addr()?)?;
//!     sa.write_all(b"ping").await?;
//!     sa.close().await?; // END
//!     let mut got = Vec::new();
//!     sb.read_to_end(&mut got).await?;
//!     assert_eq!(got, b"ping");
//!     Ok(())
//! })
//! # }
//! ```

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::task::{Context, Poll};

use async_io::Async;
use ferrocore_udp::quinn_udp::UdpSockRef;
use ferrocore_udp::{AsyncUdpIo, UdpIo};

pub use ferrocore_udp::{Config, Datagram, SocketDriver, StreamId, UdxStream};

use crate::Timer;

/// async-io's UDP socket as the loop's glue.
struct AsyncIoUdp(Async<UdpSocket>);

impl UdpIo for AsyncIoUdp {
    fn sock(&self) -> UdpSockRef<'_> {
        UdpSockRef::from(self.0.get_ref())
    }

    fn send_to(&self, datagram: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.get_ref().send_to(datagram, to)
    }

    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.get_ref().recv_from(buf)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }
}

impl AsyncUdpIo for AsyncIoUdp {
    fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_writable(cx)
    }

    fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_readable(cx)
    }
}

ferrocore_udp::runtime_socket! {
    /// A UDX socket: [`ferrocore_udp::UdxSocket`]'s methods (through `Deref`), run by the
    /// [`SocketDriver`] future [`bind`](Self::bind) returns.
    UdxSocket
}

impl UdxSocket {
    /// Binds a UDP socket to `addr` (registered with async-io's reactor), with datagrams
    /// moved in OS batches. Spawn the returned driver; it ends when every handle and
    /// stream is dropped.
    ///
    /// ```no_run
    /// # fn f() -> std::io::Result<()> {
    /// let (socket, driver) =
    ///     ferrocore_futures::udx::UdxSocket::bind("127.0.0.1:0".parse().unwrap(), smol::Timer::after)?;
    /// smol::spawn(driver).detach();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When binding fails.
    pub fn bind(addr: SocketAddr, timer: impl Timer) -> io::Result<(Self, SocketDriver)> {
        Self::bind_with(addr, timer, Config::default())
    }

    /// [`bind`](Self::bind) with a [`Config`] (e.g. `batching: false` for one datagram
    /// per system call).
    ///
    /// ```no_run
    /// # fn f() -> std::io::Result<()> {
    /// use ferrocore_futures::udx::{Config, UdxSocket};
    /// let config = Config { batching: false, ..Config::default() };
    /// let (socket, driver) = UdxSocket::bind_with("127.0.0.1:0".parse().unwrap(), smol::Timer::after, config)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When binding fails.
    pub fn bind_with(
        addr: SocketAddr,
        timer: impl Timer,
        config: Config,
    ) -> io::Result<(Self, SocketDriver)> {
        let udp = ferrocore_udp::bind_std(addr, &config)?;
        let io = Arc::new(AsyncIoUdp(Async::new(udp)?));
        let socket = ferrocore_udp::UdxSocket::new(io.clone(), config)?;
        let sleep: ferrocore_udp::Sleep = Arc::new(move |d| timer.sleep(d));
        let driver = ferrocore_udp::drive(&socket, io, sleep);
        Ok((Self(socket), driver))
    }
}
