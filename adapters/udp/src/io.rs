//! The runtime glue: what a runtime's UDP socket must do for the shared loop, and the
//! batched (quinn-udp) or plain datagram I/O built on it.

use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::task::{Context, Poll};

use quinn_udp::{RecvMeta, UdpSockRef, UdpSocketState};

use crate::Config;

/// Which readiness a socket operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Receiving.
    Read,
    /// Sending.
    Write,
}

/// A runtime's non-blocking UDP socket. Every method returns at once; one that cannot
/// proceed fails with [`io::ErrorKind::WouldBlock`]. Implemented by each adapter in a few
/// lines (`tokio::net::UdpSocket`, `async_io::Async<std::net::UdpSocket>`, a non-blocking
/// `std::net::UdpSocket`).
pub trait UdpIo: Send + Sync + 'static {
    /// quinn-udp's view of the socket.
    fn sock(&self) -> UdpSockRef<'_>;

    /// Runs `op`, a non-blocking batched (quinn-udp) call on [`sock`](Self::sock). A
    /// runtime that caches readiness (tokio) overrides it to learn that the socket would
    /// block.
    ///
    /// # Errors
    /// `op`'s error.
    fn batched(
        &self,
        interest: Interest,
        op: &mut dyn FnMut(UdpSockRef<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let _ = interest;
        op(self.sock())
    }

    /// Sends one datagram (`send_to(2)`).
    ///
    /// # Errors
    /// As the socket's.
    fn send_to(&self, datagram: &[u8], to: SocketAddr) -> io::Result<usize>;

    /// Receives one datagram (`recv_from(2)`).
    ///
    /// # Errors
    /// As the socket's.
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;

    /// The address the socket is bound to.
    ///
    /// # Errors
    /// As the socket's.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// A [`UdpIo`] whose runtime wakes a task when the socket becomes ready.
pub trait AsyncUdpIo: UdpIo {
    /// Ready when a send may succeed (after one failed with `WouldBlock`).
    ///
    /// # Errors
    /// As the runtime's.
    fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Ready when a receive may succeed.
    ///
    /// # Errors
    /// As the runtime's.
    fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// Datagrams the plain path receives (one system call each) before the loop acts on them.
const PLAIN_BATCH: usize = 32;

/// Most bytes one GSO send may carry (an IP packet's 64 KiB, less headers).
const GSO_BYTES: usize = 65_000;

/// Binds a non-blocking std UDP socket to `addr` with [`Config::socket_buffer`]-sized OS
/// buffers: what every adapter's `bind` wraps in its runtime's socket.
///
/// ```
/// let socket = ferrocore_udp::bind_std("127.0.0.1:0", &ferrocore_udp::Config::default())?;
/// assert!(socket.local_addr()?.port() != 0);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// When binding fails.
pub fn bind_std(addr: impl ToSocketAddrs, config: &Config) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    if let Some(size) = config.socket_buffer {
        // The OS caps these (Linux: net.core.rmem_max / wmem_max); a smaller buffer is
        // not an error.
        let sock = socket2::SockRef::from(&socket);
        let _ = sock.set_recv_buffer_size(size);
        let _ = sock.set_send_buffer_size(size);
    }
    Ok(socket)
}

/// Receive buffers of one socket loop, allocated once.
pub struct RecvBuffers {
    bufs: Vec<Box<[u8]>>,
    meta: Vec<RecvMeta>,
}

impl std::fmt::Debug for RecvBuffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBuffers")
            .field("count", &self.bufs.len())
            .finish()
    }
}

impl RecvBuffers {
    /// Buffers for `count` messages per receive (1 on the plain path).
    pub(crate) fn new(count: usize) -> Self {
        let count = count.max(1);
        Self {
            bufs: (0..count)
                .map(|_| vec![0u8; MAX_DATAGRAM].into_boxed_slice())
                .collect(),
            meta: vec![RecvMeta::default(); count],
        }
    }
}

/// How a socket moves datagrams: quinn-udp's batches (GSO, GRO, `recvmmsg`) or one
/// datagram per system call.
pub(crate) enum Path {
    Batched(UdpSocketState),
    Plain,
}

impl Path {
    /// Segments one send of datagrams up to `mtu` bytes may carry: what the OS's GSO
    /// takes, within the 64 KiB one send may hold.
    pub(crate) fn max_segments(&self, mtu: usize) -> usize {
        match self {
            Self::Batched(state) => state.max_gso_segments().min(GSO_BYTES / mtu.max(1)).max(1),
            Self::Plain => 1,
        }
    }

    /// Messages one receive may fill.
    pub(crate) fn recv_count(&self) -> usize {
        match self {
            Self::Batched(_) => quinn_udp::BATCH_SIZE.min(32),
            Self::Plain => 1,
        }
    }

    /// Sends `contents` (segments of `segment_size`) to `dst`. `WouldBlock` means nothing
    /// was sent; other errors are dropped, as UDP loses datagrams anyway.
    pub(crate) fn send(
        &self,
        io: &dyn UdpIo,
        dst: SocketAddr,
        contents: &[u8],
        segment_size: usize,
    ) -> io::Result<()> {
        let sent = match self {
            Self::Batched(state) => {
                let transmit = quinn_udp::Transmit {
                    destination: dst,
                    ecn: None,
                    contents,
                    segment_size: (segment_size < contents.len()).then_some(segment_size),
                    src_ip: None,
                };
                io.batched(Interest::Write, &mut |sock| {
                    state.try_send(sock, &transmit).map(|()| 0)
                })
            }
            Self::Plain => io.send_to(contents, dst),
        };
        match sent {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(()),
        }
    }

    /// Receives what the socket holds (one batch) and hands each datagram to `each`.
    /// Returns how many datagrams came; `WouldBlock` when none.
    pub(crate) fn recv(
        &self,
        io: &dyn UdpIo,
        rx: &mut RecvBuffers,
        mut each: impl FnMut(SocketAddr, &[u8]),
    ) -> io::Result<usize> {
        match self {
            Self::Batched(state) => {
                let RecvBuffers { bufs, meta } = rx;
                let mut slices: Vec<IoSliceMut<'_>> =
                    bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
                let n = io.batched(Interest::Read, &mut |sock| {
                    state.recv(sock, &mut slices, meta)
                })?;
                drop(slices);
                let mut count = 0;
                for (m, buf) in meta.iter().zip(bufs.iter()).take(n) {
                    let data = &buf[..m.len.min(buf.len())];
                    let stride = if m.stride == 0 { data.len() } else { m.stride };
                    for datagram in data.chunks(stride.max(1)) {
                        each(m.addr, datagram);
                        count += 1;
                    }
                }
                Ok(count)
            }
            Self::Plain => {
                // One datagram per system call, up to a batch's worth before the caller
                // acts on them (as on the batched path).
                let mut count = 0;
                while count < PLAIN_BATCH {
                    match io.recv_from(&mut rx.bufs[0]) {
                        Ok((n, from)) => each(from, &rx.bufs[0][..n]),
                        Err(e) if count == 0 => return Err(e),
                        Err(_) => break,
                    }
                    count += 1;
                }
                Ok(count)
            }
        }
    }
}
