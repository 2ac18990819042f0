//! Every scenario of `ferrocore-scenarios` on every runtime: Tokio (`ferrocore-tokio`),
//! smol and async-std (`ferrocore-futures`), and threads (`ferrocore-blocking`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::{CoreId, Endpoint, EndpointConfig, RequestId, SessionId};
use ferrocore::wire::noise::Role;
use ferrocore::Log;
use ferrocore_driver::{CoreInfo, DownloadHandle, Error, Events};
use ferrocore_scenarios::{scenarios, Peer, Runtime, Storage, LIMIT};
use smol::future::FutureExt as _;

/// The node methods every peer forwards; `$($aw)*` is `.await` for async adapters and
/// nothing for the blocking one.
macro_rules! forward {
    ($($aw:tt)*) => {
        async fn add_core(&self, log: Log<Storage>) -> Result<CoreId, Error> {
            self.0.add_core(log) $($aw)*
        }
        async fn append(&self, core: CoreId, blocks: Vec<Bytes>) -> Result<u64, Error> {
            self.0.append(core, blocks) $($aw)*
        }
        async fn get(
            &self,
            core: CoreId,
            index: u64,
            timeout: Option<Duration>,
        ) -> Result<Bytes, Error> {
            self.0.get(core, index, timeout) $($aw)*
        }
        async fn download(
            &self,
            core: CoreId,
            start: u64,
            end: Option<u64>,
        ) -> Result<DownloadHandle, Error> {
            self.0.download(core, start, end) $($aw)*
        }
        async fn info(&self, core: CoreId) -> Result<CoreInfo, Error> {
            self.0.info(core) $($aw)*
        }
        async fn shutdown(&self, core: CoreId, length: u64) -> bool {
            let endpoint = self.0.shutdown() $($aw)*;
            endpoint.is_ok_and(|ep| ep.log(core).is_some_and(|log| log.length() == length))
        }
        fn cancel(&self, request: RequestId) {
            self.0.cancel(request);
        }
        fn events(&self) -> Events {
            self.0.events()
        }
        async fn with_endpoint<T: Send + 'static>(
            &self,
            f: impl FnOnce(&mut Endpoint<Storage>) -> T + Send + 'static,
        ) -> Result<T, Error> {
            self.0.with_endpoint(f) $($aw)*
        }
        fn bytes_received(&self) -> u64 {
            self.0.bytes_received()
        }
    };
}

// ----- tokio -------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Tokio;

#[derive(Clone)]
struct TokioPeer(ferrocore_tokio::Node<Storage>);

impl Peer for TokioPeer {
    forward!(.await);

    async fn listen(&self) -> SocketAddr {
        self.0.listen("127.0.0.1:0").await.unwrap()
    }

    async fn connect(&self, addr: SocketAddr) -> SessionId {
        self.0.connect(addr).await.unwrap()
    }
}

impl Runtime for Tokio {
    type Peer = TokioPeer;

    fn peer_with(self, config: EndpointConfig) -> TokioPeer {
        TokioPeer(ferrocore_tokio::Node::new(config).unwrap())
    }

    fn spawn(self, f: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(f);
    }

    async fn sleep(self, d: Duration) {
        tokio::time::sleep(d).await;
    }

    fn block_on(self, f: impl Future<Output = ()> + Send + 'static) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(LIMIT, f)
                .await
                .expect("the scenario took too long");
        });
    }
}

mod tokio_runtime {
    use super::*;
    scenarios!(Tokio);
}

// ----- smol and async-std ------------------------------------------------------------------------

/// A runtime for `ferrocore-futures`: `$net` is its TCP module, `$spawn` a function that
/// spawns a detached task, `$timer` its sleep and `$block_on` its executor.
macro_rules! futures_runtime {
    ($rt:ident, $peer:ident, $net:ident, $spawn:ident, $timer:path, $block_on:path) => {
        #[derive(Clone, Copy)]
        struct $rt;

        #[derive(Clone)]
        struct $peer(ferrocore_futures::Node<Storage>);

        impl Peer for $peer {
            forward!(.await);

            async fn listen(&self) -> SocketAddr {
                let listener = $net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                // Holds no handle to the node between connections.
                let node = self.0.downgrade();
                $spawn(async move {
                    while let Ok((stream, _)) = listener.accept().await {
                        let Some(node) = node.upgrade() else {
                            return;
                        };
                        stream.set_nodelay(true).unwrap();
                        if let Ok(connection) = node.attach(stream, Role::Responder).await {
                            $spawn(connection);
                        }
                    }
                });
                addr
            }

            async fn connect(&self, addr: SocketAddr) -> SessionId {
                let stream = $net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let connection = self.0.attach(stream, Role::Initiator).await.unwrap();
                let session = connection.session();
                $spawn(connection);
                session
            }
        }

        impl Runtime for $rt {
            type Peer = $peer;

            fn peer_with(self, config: EndpointConfig) -> $peer {
                let (node, driver) = ferrocore_futures::Node::new(config, $timer).unwrap();
                $spawn(driver);
                $peer(node)
            }

            fn spawn(self, f: impl Future<Output = ()> + Send + 'static) {
                $spawn(f);
            }

            async fn sleep(self, d: Duration) {
                $timer(d).await;
            }

            fn block_on(self, f: impl Future<Output = ()> + Send + 'static) {
                $block_on(f.or(async {
                    $timer(LIMIT).await;
                    panic!("the scenario took too long");
                }));
            }
        }
    };
}

fn smol_spawn(f: impl Future<Output = ()> + Send + 'static) {
    smol::spawn(f).detach();
}

fn async_std_spawn(f: impl Future<Output = ()> + Send + 'static) {
    async_std::task::spawn(f);
}

use async_std::net as async_std_net;
use smol::net as smol_net;

futures_runtime!(
    Smol,
    SmolPeer,
    smol_net,
    smol_spawn,
    smol::Timer::after,
    smol::block_on
);
futures_runtime!(
    AsyncStd,
    AsyncStdPeer,
    async_std_net,
    async_std_spawn,
    async_std::task::sleep,
    async_std::task::block_on
);

mod smol_runtime {
    use super::*;
    scenarios!(Smol);
}

mod async_std_runtime {
    use super::*;
    scenarios!(AsyncStd);
}

// ----- blocking (threads) ------------------------------------------------------------------------

/// Threads: every future runs on a thread of its own, its node calls blocking it.
#[derive(Clone, Copy)]
struct Threads;

#[derive(Clone)]
struct ThreadsPeer(ferrocore_blocking::Node<Storage>);

impl Peer for ThreadsPeer {
    forward!();

    async fn listen(&self) -> SocketAddr {
        self.0.listen("127.0.0.1:0").unwrap()
    }

    async fn connect(&self, addr: SocketAddr) -> SessionId {
        self.0.connect(addr).unwrap()
    }
}

impl Runtime for Threads {
    type Peer = ThreadsPeer;

    fn peer_with(self, config: EndpointConfig) -> ThreadsPeer {
        ThreadsPeer(ferrocore_blocking::Node::new(config).unwrap())
    }

    fn spawn(self, f: impl Future<Output = ()> + Send + 'static) {
        thread::spawn(move || smol::future::block_on(f));
    }

    async fn sleep(self, d: Duration) {
        thread::sleep(d);
    }

    fn block_on(self, f: impl Future<Output = ()> + Send + 'static) {
        let (tx, rx) = mpsc::channel();
        let worker = thread::spawn(move || {
            smol::future::block_on(f);
            let _ = tx.send(());
        });
        match rx.recv_timeout(LIMIT) {
            // Done, or panicked: show its panic.
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => worker.join().unwrap(),
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the scenario took too long"),
        }
    }
}

mod blocking_runtime {
    use super::*;
    scenarios!(Threads);
}
