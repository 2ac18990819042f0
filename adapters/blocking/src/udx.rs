//! UDX on threads: [`UdxSocket::bind`] runs a [`ferrocore_udp`] socket on a non-blocking
//! `std::net::UdpSocket` from a thread that waits in `poll(2)` (until the socket's next
//! deadline, input, or a handle's wake-up). Its streams are blocking `Read + Write` (also
//! on `&UdxStream`, so a reader and a writer thread can share one through an `Arc`), and
//! [`Node::add_udx_stream`](crate::Node::add_udx_stream) replicates over them as over
//! TCP.
//!
//! ```no_run
//! # fn run() -> std::io::Result<()> {
//! use std::io::{Read, Write};
//! use ferrocore_blocking::udx::UdxSocket;
//! let a = UdxSocket::bind("127.0.0.1:0")?;
//! let b = UdxSocket::bind("127.0.0.1:0")?;
//! let mut sa = a.create_stream()?;
//! let mut sb = b.create_stream()?;
//! a.connect(&sa, sb.id(), b.local_addr()?)?;
//! b.connect(&sb, sa.id(), a.local_addr()?)?;
//! sa.write_all(b"ping")?;
//! sa.end()?;
//! let mut got = Vec::new();
//! sb.read_to_end(&mut got)?;
//! assert_eq!(got, b"ping");
//! # Ok(()) }
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::task::Waker;
use std::thread;
use std::time::Duration;

use ferrocore_udp::quinn_udp::UdpSockRef;
use ferrocore_udp::{Shared, UdpIo};

pub use ferrocore_udp::{Config, Datagram, StreamId, UdxStream};

use bytes::Bytes;
use ferrocore::replication::SessionId;
use ferrocore::storage::Storage;
use ferrocore::wire::noise::Role;
use ferrocore_driver::{Backlog, Reporter};
use std::sync::mpsc;

use crate::{spawn_writer, Error, Node, Sink, TcpLink, Transport, WakeSocket, READ_CHUNK};

/// A non-blocking std UDP socket as the loop's glue.
struct StdUdp(UdpSocket);

impl UdpIo for StdUdp {
    fn sock(&self) -> UdpSockRef<'_> {
        UdpSockRef::from(&self.0)
    }

    fn send_to(&self, datagram: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.send_to(datagram, to)
    }

    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.recv_from(buf)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

ferrocore_udp::runtime_socket! {
    /// A UDX socket run by a thread: [`ferrocore_udp::UdxSocket`]'s methods (through
    /// `Deref`); its streams are blocking `Read + Write`.
    UdxSocket
}

impl UdxSocket {
    /// Binds a UDP socket to `addr` and runs UDX on it from a thread (until every handle
    /// and stream is dropped), with datagrams moved in OS batches.
    ///
    /// ```no_run
    /// # fn f() -> std::io::Result<()> {
    /// let socket = ferrocore_blocking::udx::UdxSocket::bind("127.0.0.1:0")?;
    /// println!("{}", socket.local_addr()?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When binding, or spawning the thread, fails.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::bind_with(addr, Config::default())
    }

    /// [`bind`](Self::bind) with a [`Config`] (e.g. `batching: false` for one datagram
    /// per system call).
    ///
    /// ```no_run
    /// # fn f() -> std::io::Result<()> {
    /// use ferrocore_blocking::udx::{Config, UdxSocket};
    /// let plain = UdxSocket::bind_with("127.0.0.1:0", Config { batching: false, ..Config::default() })?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When binding, or spawning the thread, fails.
    pub fn bind_with(addr: impl ToSocketAddrs, config: Config) -> io::Result<Self> {
        let io = Arc::new(StdUdp(ferrocore_udp::bind_std(addr, &config)?));
        let socket = ferrocore_udp::UdxSocket::new(io.clone(), config)?;
        let (wake, woken) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        woken.set_nonblocking(true)?;
        let shared = socket.shared().clone();
        thread::Builder::new()
            .name("ferrocore-udx".into())
            .spawn(move || run(&shared, &io, &woken, wake))?;
        Ok(Self(socket))
    }
}

/// The socket thread: [`Shared::turn`] between waits in `poll(2)`.
fn run(shared: &Shared, io: &StdUdp, woken: &UnixStream, wake: UnixStream) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let waker = Waker::from(Arc::new(WakeSocket(wake)));
    let mut rx = shared.recv_buffers();
    loop {
        let wait = shared.turn(&mut rx);
        if wait.done {
            return;
        }
        if shared.take_wake(&waker) {
            continue;
        }
        let mut flags = PollFlags::IN;
        if wait.send_blocked {
            flags |= PollFlags::OUT;
        }
        let mut fds = [PollFd::new(&io.0, flags), PollFd::new(woken, PollFlags::IN)];
        let timeout = wait.deadline.map(|d| {
            let t = d.saturating_sub(shared.now());
            Timespec {
                tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: t.subsec_nanos().into(),
            }
        });
        match poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            // Out of memory: try again shortly rather than spin.
            Err(_) => thread::sleep(Duration::from_millis(1)),
        }
        if !fds[1].revents().is_empty() {
            let mut sink = [0u8; 64];
            while matches!((&*woken).read(&mut sink), Ok(n) if n > 0) {}
        }
    }
}

impl<S: Storage + Send + 'static> Node<S> {
    /// Replicates over a UDX stream, exactly as over a TCP connection: Noise XX runs in
    /// band (as JS apps do over a raw udx stream). Connect the stream to its peer first;
    /// by convention the side that connected first is the [`Role::Initiator`]. A reader
    /// and a writer thread serve it.
    ///
    /// ```no_run
    /// # fn f(node: ferrocore_blocking::Node<ferrocore::storage::MemoryStorage>, peer: std::net::SocketAddr, peer_id: u32) -> Result<(), ferrocore_blocking::Error> {
    /// let socket = ferrocore_blocking::udx::UdxSocket::bind("127.0.0.1:0")?;
    /// let stream = socket.create_stream()?;
    /// socket.connect(&stream, peer_id, peer)?;
    /// node.add_udx_stream(stream, ferrocore::wire::noise::Role::Initiator)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails; [`Error::Io`] if a
    /// thread cannot be spawned.
    pub fn add_udx_stream(&self, stream: UdxStream, role: Role) -> Result<SessionId, Error> {
        let make = self.udx_link(stream);
        self.attach_link(make, role)
    }

    /// Replicates over a connection set up through the DHT
    /// ([`crate::dht::DhtNode`]'s `connect` or `accept`): its UDX stream carries a
    /// secret-stream started from the DHT's handshake (no Noise in band).
    ///
    /// # Errors
    /// As [`add_udx_stream`](Self::add_udx_stream).
    pub fn add_dht_connection(
        &self,
        connection: ferrocore_udp::DhtConnection,
    ) -> Result<SessionId, Error> {
        let ferrocore_udp::DhtConnection { stream, connection } = connection;
        let make = self.udx_link(stream);
        self.attach_handshake_link(make, connection.handshake.handshake)
    }

    /// How a session's link over `stream` is made: a writer and a reader thread.
    fn udx_link(
        &self,
        stream: UdxStream,
    ) -> impl FnOnce(SessionId) -> io::Result<TcpLink> + Send + 'static {
        let stream = Arc::new(stream);
        let reporter = self.reporter();
        move |session| {
            let backlog = Arc::new(Backlog::new());
            let (out, out_rx) = mpsc::channel();
            let writer = UdxWriter(stream.clone());
            spawn_writer(writer, out_rx, session, backlog.clone(), reporter.clone())?;
            spawn_udx_reader(stream.clone(), session, backlog.clone(), reporter)?;
            Ok(TcpLink {
                out,
                backlog,
                transport: Transport::Udx(stream),
                reading: true,
            })
        }
    }
}

/// A writer thread's share of a UDX stream.
struct UdxWriter(Arc<UdxStream>);

impl Write for UdxWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for UdxWriter {
    fn close(&mut self, orderly: bool) {
        if orderly {
            // END after the written data; a stream already gone has nothing to end.
            let _ = self.0.end();
        } else {
            self.0.destroy();
        }
    }
}

/// What a UDX stream's send buffer takes of `bufs` now, without blocking.
pub(crate) fn send_now(stream: &UdxStream, bufs: &[Bytes]) -> usize {
    let mut sent = 0;
    for b in bufs {
        let n = stream.try_write(b).unwrap_or(0);
        sent += n;
        if n < b.len() {
            break;
        }
    }
    sent
}

/// Reads a UDX stream on a thread of its own and hands its bytes to the driver (waiting
/// while the connection's unwritten output is over [`MAX_BACKLOG`](crate::MAX_BACKLOG) or the driver is
/// behind).
fn spawn_udx_reader<S: Storage + Send + 'static>(
    stream: Arc<UdxStream>,
    session: SessionId,
    backlog: Arc<Backlog>,
    reporter: Reporter<S, TcpLink>,
) -> std::io::Result<()> {
    thread::Builder::new()
        .name("ferrocore-udx-read".into())
        .spawn(move || {
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                futures_lite::future::block_on(backlog.room());
                match (&*stream).read(&mut buf) {
                    Ok(0) => {
                        reporter.end(session);
                        return;
                    }
                    Err(e) => {
                        reporter.failed(session, e.kind().into());
                        return;
                    }
                    Ok(n) => {
                        let bytes = Bytes::copy_from_slice(&buf[..n]);
                        if !futures_lite::future::block_on(reporter.input(session, bytes)) {
                            return;
                        }
                    }
                }
            }
        })
        .map(drop)
}
