//! dht-rpc nodes over Tokio on loopback: nodes bootstrap from a persistent first node,
//! learn it, ping it, and UDX streams keep working on the sockets the nodes share.

use std::time::Duration;

use ferrocore_hyperdht::rpc::io::Outgoing;
use ferrocore_hyperdht::rpc::node::NodeEvent;
use ferrocore_tokio::dht::{bind_rpc, RpcConfig, RpcEvent, RpcNode};
use ferrocore_udp::to_ipv4;
use ferrocore_wire::dht::{commands, node_id};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

async fn until(node: &RpcNode, mut want: impl FnMut(&RpcEvent) -> bool) -> RpcEvent {
    timeout(Duration::from_secs(10), async {
        loop {
            let e = node.machine().next_event().await;
            if want(&e) {
                return e;
            }
        }
    })
    .await
    .expect("event in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_bootstrap_from_a_persistent_node_and_ping_it() {
    let first = bind_rpc(
        "127.0.0.1:0",
        RpcConfig {
            persistent: true,
            ..RpcConfig::default()
        },
    )
    .await
    .unwrap();
    let first_addr = first.local_addr().unwrap();
    // A persistent node's id is the hash of its address, as JS's bootstrap nodes'.
    let first_id = node_id(&to_ipv4(first_addr).unwrap());
    assert_eq!(first.id(), Some(first_id));
    until(&first, |e| *e == RpcEvent::Bootstrapped).await;

    let config = RpcConfig {
        bootstrap: vec![first_addr],
        events: true,
        ..RpcConfig::default()
    };
    let a = bind_rpc("127.0.0.1:0", config.clone()).await.unwrap();
    let b = bind_rpc("127.0.0.1:0", config).await.unwrap();
    for n in [&a, &b] {
        until(n, |e| *e == RpcEvent::Bootstrapped).await;
        assert!(n.is_bootstrapped());
        // The persistent node answered with its id: it is in the table.
        assert_eq!(n.table_len(), 1);
        n.machine()
            .with(|m, _| assert!(m.node().table().contains(&first_id)));
    }

    // A PING from `a` to the first node comes back with the first node's id.
    let rid = a.machine().with(|m, now| {
        m.node_mut().request(
            now,
            Outgoing {
                to: to_ipv4(first_addr).unwrap(),
                internal: true,
                command: commands::PING,
                ..Outgoing::default()
            },
        )
    });
    let reply = until(
        &a,
        |e| matches!(e, RpcEvent::Node(NodeEvent::Response { id, .. }) if *id == rid),
    )
    .await;
    let RpcEvent::Node(NodeEvent::Response { from_id, .. }) = reply else {
        unreachable!()
    };
    assert_eq!(from_id, Some(first_id));

    // The same sockets carry UDX streams beside the DHT traffic.
    let (sa, sb) = (a.socket(), b.socket());
    let x = sa.create_stream().unwrap();
    let y = sb.create_stream().unwrap();
    sa.connect(&x, y.id(), sb.local_addr().unwrap()).unwrap();
    sb.connect(&y, x.id(), sa.local_addr().unwrap()).unwrap();
    let mut x = tokio_util::compat::FuturesAsyncReadCompatExt::compat(x);
    x.write_all(b"over the dht socket").await.unwrap();
    x.shutdown().await.unwrap();
    let mut got = Vec::new();
    let mut y = tokio_util::compat::FuturesAsyncReadCompatExt::compat(y);
    timeout(Duration::from_secs(10), y.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, b"over the dht socket");
}

#[tokio::test]
async fn a_node_whose_bootstrap_is_silent_still_ends_its_bootstrap() {
    // A bound socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let node = bind_rpc(
        "127.0.0.1:0",
        RpcConfig {
            bootstrap: vec![silent.local_addr().unwrap()],
            ..RpcConfig::default()
        },
    )
    .await
    .unwrap();
    let e = timeout(Duration::from_secs(60), node.machine().next_event())
        .await
        .expect("bootstrap ends");
    assert_eq!(e, RpcEvent::Bootstrapped);
    assert_eq!(node.table_len(), 0);
}
