//! The shared loop body over an in-memory datagram link (no OS socket): routing,
//! bounds, a transfer between two sockets, and the loop's end.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use quinn_udp::UdpSockRef;

use crate::{Config, UdpIo, UdxSocket, UNROUTED_QUEUE};

/// One end of an in-memory link: what is sent lands in the peer's inbox.
struct Fake {
    addr: SocketAddr,
    inbox: Mutex<VecDeque<(SocketAddr, Vec<u8>)>>,
    peer: Mutex<Option<Arc<Fake>>>,
}

impl Fake {
    fn new(port: u16) -> Arc<Self> {
        Arc::new(Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            inbox: Mutex::new(VecDeque::new()),
            peer: Mutex::new(None),
        })
    }

    fn deliver(&self, from: SocketAddr, datagram: &[u8]) {
        self.inbox
            .lock()
            .unwrap()
            .push_back((from, datagram.to_vec()));
    }
}

impl UdpIo for Fake {
    fn sock(&self) -> UdpSockRef<'_> {
        unreachable!("the in-memory link has only the plain path")
    }

    fn send_to(&self, datagram: &[u8], _: SocketAddr) -> io::Result<usize> {
        if let Some(peer) = &*self.peer.lock().unwrap() {
            peer.deliver(self.addr, datagram);
        }
        Ok(datagram.len())
    }

    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (from, d) = self
            .inbox
            .lock()
            .unwrap()
            .pop_front()
            .ok_or(io::ErrorKind::WouldBlock)?;
        buf[..d.len()].copy_from_slice(&d);
        Ok((d.len(), from))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

fn plain() -> Config {
    Config {
        batching: false,
        ..Config::default()
    }
}

#[test]
fn datagrams_udx_does_not_take_queue_up_to_the_bound_in_order() {
    let io = Fake::new(1);
    let socket = UdxSocket::new(io.clone(), plain()).unwrap();
    let from = SocketAddr::from(([10, 0, 0, 1], 9));
    for i in 0..UNROUTED_QUEUE + 44 {
        io.deliver(from, &[0x03, (i % 256) as u8, (i / 256) as u8]);
    }
    let mut rx = socket.shared().recv_buffers();
    while !io.inbox.lock().unwrap().is_empty() {
        let _ = socket.shared().turn(&mut rx);
    }
    for i in 0..UNROUTED_QUEUE {
        let d = socket.try_recv_datagram().expect("queued");
        assert_eq!(
            (d.from, d.data),
            (from, vec![0x03, (i % 256) as u8, (i / 256) as u8])
        );
    }
    assert_eq!(socket.try_recv_datagram(), None, "the rest were dropped");
}

#[test]
fn a_megabyte_crosses_the_loop_body_and_the_loop_ends_with_its_handles() {
    let (ia, ib) = (Fake::new(1), Fake::new(2));
    *ia.peer.lock().unwrap() = Some(ib.clone());
    *ib.peer.lock().unwrap() = Some(ia.clone());
    let a = UdxSocket::new(ia.clone(), plain()).unwrap();
    let b = UdxSocket::new(ib.clone(), plain()).unwrap();
    let sa = a.create_stream().unwrap();
    let mut sb = b.create_stream().unwrap();
    a.connect(&sa, sb.id(), ib.addr).unwrap();
    b.connect(&sb, sa.id(), ia.addr).unwrap();

    let data: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let (mut sent, mut got) = (0, Vec::new());
    let mut cx = Context::from_waker(Waker::noop());
    let (mut ra, mut rb) = (a.shared().recv_buffers(), b.shared().recv_buffers());
    let start = Instant::now();
    let mut ended = false;
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "stalled at {}",
            got.len()
        );
        if sent < data.len() {
            sent += sa.try_write(&data[sent..]).unwrap();
        } else if !ended {
            sa.end().unwrap();
            ended = true;
        }
        let _ = a.shared().turn(&mut ra);
        let _ = b.shared().turn(&mut rb);
        let mut buf = [0u8; 64 * 1024];
        match futures_io::AsyncRead::poll_read(Pin::new(&mut sb), &mut cx, &mut buf) {
            Poll::Ready(Ok(0)) => break,
            Poll::Ready(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Poll::Ready(Err(e)) => panic!("{e}"),
            Poll::Pending => {}
        }
    }
    assert!(got == data, "{} bytes came, not the ones sent", got.len());

    // b ends too: with both ends ended and every handle gone, both loops finish, before
    // the linger for streams still delivering would (5 s).
    sb.end().unwrap();
    assert!(!a.shared().turn(&mut ra).done, "a has handles yet");
    let (sha, shb) = (a.shared().clone(), b.shared().clone());
    drop((sa, sb, a, b));
    let start = Instant::now();
    let (mut a_done, mut b_done) = (false, false);
    while !(a_done && b_done) {
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "the loops never ended"
        );
        a_done |= sha.turn(&mut ra).done;
        b_done |= shb.turn(&mut rb).done;
    }
}
