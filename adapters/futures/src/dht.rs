//! dht-rpc and HyperDHT on any futures executor: [`bind_rpc`] makes a [`RpcNode`] (a dht-rpc node
//! sharing one UDP socket, registered with async-io's reactor, with UDX streams) and
//! returns the loops to spawn; [`bind_dht`] does the same for a [`DhtNode`].
//!
//! ```no_run
//! # fn f() -> std::io::Result<()> {
//! use ferrocore_futures::dht::{bind_rpc, RpcConfig};
//! let (node, drivers) = bind_rpc(
//!     "127.0.0.1:0".parse().unwrap(),
//!     smol::Timer::after,
//!     RpcConfig { persistent: true, ..RpcConfig::default() },
//! )?;
//! for d in drivers {
//!     smol::spawn(d).detach();
//! }
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

pub use ferrocore_udp::{
    bootstrap_list, DhtConnection, DhtMachine, DhtNode, Machine, MachineNode, OpResult, RpcConfig,
    RpcEvent, RpcMachine, RpcNode, SocketDriver, PUBLIC_BOOTSTRAP,
};

use crate::udx::{Config, UdxSocket};
use crate::Timer;

/// Binds a UDX socket to `addr` and returns it with its driver and `timer` as the
/// machine loop's sleep.
fn bind_socket(
    addr: SocketAddr,
    timer: impl Timer,
) -> io::Result<(ferrocore_udp::UdxSocket, SocketDriver, ferrocore_udp::Sleep)> {
    let timer = Arc::new(timer);
    let t = timer.clone();
    let (socket, udx) = UdxSocket::bind_with(addr, move |d| t.sleep(d), Config::default())?;
    let sleep: ferrocore_udp::Sleep = Arc::new(move |d| timer.sleep(d));
    Ok(((*socket).clone(), udx, sleep))
}

/// Binds a UDX socket to `addr` and makes a dht-rpc node on it, started as `config`
/// says. Spawn both drivers (the UDX socket's and the node's); they end when every
/// handle is dropped.
///
/// # Errors
/// When binding fails or the OS random number generator does.
pub fn bind_rpc(
    addr: SocketAddr,
    timer: impl Timer,
    config: RpcConfig,
) -> io::Result<(RpcNode, [SocketDriver; 2])> {
    let (socket, udx, sleep) = bind_socket(addr, timer)?;
    let node = RpcNode::new(socket, &config)?;
    let dht = ferrocore_udp::drive_machine(node.machine(), sleep);
    Ok((node, [udx, dht]))
}

/// Binds a UDX socket to `addr` and makes a HyperDHT node on it (lookups, announces,
/// FIND_PEER, puts and gets as futures; handshakes relayed), started as `config` says.
/// Spawn both drivers (the UDX socket's and the node's); they end when every handle is
/// dropped.
///
/// ```no_run
/// # async fn f(boot: std::net::SocketAddr) -> std::io::Result<()> {
/// use ferrocore_futures::dht::{bind_dht, RpcConfig};
/// let config = RpcConfig { bootstrap: vec![boot], ..RpcConfig::default() };
/// let (node, drivers) = bind_dht("127.0.0.1:0".parse().unwrap(), smol::Timer::after, config)?;
/// for d in drivers {
///     smol::spawn(d).detach();
/// }
/// node.bootstrapped().await;
/// let found = node.lookup([7; 32]).await;
/// # Ok(()) }
/// ```
///
/// # Errors
/// When binding fails or the OS random number generator does.
pub fn bind_dht(
    addr: SocketAddr,
    timer: impl Timer,
    config: RpcConfig,
) -> io::Result<(DhtNode, [SocketDriver; 2])> {
    let (socket, udx, sleep) = bind_socket(addr, timer)?;
    let node = DhtNode::new(socket, &config)?;
    let dht = ferrocore_udp::drive_machine(node.machine(), sleep);
    Ok((node, [udx, dht]))
}
