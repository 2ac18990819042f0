//! The adapters' replication scenarios, written once.
//!
//! Each scenario is an async function over a [`Runtime`] (an executor, a timer, and how
//! to make a node of one adapter) and runs real TCP on 127.0.0.1. `tests/runtimes.rs`
//! instantiates every scenario for Tokio (`ferrocore-tokio`), smol and async-std
//! (`ferrocore-futures`) and threads (`ferrocore-blocking`) with [`scenarios!`], so the
//! adapters are held to the same behaviour, event policy included.
//!
//! A blocking node's methods block inside the scenario's future; its runtime runs each
//! future on a thread of its own, so scenarios get concurrency only from
//! [`Runtime::spawn`], never from polling two futures at once.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::replication::{
    CoreId, Endpoint, EndpointConfig, Event, RequestError, RequestId, SessionError, SessionId,
    TransportError,
};
use ferrocore::storage::MemoryStorage;
use ferrocore::{Log, LogOptions};
use ferrocore_driver::{CoreInfo, DownloadHandle, Error, Events, RecvError, EVENT_CAPACITY};

/// The storage every scenario uses.
pub type Storage = MemoryStorage;

/// How long a scenario may take before it fails (a guard against hangs, never a
/// measurement).
pub const LIMIT: Duration = Duration::from_secs(60);

/// One adapter's node, as the scenarios use it: its methods as futures.
pub trait Peer: Clone + Send + Sync + 'static {
    /// Adds a core.
    fn add_core(&self, log: Log<Storage>) -> impl Future<Output = Result<CoreId, Error>> + Send;
    /// Appends blocks.
    fn append(
        &self,
        core: CoreId,
        blocks: Vec<Bytes>,
    ) -> impl Future<Output = Result<u64, Error>> + Send;
    /// Gets a block.
    fn get(
        &self,
        core: CoreId,
        index: u64,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<Bytes, Error>> + Send;
    /// Starts a download.
    fn download(
        &self,
        core: CoreId,
        start: u64,
        end: Option<u64>,
    ) -> impl Future<Output = Result<DownloadHandle, Error>> + Send;
    /// A core's state.
    fn info(&self, core: CoreId) -> impl Future<Output = Result<CoreInfo, Error>> + Send;
    /// Shuts the node down; true if it handed back an endpoint whose core has `length`.
    fn shutdown(&self, core: CoreId, length: u64) -> impl Future<Output = bool> + Send;
    /// Cancels a request.
    fn cancel(&self, request: RequestId);
    /// Subscribes to the node's events.
    fn events(&self) -> Events;
    /// Runs `f` on the node's endpoint, inside its driver.
    fn with_endpoint<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Endpoint<Storage>) -> T + Send + 'static,
    ) -> impl Future<Output = Result<T, Error>> + Send;
    /// Bytes the node took from its connections so far.
    fn bytes_received(&self) -> u64;
    /// Listens on an ephemeral port of 127.0.0.1 (holding no handle to the node).
    fn listen(&self) -> impl Future<Output = SocketAddr> + Send;
    /// Connects to `addr`.
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = SessionId> + Send;
}

/// What a scenario needs of a runtime.
pub trait Runtime: Copy + Send + Sync + 'static {
    /// The node of this runtime's adapter.
    type Peer: Peer;
    /// A new node (from inside [`block_on`](Self::block_on)).
    fn peer(self) -> Self::Peer {
        self.peer_with(EndpointConfig::default())
    }
    /// A new node with its endpoint configured by `config`.
    fn peer_with(self, config: EndpointConfig) -> Self::Peer;
    /// Runs `f` concurrently with the caller.
    fn spawn(self, f: impl Future<Output = ()> + Send + 'static);
    /// Completes after `d`.
    fn sleep(self, d: Duration) -> impl Future<Output = ()> + Send;
    /// Runs a scenario to its end on the test's thread, failing it after [`LIMIT`].
    fn block_on(self, f: impl Future<Output = ()> + Send + 'static);
}

/// Instantiates every scenario as a `#[test]` for the runtime `$rt`.
#[macro_export]
macro_rules! scenarios {
    ($rt:expr) => {
        $crate::scenarios!(@tests $rt;
            download_get_and_live,
            relayed_by_a_second_reader,
            dropping_the_last_handle_stops_the_node,
            a_subscriber_that_never_reads_still_gets_closed,
            a_stalled_session_is_not_read_until_answered,
        );
    };
    (@tests $rt:expr; $($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                $crate::Runtime::block_on($rt, $crate::$name($rt));
            }
        )*
    };
}

/// Block `i` of every scenario's writer.
#[must_use]
pub fn block(i: u64) -> Bytes {
    Bytes::from(format!("block {i}"))
}

/// A writer node with one core of `blocks` blocks; its core id and key.
async fn writer<R: Runtime>(rt: R, blocks: u64) -> (R::Peer, CoreId, [u8; 32]) {
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[9; 32])),
        ..LogOptions::default()
    };
    let log = Log::open(Storage::new(), options).unwrap();
    let key = *log.key();
    let node = rt.peer();
    let core = node.add_core(log).await.unwrap();
    let length = node
        .append(core, (0..blocks).map(block).collect())
        .await
        .unwrap();
    assert_eq!(length, blocks);
    (node, core, key)
}

/// A reader node with the core `key` (empty).
async fn reader<R: Runtime>(rt: R, key: [u8; 32]) -> (R::Peer, CoreId) {
    let options = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let log = Log::open(Storage::new(), options).unwrap();
    let node = rt.peer();
    let core = node.add_core(log).await.unwrap();
    (node, core)
}

/// Connects `peer` to `addr` and downloads blocks `0..blocks` of `core`; the session.
async fn fetch<P: Peer>(peer: &P, core: CoreId, addr: SocketAddr, blocks: u64) -> SessionId {
    let session = peer.connect(addr).await;
    let download = peer.download(core, 0, Some(blocks)).await.unwrap();
    download.await.unwrap();
    session
}

/// Runs `f` on a task of its own; the returned future is its result.
fn spawned<R: Runtime, T: Send + 'static>(
    rt: R,
    f: impl Future<Output = T> + Send + 'static,
) -> impl Future<Output = T> {
    let (tx, rx) = async_channel::bounded(1);
    rt.spawn(async move {
        let _ = tx.try_send(f.await);
    });
    async move { rx.recv().await.expect("the spawned task panicked") }
}

/// Waits for `Verified` events of every index in `want`.
async fn verified(events: &Events, want: std::ops::Range<u64>) {
    let mut missing: BTreeSet<u64> = want.collect();
    while !missing.is_empty() {
        match events.recv().await {
            Ok(Event::Verified { index, .. }) => {
                missing.remove(&index);
            }
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

/// Download, get, live appends, timeouts, cancelling, shutdown.
pub async fn download_get_and_live<R: Runtime>(rt: R) {
    let (writer, wcore, key) = writer(rt, 200).await;
    let addr = writer.listen().await;
    let (reader, rcore) = reader(rt, key).await;
    let events = reader.events();
    fetch(&reader, rcore, addr, 200).await;
    let info = reader.info(rcore).await.unwrap();
    assert_eq!((info.length, info.contiguous_length), (200, 200));
    assert!(!info.writable);
    assert_eq!(info.peers, 1);
    for i in 0..200 {
        assert_eq!(reader.get(rcore, i, None).await.unwrap(), block(i));
    }

    // Live: a download without end sees new blocks as they are appended.
    let live = reader.download(rcore, 0, None).await.unwrap();
    let appended = writer
        .append(wcore, (200..205).map(block).collect())
        .await
        .unwrap();
    assert_eq!(appended, 205);
    verified(&events, 200..205).await;
    assert_eq!(reader.get(rcore, 204, None).await.unwrap(), block(204));

    // A get past the end resolves once the block is appended.
    let pending = spawned(rt, {
        let reader = reader.clone();
        async move { reader.get(rcore, 207, None).await }
    });
    writer
        .append(wcore, (205..208).map(block).collect())
        .await
        .unwrap();
    assert_eq!(pending.await.unwrap(), block(207));

    // A get with a timeout past the end fails with `Timeout`.
    let err = reader
        .get(rcore, 1000, Some(Duration::from_millis(50)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Request(RequestError::Timeout)),
        "{err}"
    );

    live.cancel();
    let err = live.await.unwrap_err();
    assert!(
        matches!(err, Error::Request(RequestError::Cancelled)),
        "{err}"
    );

    // Dropping a download handle cancels the download; so does `cancel` by its id.
    for by_drop in [true, false] {
        let handle = reader.download(rcore, 0, None).await.unwrap();
        let id = handle.request();
        if by_drop {
            drop(handle);
        } else {
            reader.cancel(id);
        }
        loop {
            if let Event::Download {
                request, result, ..
            } = events.recv().await.unwrap()
            {
                if request == id {
                    assert_eq!(result, Err(RequestError::Cancelled));
                    break;
                }
            }
        }
    }

    assert!(reader.shutdown(rcore, 208).await);
    assert!(matches!(reader.info(rcore).await, Err(Error::Shutdown)));
    assert!(writer.shutdown(wcore, 208).await);
}

/// Data relayed by a second reader, which never talks to the writer, also live.
pub async fn relayed_by_a_second_reader<R: Runtime>(rt: R) {
    let (writer, wcore, key) = writer(rt, 200).await;
    let waddr = writer.listen().await;

    // A downloads everything from the writer, then serves B.
    let (a, acore) = reader(rt, key).await;
    fetch(&a, acore, waddr, 200).await;
    let aaddr = a.listen().await;

    let (b, bcore) = reader(rt, key).await;
    fetch(&b, bcore, aaddr, 200).await;
    for i in [0, 99, 199] {
        assert_eq!(b.get(bcore, i, None).await.unwrap(), block(i));
    }
    assert_eq!(writer.info(wcore).await.unwrap().peers, 1);
    assert_eq!(b.info(bcore).await.unwrap().peers, 1);

    // Live through the relay: the writer appends, A follows live, B gets it from A.
    let _a_live = a.download(acore, 0, None).await.unwrap();
    let pending = spawned(rt, {
        let b = b.clone();
        async move { b.get(bcore, 202, None).await }
    });
    writer
        .append(wcore, (200..203).map(block).collect())
        .await
        .unwrap();
    assert_eq!(pending.await.unwrap(), block(202));
}

/// Dropping every handle of a listening node stops it: its peer sees the connection end;
/// a node whose handles are all gone ends its event stream.
pub async fn dropping_the_last_handle_stops_the_node<R: Runtime>(rt: R) {
    let (writer, _, key) = writer(rt, 3).await;
    let addr = writer.listen().await;
    let (reader, rcore) = reader(rt, key).await;
    let events = reader.events();
    reader.connect(addr).await;
    assert_eq!(reader.get(rcore, 2, None).await.unwrap(), block(2));
    drop(writer);
    loop {
        if let Event::Closed { error, .. } = events.recv().await.unwrap() {
            // The writer ended in order; the reader sees that, or a reset when the
            // writer's socket closed with the reader's last bytes unread.
            assert!(
                matches!(
                    error,
                    Some(
                        SessionError::RemoteEnded | SessionError::Transport(TransportError::Reset)
                    )
                ),
                "{error:?}"
            );
            break;
        }
    }
    assert_eq!(reader.info(rcore).await.unwrap().peers, 0);
    drop(reader);
    loop {
        match events.recv().await {
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => break,
            Err(e) => panic!("{e}"),
        }
    }
}

/// The event policy: a subscriber that never reads loses the oldest of the flood of
/// `Verified` events (and is told how many), but never a request's result or `Closed`.
pub async fn a_subscriber_that_never_reads_still_gets_closed<R: Runtime>(rt: R) {
    let blocks = EVENT_CAPACITY as u64 + 500;
    let (writer, _, key) = writer(rt, blocks).await;
    let addr = writer.listen().await;
    let (reader, rcore) = reader(rt, key).await;
    let idle = reader.events();
    let session = fetch(&reader, rcore, addr, blocks).await;
    // The reader learns of the end from its own, reading subscriber (subscribed before
    // the writer goes, or the `Closed` may come before it and never reach it)...
    let watcher = reader.events();
    drop(writer);
    while !matches!(watcher.recv().await, Ok(Event::Closed { .. })) {}
    // ...and only then does the idle one read: a `Verified` per block, more than it
    // holds, then the download's result and the close.
    let (mut lagged, mut result, mut closed) = (0, None, false);
    while !closed {
        match idle.try_recv() {
            Err(RecvError::Lagged(n)) => lagged += n,
            Ok(Event::Download { result: r, .. }) => result = Some(r),
            Ok(Event::Closed { session: s, .. }) => closed = s == session,
            Ok(_) => {}
            Err(e) => panic!("{e} before Closed (lagged {lagged}, result {result:?})"),
        }
    }
    assert!(lagged >= blocks - EVENT_CAPACITY as u64, "lagged {lagged}");
    assert_eq!(result, Some(Ok(())));
}

/// A session whose input waits for the application (the peer opened cores nobody has
/// answered about yet, [`Endpoint::is_stalled`]) is not read: what the peer sends meanwhile
/// (16 MiB of extension messages) stays in the network, not in the node. Once the
/// application answers, reading resumes and every message arrives.
pub async fn a_stalled_session_is_not_read_until_answered<R: Runtime>(rt: R) {
    const UNKNOWN: u8 = 200;
    const MESSAGES: usize = 64;
    const MESSAGE_LEN: usize = 256 << 10;
    // A chunk a reader may hold when it learns of the stall (the largest adapter's read).
    const HELD: u64 = 256 << 10;
    let (writer, wcore, key) = writer(rt, 1).await;
    let addr = writer.listen().await;
    let mut config = EndpointConfig::default();
    config.ask_unknown_cores = true;
    config.mux.max_pending_opens = 100;
    let asker = rt.peer_with(config);
    let log = Log::open(
        Storage::new(),
        LogOptions {
            key: Some(key),
            ..LogOptions::default()
        },
    )
    .unwrap();
    let core = asker.add_core(log).await.unwrap();
    let events = asker.events();
    let session = asker.connect(addr).await;
    assert_eq!(asker.get(core, 0, None).await.unwrap(), block(0));

    // The writer opens cores the asker does not have; nobody answers, so it stalls.
    for i in 0..UNKNOWN {
        let mut seed = [0x5a; 32];
        seed[0] = i;
        let options = LogOptions {
            key_pair: Some(KeyPair::from_seed(&seed)),
            ..LogOptions::default()
        };
        writer
            .add_core(Log::open(Storage::new(), options).unwrap())
            .await
            .unwrap();
    }
    while !asker
        .with_endpoint(move |ep| ep.is_stalled(session))
        .await
        .unwrap()
    {
        rt.sleep(Duration::from_millis(5)).await;
    }

    // The writer floods the stalled session; the asker takes (almost) none of it, though
    // both drivers are woken again and again meanwhile (each command is a turn of the
    // driver loop: the writer's flushes its output, the asker's would read what came).
    let before = asker.bytes_received();
    let sent = writer
        .with_endpoint(move |ep| {
            let ws = ep.sessions().next().expect("the writer's session");
            (0..MESSAGES).all(|i| {
                let message = vec![i as u8; MESSAGE_LEN];
                ep.send_extension(ws, wcore, "flood", &message).is_ok()
            })
        })
        .await
        .unwrap();
    assert!(sent);
    for _ in 0..20 {
        rt.sleep(Duration::from_millis(20)).await;
        writer.with_endpoint(|_| ()).await.unwrap();
        let stalled = asker.with_endpoint(move |ep| ep.is_stalled(session));
        assert!(stalled.await.unwrap(), "the session stays stalled");
    }
    let taken = asker.bytes_received() - before;
    assert!(taken <= HELD, "a stalled session was read: {taken} bytes");

    // The application refuses every unknown core as it hears of it: reading resumes.
    let (mut refused, mut arrived) = (0, 0);
    while refused < UNKNOWN || arrived < MESSAGES {
        let event = match events.try_recv() {
            Ok(event) => event,
            Err(RecvError::Empty) => {
                writer.with_endpoint(|_| ()).await.unwrap();
                rt.sleep(Duration::from_millis(2)).await;
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        match event {
            Event::UnknownCore {
                session: s,
                discovery_key,
            } => {
                assert_eq!(s, session);
                let ok = asker
                    .with_endpoint(move |ep| ep.reject_core(session, &discovery_key))
                    .await
                    .unwrap();
                assert!(ok);
                refused += 1;
            }
            Event::Extension { name, message, .. } => {
                assert_eq!((name.as_str(), message.len()), ("flood", MESSAGE_LEN));
                assert_eq!(message[0], arrived as u8);
                arrived += 1;
            }
            Event::Closed { error, .. } => panic!("closed: {error:?}"),
            _ => {}
        }
    }
    assert!(asker.bytes_received() - before >= (MESSAGES * MESSAGE_LEN) as u64);
    assert!(!asker
        .with_endpoint(move |ep| ep.is_stalled(session))
        .await
        .unwrap());
    assert_eq!(asker.info(core).await.unwrap().peers, 1);
}
