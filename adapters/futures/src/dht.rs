//! dht-rpc on any futures executor: [`bind_rpc`] makes a [`RpcNode`] (a dht-rpc node
//! sharing one UDP socket, registered with async-io's reactor, with UDX streams) and
//! returns the loops to spawn.
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
    Machine, MachineNode, RpcConfig, RpcEvent, RpcMachine, RpcNode, SocketDriver,
};

use crate::udx::{Config, UdxSocket};
use crate::Timer;

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
    let timer = Arc::new(timer);
    let t = timer.clone();
    let (socket, udx) = UdxSocket::bind_with(addr, move |d| t.sleep(d), Config::default())?;
    let node = RpcNode::new((*socket).clone(), &config)?;
    let sleep: ferrocore_udp::Sleep = Arc::new(move |d| timer.sleep(d));
    let dht = ferrocore_udp::drive_machine(node.machine(), sleep);
    Ok((node, [udx, dht]))
}
