//! Hyperswarm on a [`DhtNode`], for any runtime: [`Swarm`] runs
//! `ferrocore-hyperswarm`'s state machine — its lookups, announces and connects as DHT
//! operations, its timers on the runtime's — and hands out each kept connection
//! ([`SwarmConnection`]), ready for a replication node's `add_dht_connection` as JS's
//! `swarm.on('connection', c => store.replicate(c))`. The application reports each such
//! connection's end with [`Swarm::closed`] (JS's swarm sees its `'close'` event): the swarm
//! then reconnects or retries the peer as JS does.
//!
//! One code path for every adapter: each passes only its way to spawn a task
//! ([`Spawn`]) and to sleep ([`Sleep`]) to [`Swarm::with_runtime`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender, WeakSender};
use ed25519_dalek::SigningKey;
use ferrocore_hyperdht::dht::DhtError;
use ferrocore_hyperswarm::{Command, ErrorCode, Event, Peer, QueryId, SwarmConfig};
use ferrocore_wire::noise::KeyPair;

use crate::{BoxFuture, DhtConnection, DhtNode, OpResult, Sleep};

pub use ferrocore_hyperswarm::{ConnId, JoinOptions, Topic};

/// The runtime's way to run a task to its end in the background.
pub type Spawn = Arc<dyn Fn(BoxFuture<()>) + Send + Sync>;

/// How long the swarm waits for its server's first announce before announcing its topics
/// anyway (a DHT with no reachable node never completes it).
const FIRST_UPDATE_WAIT: Duration = Duration::from_secs(10);
/// How often it looks whether that first announce ended.
const FIRST_UPDATE_POLL: Duration = Duration::from_millis(25);

/// A connection the swarm kept (JS's `'connection'` event).
#[derive(Debug)]
pub struct SwarmConnection {
    /// The swarm's id of it: pass it to [`Swarm::closed`] once it ends.
    pub id: ConnId,
    /// The remote's public key.
    pub remote_public_key: [u8; 32],
    /// Whether we dialled it.
    pub is_initiator: bool,
    /// The topics it was found under (client connections).
    pub topics: Vec<Topic>,
    /// The DHT connection: UDX stream and handshake.
    pub connection: DhtConnection,
}

enum Msg {
    Join(Topic, JoinOptions),
    Leave(Topic),
    Flush(Sender<bool>),
    Query(QueryId, Result<OpResult, DhtError>),
    Dialled(ConnId, [u8; 32], Result<DhtConnection, String>),
    Accepted(DhtConnection),
    Listening,
    Closed(ConnId),
}

/// A Hyperswarm on a HyperDHT node. Dropping every handle stops it.
#[derive(Clone, Debug)]
pub struct Swarm {
    tx: Sender<Msg>,
    connections: Receiver<SwarmConnection>,
}

impl Swarm {
    /// A swarm with `key_pair` (its DHT server's and connections' key) on `dht`, with
    /// JS's default limits; its tasks run by `spawn`, its timers are `sleep`'s.
    #[must_use]
    pub fn with_runtime(dht: DhtNode, key_pair: KeyPair, spawn: Spawn, sleep: Sleep) -> Self {
        let (tx, rx) = async_channel::unbounded();
        let (out, connections) = async_channel::unbounded();
        let mut seed = [0u8; 8];
        let _ = getrandom::getrandom(&mut seed);
        let swarm = ferrocore_hyperswarm::Swarm::new(
            key_pair.public_key,
            SwarmConfig::default(),
            u64::from_le_bytes(seed),
        );
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&key_pair.secret_key[..32]);
        let actor = Actor {
            dht,
            signing: SigningKey::from_bytes(&secret),
            key_pair,
            swarm,
            tx: tx.downgrade(),
            out,
            pending: HashMap::new(),
            flushes: HashMap::new(),
            origin: Instant::now(),
            accepting: false,
            spawn: spawn.clone(),
            sleep,
        };
        spawn(Box::pin(actor.run(rx)));
        Self { tx, connections }
    }

    /// Joins `topic` (JS `swarm.join(topic, {server, client})`).
    pub async fn join(&self, topic: Topic, options: JoinOptions) {
        let _ = self.tx.try_send(Msg::Join(topic, options));
    }

    /// Leaves `topic` (JS `swarm.leave`).
    pub async fn leave(&self, topic: Topic) {
        let _ = self.tx.try_send(Msg::Leave(topic));
    }

    /// Waits until every topic has been announced and every peer found so far tried
    /// (JS `swarm.flush()`); false if the swarm stopped.
    pub async fn flush(&self) -> bool {
        let (tx, rx) = async_channel::bounded(1);
        if self.tx.try_send(Msg::Flush(tx)).is_err() {
            return false;
        }
        rx.recv().await.unwrap_or(false)
    }

    /// Reports that connection `id` (handed out by [`Swarm::connection`]) ended, for any
    /// reason (JS's `'close'` of a swarm connection): the swarm forgets it and, for a peer
    /// still wanted (an explicit peer, or one found under a topic joined as client),
    /// retries with JS's backoff.
    pub fn closed(&self, id: ConnId) {
        let _ = self.tx.try_send(Msg::Closed(id));
    }

    /// The next connection the swarm kept.
    ///
    /// # Panics
    /// If the swarm's task ended: its runtime shut down ([`next_connection`] says so
    /// instead).
    ///
    /// [`next_connection`]: Swarm::next_connection
    pub async fn connection(&self) -> SwarmConnection {
        self.next_connection()
            .await
            .expect("the swarm's runtime is running")
    }

    /// [`Swarm::next_connection`], blocking the thread (outside any async runtime).
    #[must_use]
    pub fn next_connection_blocking(&self) -> Option<SwarmConnection> {
        self.connections.recv_blocking().ok()
    }

    /// The next connection the swarm kept; `None` once its task ended (the runtime it was
    /// spawned on shut down), so a thread waiting on it from outside the runtime ends
    /// cleanly.
    pub async fn next_connection(&self) -> Option<SwarmConnection> {
        self.connections.recv().await.ok()
    }
}

struct Actor {
    dht: DhtNode,
    key_pair: KeyPair,
    signing: SigningKey,
    swarm: ferrocore_hyperswarm::Swarm,
    /// Weak, so that the actor ends once every handle (and every running operation)
    /// has dropped its sender.
    tx: WeakSender<Msg>,
    out: Sender<SwarmConnection>,
    /// Connections opened and not yet kept or dropped by the swarm.
    pending: HashMap<ConnId, DhtConnection>,
    flushes: HashMap<ferrocore_hyperswarm::FlushId, Sender<bool>>,
    origin: Instant,
    accepting: bool,
    spawn: Spawn,
    sleep: Sleep,
}

impl Actor {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    async fn run(mut self, rx: Receiver<Msg>) {
        loop {
            let now = self.now();
            if self.swarm.poll_timeout().is_some_and(|t| t <= now) {
                self.swarm.handle_timeout(now);
            }
            self.drain();
            let sleep = self
                .swarm
                .poll_timeout()
                .map_or(Duration::from_secs(3600), |t| t.saturating_sub(self.now()));
            let timer = (self.sleep)(sleep);
            let msg = futures_lite::future::or(async { Some(rx.recv().await) }, async {
                timer.await;
                None
            })
            .await;
            match msg {
                Some(Ok(msg)) => self.on_msg(msg),
                Some(Err(_)) => return,
                None => {}
            }
        }
    }

    fn on_msg(&mut self, msg: Msg) {
        let now = self.now();
        match msg {
            Msg::Join(topic, options) => {
                let _ = self.swarm.join(now, topic, options);
            }
            Msg::Leave(topic) => self.swarm.leave(now, &topic),
            Msg::Flush(done) => {
                let id = self.swarm.flush(now);
                self.flushes.insert(id, done);
            }
            Msg::Query(query, result) => {
                let ok = result.is_ok();
                if let Ok(r) = result {
                    let peers: Vec<Peer> = r
                        .peers()
                        .filter(|p| p.public_key != self.key_pair.public_key)
                        .map(|p| Peer {
                            public_key: p.public_key,
                            relay_addresses: p
                                .relay_addresses
                                .iter()
                                .map(|a| a.to_bytes().to_vec())
                                .collect(),
                        })
                        .collect();
                    self.swarm.handle_query_peers(now, query, &peers);
                }
                self.swarm.handle_query_done(now, query, ok);
            }
            Msg::Dialled(conn, key, Ok(c)) => {
                self.pending.insert(conn, c);
                self.swarm.handle_connected(now, conn, key, true);
            }
            Msg::Dialled(conn, _, Err(code)) => {
                self.swarm
                    .handle_connect_failed(now, conn, &ErrorCode::from_code(&code));
            }
            Msg::Listening => self.swarm.handle_listening(now),
            Msg::Closed(conn) => {
                self.pending.remove(&conn);
                self.swarm.handle_closed(now, conn);
            }
            Msg::Accepted(c) => {
                let key = c.connection.remote_public_key;
                if self.swarm.handle_firewall(&key, None) {
                    return; // banned: dropping it closes the stream
                }
                let conn = self.swarm.alloc_conn_id();
                self.pending.insert(conn, c);
                self.swarm.handle_connected(now, conn, key, false);
            }
        }
    }

    /// Carries out the swarm's commands and hands out its events.
    fn drain(&mut self) {
        while let Some(cmd) = self.swarm.poll_command() {
            self.command(cmd);
        }
        while let Some(ev) = self.swarm.poll_event() {
            match ev {
                Event::Connection {
                    conn,
                    remote_public_key,
                    is_initiator,
                    topics,
                } => {
                    if let Some(connection) = self.pending.remove(&conn) {
                        let _ = self.out.try_send(SwarmConnection {
                            id: conn,
                            remote_public_key,
                            is_initiator,
                            topics,
                            connection,
                        });
                    }
                }
                Event::FlushDone { id, ok } => {
                    if let Some(done) = self.flushes.remove(&id) {
                        let _ = done.try_send(ok);
                    }
                }
                Event::Update | Event::Ban { .. } | Event::Left { .. } => {}
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        let (dht, spawn) = (self.dht.clone(), self.spawn.clone());
        let Some(tx) = self.tx.upgrade() else {
            return; // every handle is gone: the actor ends at its next wait
        };
        match cmd {
            Command::Listen => {
                // JS `server.listen()`: the server's announcer keeps our record under the
                // hash of our key (which connects look up) and refreshes it; the swarm
                // is told it listens once the first update ended, as `listen()` resolves
                // then.
                let _ = self.dht.serve(self.key_pair.clone());
                let (d, t, key) = (dht.clone(), tx.clone(), self.key_pair.public_key);
                let sleep = self.sleep.clone();
                spawn(Box::pin(async move {
                    let until = Instant::now() + FIRST_UPDATE_WAIT;
                    while d.relay_addresses(&key).is_some_and(|r| r.is_empty())
                        && Instant::now() < until
                    {
                        sleep(FIRST_UPDATE_POLL).await;
                    }
                    let _ = t.try_send(Msg::Listening);
                }));
                if !self.accepting {
                    self.accepting = true;
                    // Weak: the accept loop must not keep the swarm alive; it ends at the
                    // first connection after the swarm did.
                    let weak = tx.downgrade();
                    spawn(Box::pin(async move {
                        loop {
                            let c = dht.accept().await;
                            let Some(tx) = weak.upgrade() else { return };
                            if tx.try_send(Msg::Accepted(c)).is_err() {
                                return;
                            }
                        }
                    }));
                }
            }
            Command::Lookup { query, topic } => {
                spawn(Box::pin(async move {
                    let _ = tx.try_send(Msg::Query(query, dht.lookup(topic).await));
                }));
            }
            Command::LookupAndUnannounce { query, topic }
            | Command::Unannounce { query, topic } => {
                let key = self.signing.clone();
                spawn(Box::pin(async move {
                    let _ = tx.try_send(Msg::Query(query, dht.unannounce(topic, &key).await));
                }));
            }
            Command::Announce { query, topic, .. } => {
                // Without relay addresses for now: JS's swarm passes its server's
                // (`DhtNode::relay_addresses`), but a JS client that connects through
                // those relays while our node's own address is not among them (not yet
                // known reachable) fails its handshake about half the time (the seed's
                // reader.js then prints "Skipping 0 earlier blocks..."); without them it
                // finds the record holders itself (findPeer) and connects.
                let key = self.signing.clone();
                spawn(Box::pin(async move {
                    let _ = tx.try_send(Msg::Query(query, dht.announce(topic, &key).await));
                }));
            }
            Command::Connect {
                conn, public_key, ..
            } => {
                let key_pair = self.key_pair.clone();
                spawn(Box::pin(async move {
                    let r = dht
                        .connect(key_pair, public_key)
                        .await
                        .map_err(|e| e.code().to_owned());
                    let _ = tx.try_send(Msg::Dialled(conn, public_key, r));
                }));
            }
            Command::Close { conn, .. } => {
                // Dropping the stream destroys it; connections already handed out are the
                // application's, which reports their end with `Swarm::closed` (for one
                // the swarm already forgot, a no-op).
                self.pending.remove(&conn);
                self.swarm.handle_closed(self.now(), conn);
            }
            // No-ops, each for a reason:
            // - CancelQuery: the DHT operation runs on to its own deadline (a `DhtNode`
            //   operation cannot be withdrawn from the node yet); its result comes for a
            //   query the swarm forgot, which `handle_query_*` ignore.
            // - Suspend/Resume: issued only by the state machine's `suspend`/`resume`,
            //   which this binding does not expose (a host that sleeps restarts the swarm).
            // - SendKeepAlive: handed-out connections are the application's, whose
            //   replication session sends the secret-stream keep-alives itself.
            Command::CancelQuery { .. }
            | Command::Suspend
            | Command::Resume
            | Command::SendKeepAlive { .. } => {}
        }
    }
}
