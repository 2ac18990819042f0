//! `--swarm`: the replication node's peers found through Hyperswarm on HyperDHT. The swarm
//! runs on a Tokio runtime of its own (`ferrocore_tokio::swarm`); its connections go to the
//! blocking replication node ([`ferrocore_blocking::Node::add_dht_connection`]).
//!
//! `serve`'s swarm key pair is kept in the store: it derives from the store's primary key
//! (held in its database, mode 0600) as JS apps derive theirs from a Corestore
//! (`store.createKeyPair('hyperswarm')`), so a restarted `serve` is the same peer to those
//! who knew it. A `clone`'s is random for each run, as the seed's reader.js's.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ferrocore::replication::{Event, SessionId};
use ferrocore_blocking::RecvError;

use ferrocore_corestore::{Namespace, PrimaryKey};
use ferrocore_tokio::dht::{bind_dht, DhtNode, RpcConfig};
use ferrocore_tokio::swarm::{ConnId, JoinOptions, Swarm, SwarmConnection};
use ferrocore_wire::noise::KeyPair;

use super::{lock, CliNode};
use crate::Error;

/// How long a swarm's runtime, when dropped, keeps its socket running for the streams to
/// close.
const LINGER: Duration = Duration::from_secs(2);

/// The swarm's runtime: dropping it stops the swarm and its DHT node. Drop it after the
/// replication node shut down: until its streams closed (our end and the remote's
/// acknowledged, at most [`LINGER`]; a closed stream lingering to acknowledge a
/// retransmitted END is not waited for) the runtime keeps the socket running, so a remote is
/// not left retransmitting to a socket that is gone (a JS swarm's `destroy()` would wait
/// for that to time out).
pub(crate) struct SwarmRuntime {
    dht: DhtNode,
    /// The swarm's public key (its server's).
    public_key: [u8; 32],
    _runtime: tokio::runtime::Runtime,
}

impl Drop for SwarmRuntime {
    fn drop(&mut self) {
        // First stop accepting (JS `server.close()`, which also unannounces the server's
        // record): the replication node is gone, and a peer retrying would connect to a
        // server that drops it.
        let key = self.public_key;
        self.dht
            .machine()
            .with(|m, now| m.peer_mut().unlisten(now, &key));
        let until = Instant::now() + LINGER;
        while self.dht.machine().socket().open_stream_count() > 0 && Instant::now() < until {
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Joins `topic` as a client on a new DHT node bootstrapped from `bootstrap` and adds
/// every connection the swarm keeps to `node`; fails with exit 6 when no peer connected
/// within `limit`.
pub(crate) fn find(
    node: &CliNode,
    bootstrap: Vec<SocketAddr>,
    topic: [u8; 32],
    limit: Option<Duration>,
) -> Result<SwarmRuntime, Error> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| Error::Failed(format!("no randomness for the swarm key pair: {e}")))?;
    let key_pair = KeyPair::from_seed(seed);
    let public_key = key_pair.public_key;
    let (runtime, dht, swarm) = start(bootstrap, key_pair)?;
    let sessions = Sessions::watch(node, &swarm)?;
    let client = JoinOptions {
        server: false,
        client: true,
        ..JoinOptions::default()
    };
    let first = runtime.block_on(async {
        swarm.join(topic, client).await;
        match limit {
            Some(limit) => tokio::time::timeout(limit, swarm.connection()).await.ok(),
            None => Some(swarm.connection().await),
        }
    });
    let Some(first) = first else {
        return Err(Error::Timeout(format!(
            "timed out after {} s: no peer found for discovery key {} on the swarm",
            limit.unwrap_or_default().as_secs(),
            hex::encode(topic)
        )));
    };
    eprintln!("peer {}", hex::encode(first.remote_public_key));
    sessions
        .add(node, &swarm, first)
        .map_err(|e| Error::Network(format!("the swarm's connection: {e}")))?;
    add_connections(&runtime, swarm, node.clone(), sessions, true)?;
    Ok(SwarmRuntime {
        dht,
        public_key,
        _runtime: runtime,
    })
}

/// The swarm key pair of a store with primary key `primary` (JS
/// `store.createKeyPair('hyperswarm')`).
pub(crate) fn store_key_pair(primary: [u8; 32]) -> KeyPair {
    let seed = PrimaryKey::from_bytes(primary).seed(&Namespace::ROOT, "hyperswarm");
    KeyPair::from_seed(seed)
}

/// A runtime with a bootstrapped DHT node and a swarm with `key_pair` on it.
fn start(
    bootstrap: Vec<SocketAddr>,
    key_pair: KeyPair,
) -> Result<(tokio::runtime::Runtime, DhtNode, Swarm), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let config = RpcConfig {
        bootstrap,
        ..RpcConfig::default()
    };
    let (dht, swarm) = runtime.block_on(async {
        let dht = bind_dht("0.0.0.0:0", config)
            .await
            .map_err(|e| Error::Network(format!("cannot bind the DHT socket: {e}")))?;
        dht.bootstrapped().await;
        Ok::<_, Error>((dht.clone(), Swarm::new(dht, key_pair)))
    })?;
    Ok((runtime, dht, swarm))
}

/// Adds every further connection `swarm` keeps to `node` (a thread, until the node stops);
/// with `report`, says `peer <remote public key hex>` on stderr for each.
fn add_connections(
    runtime: &tokio::runtime::Runtime,
    swarm: Swarm,
    node: CliNode,
    sessions: Arc<Sessions>,
    report: bool,
) -> Result<(), Error> {
    let handle = runtime.handle().clone();
    thread::Builder::new()
        .name("ferrocore-swarm".into())
        .spawn(move || {
            // Ends when the runtime shuts down (the command is ending) or the node stopped.
            while let Some(c) = handle.block_on(swarm.next_connection()) {
                if report {
                    eprintln!("peer {}", hex::encode(c.remote_public_key));
                }
                if sessions.add(&node, &swarm, c).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}

/// Joins every topic as a server with `key_pair` on a new DHT node bootstrapped from
/// `bootstrap`, prints
/// `announced <topic hex>` for each once announced, and adds every connection to `node`.
pub(crate) fn serve(
    node: &CliNode,
    bootstrap: Vec<SocketAddr>,
    topics: &[[u8; 32]],
    key_pair: KeyPair,
    out: &mut dyn Write,
) -> Result<SwarmRuntime, Error> {
    let public_key = key_pair.public_key;
    let (runtime, dht, swarm) = start(bootstrap, key_pair)?;
    let sessions = Sessions::watch(node, &swarm)?;
    let swarm = runtime.block_on(async {
        for topic in topics {
            swarm.join(*topic, JoinOptions::default()).await;
        }
        if !swarm.flush().await {
            return Err(Error::Network("the swarm stopped before announcing".into()));
        }
        Ok::<_, Error>(swarm)
    })?;
    for topic in topics {
        writeln!(out, "announced {}", hex::encode(topic))?;
    }
    out.flush()?;
    add_connections(&runtime, swarm, node.clone(), sessions, false)?;
    Ok(SwarmRuntime {
        dht,
        public_key,
        _runtime: runtime,
    })
}

/// How many ended sessions not (yet) known as swarm connections are remembered: a session
/// can end before its adder records it.
const ENDED_KEPT: usize = 64;

/// Which swarm connection each replication session is, so that the swarm hears when one
/// ends ([`Swarm::closed`]) and reconnects or retries as JS's does.
#[derive(Default)]
struct Sessions {
    state: Mutex<SessionState>,
}

#[derive(Default)]
struct SessionState {
    open: HashMap<SessionId, ConnId>,
    /// Recently ended sessions that were not recorded when they ended.
    ended: VecDeque<SessionId>,
}

impl Sessions {
    /// Starts watching `node`'s sessions end (a thread, until the node stops).
    fn watch(node: &CliNode, swarm: &Swarm) -> Result<Arc<Self>, Error> {
        let sessions = Arc::new(Self::default());
        let events = node.events();
        let (watched, swarm) = (sessions.clone(), swarm.clone());
        thread::Builder::new()
            .name("ferrocore-swarm-closed".into())
            .spawn(move || loop {
                match events.recv_blocking() {
                    Ok(Event::Closed { session, .. }) => watched.ended(&swarm, session),
                    Ok(_) | Err(RecvError::Lagged(_) | RecvError::Empty) => {}
                    Err(RecvError::Closed) => return,
                }
            })?;
        Ok(sessions)
    }

    /// Adds connection `c` to `node` as a session, remembered as `c.id`.
    fn add(
        &self,
        node: &CliNode,
        swarm: &Swarm,
        c: SwarmConnection,
    ) -> Result<(), ferrocore_blocking::Error> {
        let id = c.id;
        let session = node.add_dht_connection(c.connection)?;
        let mut state = lock(&self.state);
        if let Some(i) = state.ended.iter().position(|s| *s == session) {
            state.ended.remove(i);
            swarm.closed(id);
        } else {
            state.open.insert(session, id);
        }
        Ok(())
    }

    fn ended(&self, swarm: &Swarm, session: SessionId) {
        let mut state = lock(&self.state);
        if let Some(id) = state.open.remove(&session) {
            swarm.closed(id);
        } else {
            if state.ended.len() == ENDED_KEPT {
                state.ended.pop_front();
            }
            state.ended.push_back(session);
        }
    }
}
