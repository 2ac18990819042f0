//! dht-rpc over Tokio: [`bind_rpc`] runs a [`RpcNode`] (a dht-rpc node sharing one UDP
//! socket with UDX streams) on a Tokio task, timed by Tokio's timer.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use ferrocore_tokio::dht::{bind_rpc, RpcConfig};
//! // The first node of a network (a bootstrap node): persistent, no bootstrap list.
//! let first = bind_rpc("127.0.0.1:0", RpcConfig { persistent: true, ..RpcConfig::default() }).await?;
//! let addr = first.local_addr()?;
//! // Another node joins through it.
//! let second = bind_rpc("127.0.0.1:0", RpcConfig { bootstrap: vec![addr], ..RpcConfig::default() }).await?;
//! println!("{} nodes known", second.table_len());
//! # Ok(()) }
//! ```

use std::io;
use std::net::ToSocketAddrs;
use std::sync::Arc;

pub use ferrocore_udp::{
    bootstrap_list, DhtConnection, DhtMachine, DhtNode, Machine, MachineNode, OpResult, RpcConfig,
    RpcEvent, RpcMachine, RpcNode, PUBLIC_BOOTSTRAP,
};

use crate::udx::{Config, UdxSocket};

/// The runtime's timer as the machine loop's.
pub(crate) fn sleep() -> ferrocore_udp::Sleep {
    Arc::new(|d| Box::pin(tokio::time::sleep(d)) as ferrocore_udp::BoxFuture<()>)
}

/// Runs `machine` on `socket`'s spare datagrams (a Tokio task, until every handle to it
/// is dropped).
///
/// # Panics
/// Outside a Tokio runtime.
pub fn spawn_machine<M: Machine>(socket: &UdxSocket, machine: M) -> MachineNode<M> {
    let node = MachineNode::new((**socket).clone(), machine);
    tokio::spawn(ferrocore_udp::drive_machine(&node, sleep()));
    node
}

/// Binds a UDX socket to `addr` and runs a dht-rpc node on it, started as `config` says
/// (its bootstrap query runs at once; [`RpcEvent::Bootstrapped`] when it ends).
///
/// # Errors
/// When binding fails or the OS random number generator does.
///
/// # Panics
/// Outside a Tokio runtime.
pub async fn bind_rpc(addr: impl ToSocketAddrs, config: RpcConfig) -> io::Result<RpcNode> {
    let socket = UdxSocket::bind_with(addr, Config::default()).await?;
    let node = RpcNode::new((*socket).clone(), &config)?;
    tokio::spawn(ferrocore_udp::drive_machine(node.machine(), sleep()));
    Ok(node)
}

/// Binds a UDX socket to `addr` and runs a HyperDHT node on it (lookups, announces,
/// FIND_PEER, puts and gets as futures; handshakes relayed), started as `config` says.
///
/// ```no_run
/// # async fn f(boot: std::net::SocketAddr) -> std::io::Result<()> {
/// use ferrocore_tokio::dht::{bind_dht, RpcConfig};
/// let node = bind_dht("127.0.0.1:0", RpcConfig { bootstrap: vec![boot], ..RpcConfig::default() }).await?;
/// node.bootstrapped().await;
/// let found = node.lookup([7; 32]).await;
/// # Ok(()) }
/// ```
///
/// # Errors
/// When binding fails or the OS random number generator does.
///
/// # Panics
/// Outside a Tokio runtime.
pub async fn bind_dht(addr: impl ToSocketAddrs, config: RpcConfig) -> io::Result<DhtNode> {
    let socket = UdxSocket::bind_with(addr, Config::default()).await?;
    let node = DhtNode::new((*socket).clone(), &config)?;
    tokio::spawn(ferrocore_udp::drive_machine(node.machine(), sleep()));
    Ok(node)
}
