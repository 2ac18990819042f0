//! Real TCP on 127.0.0.1, the same scenarios once on smol and once on async-std: download,
//! get, live appends, and data relayed by a second reader.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::replication::{
    CoreId, EndpointConfig, Event, RequestError, SessionError, SessionId, TransportError,
};
use ferrocore::storage::MemoryStorage;
use ferrocore::wire::noise::Role;
use ferrocore::{Log, LogOptions};
use ferrocore_futures::{Error, Node, Timer};
use futures_lite::FutureExt;

type TestNode = Node<MemoryStorage>;

const LIMIT: Duration = Duration::from_secs(5);

/// What a scenario needs of a runtime: an executor, a timer and TCP.
trait Runtime: Copy + Send + Sync + 'static {
    fn spawn(self, f: impl Future<Output = ()> + Send + 'static);
    fn timer(self) -> impl Timer;
    fn sleep(self, d: Duration) -> impl Future<Output = ()> + Send;
    /// Listens on an ephemeral port and attaches every accepted connection to `node`.
    fn listen(self, node: TestNode) -> impl Future<Output = SocketAddr> + Send;
    fn connect(self, node: &TestNode, addr: SocketAddr) -> impl Future<Output = SessionId> + Send;
}

#[derive(Clone, Copy)]
struct Smol;

impl Runtime for Smol {
    fn spawn(self, f: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(f).detach();
    }
    fn timer(self) -> impl Timer {
        smol::Timer::after
    }
    async fn sleep(self, d: Duration) {
        smol::Timer::after(d).await;
    }
    async fn listen(self, node: TestNode) -> SocketAddr {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        self.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).unwrap();
                let connection = node.attach(stream, Role::Responder).await.unwrap();
                self.spawn(connection);
            }
        });
        addr
    }
    async fn connect(self, node: &TestNode, addr: SocketAddr) -> SessionId {
        let stream = smol::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let connection = node.attach(stream, Role::Initiator).await.unwrap();
        let session = connection.session();
        self.spawn(connection);
        session
    }
}

#[derive(Clone, Copy)]
struct AsyncStd;

impl Runtime for AsyncStd {
    fn spawn(self, f: impl Future<Output = ()> + Send + 'static) {
        async_std::task::spawn(f);
    }
    fn timer(self) -> impl Timer {
        async_std::task::sleep
    }
    async fn sleep(self, d: Duration) {
        async_std::task::sleep(d).await;
    }
    async fn listen(self, node: TestNode) -> SocketAddr {
        let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        self.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).unwrap();
                let connection = node.attach(stream, Role::Responder).await.unwrap();
                self.spawn(connection);
            }
        });
        addr
    }
    async fn connect(self, node: &TestNode, addr: SocketAddr) -> SessionId {
        let stream = async_std::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let connection = node.attach(stream, Role::Initiator).await.unwrap();
        let session = connection.session();
        self.spawn(connection);
        session
    }
}

fn block(i: u64) -> Bytes {
    Bytes::from(format!("block {i}"))
}

fn node(rt: impl Runtime) -> TestNode {
    let (node, driver) = Node::new(EndpointConfig::default(), rt.timer()).unwrap();
    rt.spawn(driver);
    node
}

async fn writer(rt: impl Runtime, blocks: u64) -> (TestNode, CoreId, [u8; 32]) {
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[9; 32])),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let key = *log.key();
    let node = node(rt);
    let core = node.add_core(log).await.unwrap();
    let blocks = (0..blocks).map(block).collect::<Vec<_>>();
    let length = node.append(core, blocks.clone()).await.unwrap();
    assert_eq!(length, blocks.len() as u64);
    (node, core, key)
}

async fn reader(rt: impl Runtime, key: [u8; 32]) -> (TestNode, CoreId) {
    let options = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let node = node(rt);
    let core = node.add_core(log).await.unwrap();
    (node, core)
}

/// Runs `f`, failing if it takes longer than [`LIMIT`].
async fn bounded(rt: impl Runtime, f: impl Future<Output = ()>) {
    f.or(async {
        rt.sleep(LIMIT).await;
        panic!("test took too long");
    })
    .await;
}

async fn download_get_and_live(rt: impl Runtime) {
    let (writer, wcore, key) = writer(rt, 200).await;
    let addr = rt.listen(writer.clone()).await;
    let (reader, rcore) = reader(rt, key).await;
    let events = reader.events();
    rt.connect(&reader, addr).await;

    reader
        .download(rcore, 0, Some(200))
        .await
        .unwrap()
        .await
        .unwrap();
    let info = reader.info(rcore).await.unwrap();
    assert_eq!((info.length, info.contiguous_length), (200, 200));
    assert_eq!(info.peers, 1);
    for i in 0..200 {
        assert_eq!(reader.get(rcore, i, None).await.unwrap(), block(i));
    }

    // Live: a download without end sees new blocks as they are appended.
    let live = reader.download(rcore, 0, None).await.unwrap();
    let request = live.request();
    writer
        .append(wcore, (200..205).map(block).collect())
        .await
        .unwrap();
    let mut missing: BTreeSet<u64> = (200..205).collect();
    while !missing.is_empty() {
        if let Event::Verified { index, .. } = events.recv().await.unwrap() {
            missing.remove(&index);
        }
    }

    // A get past the end resolves once the block is appended.
    let pending = {
        let reader = reader.clone();
        async move { reader.get(rcore, 207, None).await }
    };
    let append = async {
        rt.sleep(Duration::from_millis(50)).await;
        writer
            .append(wcore, (205..208).map(block).collect())
            .await
            .unwrap();
        futures_lite::future::pending().await
    };
    assert_eq!(pending.or(append).await.unwrap(), block(207));

    let err = reader
        .get(rcore, 1000, Some(Duration::from_millis(50)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Request(RequestError::Timeout)),
        "{err}"
    );

    reader.cancel(request);
    let err = live.await.unwrap_err();
    assert!(
        matches!(err, Error::Request(RequestError::Cancelled)),
        "{err}"
    );

    // Dropping a download handle cancels the download.
    let dropped = reader.download(rcore, 0, None).await.unwrap();
    let id = dropped.request();
    drop(dropped);
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

    let endpoint = reader.shutdown().await.unwrap();
    assert_eq!(endpoint.log(rcore).unwrap().length(), 208);
    assert!(matches!(reader.info(rcore).await, Err(Error::Shutdown)));
    writer.shutdown().await.unwrap();
}

async fn relayed_by_a_second_reader(rt: impl Runtime) {
    let (writer, wcore, key) = writer(rt, 200).await;
    let waddr = rt.listen(writer.clone()).await;

    let (a, acore) = reader(rt, key).await;
    rt.connect(&a, waddr).await;
    a.download(acore, 0, Some(200))
        .await
        .unwrap()
        .await
        .unwrap();
    let aaddr = rt.listen(a.clone()).await;

    let (b, bcore) = reader(rt, key).await;
    rt.connect(&b, aaddr).await;
    b.download(bcore, 0, Some(200))
        .await
        .unwrap()
        .await
        .unwrap();
    for i in [0, 99, 199] {
        assert_eq!(b.get(bcore, i, None).await.unwrap(), block(i));
    }
    // B never talked to the writer.
    assert_eq!(writer.info(wcore).await.unwrap().peers, 1);
    assert_eq!(b.info(bcore).await.unwrap().peers, 1);

    // Live through the relay: the writer appends, A follows live, B gets it from A.
    let _a_live = a.download(acore, 0, None).await.unwrap();
    let append = async {
        rt.sleep(Duration::from_millis(20)).await;
        writer
            .append(wcore, (200..203).map(block).collect())
            .await
            .unwrap();
        futures_lite::future::pending().await
    };
    let got = b.get(bcore, 202, None).or(append).await.unwrap();
    assert_eq!(got, block(202));
}

async fn dropping_the_last_handle_stops_the_node(rt: impl Runtime) {
    let (writer, _, key) = writer(rt, 3).await;
    let addr = rt.listen(writer.clone()).await;
    let (reader, rcore) = reader(rt, key).await;
    let events = reader.events();
    rt.connect(&reader, addr).await;
    assert_eq!(reader.get(rcore, 2, None).await.unwrap(), block(2));
    // The listener task holds a handle too; `shutdown` is the explicit way.
    writer.shutdown().await.unwrap();
    drop(writer);
    loop {
        if let Event::Closed { error, .. } = events.recv().await.unwrap() {
            // The writer ended in order; the reader sees that, or a reset when the writer's
            // socket closed with the reader's last bytes unread.
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
    // Nothing holds the reader's node: its driver ended, and the event stream with it.
    while events.recv().await.is_ok() {}
}

#[test]
fn smol_download_get_and_live() {
    smol::block_on(bounded(Smol, download_get_and_live(Smol)));
}

#[test]
fn smol_relayed_by_a_second_reader() {
    smol::block_on(bounded(Smol, relayed_by_a_second_reader(Smol)));
}

#[test]
fn async_std_download_get_and_live() {
    async_std::task::block_on(bounded(AsyncStd, download_get_and_live(AsyncStd)));
}

#[test]
fn async_std_relayed_by_a_second_reader() {
    async_std::task::block_on(bounded(AsyncStd, relayed_by_a_second_reader(AsyncStd)));
}

#[test]
fn smol_dropping_the_last_handle_stops_the_node() {
    smol::block_on(bounded(Smol, dropping_the_last_handle_stops_the_node(Smol)));
}

#[test]
fn async_std_dropping_the_last_handle_stops_the_node() {
    async_std::task::block_on(bounded(
        AsyncStd,
        dropping_the_last_handle_stops_the_node(AsyncStd),
    ));
}
