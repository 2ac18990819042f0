//! A single-threaded TCP driver for an [`Endpoint`] in tests: non-blocking sockets polled
//! in a loop (the blocking adapter's job, kept here so tests see every event).

use std::collections::{BTreeMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::replication::{Endpoint, Event, SessionId};
use ferrocore::storage::Storage;
use ferrocore::wire::noise::{HandshakeResult, KeyPair, Role};
use ferrocore::wire::stream::{Entropy, SecretStream};

struct Sock {
    stream: TcpStream,
    out: VecDeque<Bytes>,
    written: usize,
    closed: bool,
}

/// An endpoint and its sockets, driven by [`step`](Self::step).
pub struct NetDriver<S: Storage> {
    /// The state machine under test.
    pub endpoint: Endpoint<S>,
    socks: BTreeMap<SessionId, Sock>,
    start: Instant,
    /// Every event, in order.
    pub events: Vec<Event>,
    seed: u8,
    counter: u8,
}

impl<S: Storage> NetDriver<S> {
    /// A driver whose Noise keys and entropy derive from `seed`.
    pub fn new(endpoint: Endpoint<S>, seed: u8) -> Self {
        Self {
            endpoint,
            socks: BTreeMap::new(),
            start: Instant::now(),
            events: Vec::new(),
            seed,
            counter: 0,
        }
    }

    /// Time since the driver started.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Starts a session on a connected socket.
    pub fn attach(&mut self, stream: TcpStream, role: Role) -> SessionId {
        self.counter = self.counter.wrapping_add(1);
        let entropy = Entropy {
            ephemeral_seed: [self.seed ^ self.counter; 32],
            header: [self.counter; 24],
        };
        let now = self.now();
        let sid = self
            .endpoint
            .connect(role, KeyPair::from_seed([self.seed; 32]), entropy, now);
        self.add_socket(sid, stream)
    }

    /// Starts a session on a connected socket whose Noise handshake already ran (e.g.
    /// hyperdht's IK): the secret-stream is built from `result` at this driver's time.
    pub fn attach_handshake(&mut self, stream: TcpStream, result: &HandshakeResult) -> SessionId {
        self.counter = self.counter.wrapping_add(1);
        let secret = SecretStream::from_handshake(
            self.endpoint.config().stream,
            result,
            [self.counter; 24],
            self.now(),
        );
        let sid = self.endpoint.add_stream(secret);
        self.add_socket(sid, stream)
    }

    fn add_socket(&mut self, sid: SessionId, stream: TcpStream) -> SessionId {
        stream.set_nodelay(true).unwrap();
        stream.set_nonblocking(true).unwrap();
        self.socks.insert(
            sid,
            Sock {
                stream,
                out: VecDeque::new(),
                written: 0,
                closed: false,
            },
        );
        sid
    }

    /// Dials `addr` as the Noise initiator.
    pub fn connect(&mut self, addr: SocketAddr) -> SessionId {
        let s = TcpStream::connect(addr).expect("connect");
        self.attach(s, Role::Initiator)
    }

    /// Accepts one connection on `listener` as the Noise responder.
    pub fn accept(&mut self, listener: &TcpListener) -> SessionId {
        let (s, _) = listener.accept().expect("accept");
        self.attach(s, Role::Responder)
    }

    /// One round: socket input, timers, output. True if anything moved.
    pub fn step(&mut self) -> bool {
        let mut progressed = false;
        let mut buf = vec![0u8; 256 << 10];
        let sids: Vec<SessionId> = self.socks.keys().copied().collect();
        for sid in sids {
            let now = self.now();
            let Some(sock) = self.socks.get_mut(&sid) else {
                continue;
            };
            if sock.closed || sock.out.len() > 256 {
                continue;
            }
            match sock.stream.read(&mut buf) {
                Ok(0) => {
                    sock.closed = true;
                    self.endpoint.handle_end(sid);
                    progressed = true;
                }
                Ok(n) => {
                    self.endpoint.handle_input(sid, now, &buf[..n]);
                    progressed = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => {
                    sock.closed = true;
                    self.endpoint.handle_end(sid);
                }
            }
            self.drain();
        }
        let now = self.now();
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
            progressed = true;
        }
        progressed |= self.drain();
        for (sid, sock) in &mut self.socks {
            while let Some(front) = sock.out.front() {
                match sock.stream.write(&front[sock.written..]) {
                    Ok(n) => {
                        progressed = true;
                        self.endpoint.handle_sent(*sid, n);
                        sock.written += n;
                        if sock.written == front.len() {
                            sock.out.pop_front();
                            sock.written = 0;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        sock.out.clear();
                        break;
                    }
                }
            }
        }
        progressed
    }

    fn drain(&mut self) -> bool {
        let mut any = false;
        loop {
            let mut moved = false;
            while let Some((sid, bytes)) = self.endpoint.poll_transmit() {
                if let Some(s) = self.socks.get_mut(&sid) {
                    s.out.push_back(bytes);
                }
                moved = true;
            }
            while let Some(ev) = self.endpoint.poll_event() {
                self.events.push(ev);
                moved = true;
            }
            if !moved {
                return any;
            }
            any = true;
        }
    }

    /// Steps until `done` holds (true) or `timeout` passes (false).
    pub fn run_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&mut Self) -> bool,
    ) -> bool {
        let until = Instant::now() + timeout;
        loop {
            if done(self) {
                return true;
            }
            if Instant::now() > until {
                return false;
            }
            if !self.step() {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}
