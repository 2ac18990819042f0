//! dht-rpc on threads: [`bind_rpc`] runs a [`RpcNode`] (a dht-rpc node sharing one UDP
//! socket with UDX streams) on a thread of its own, which waits for datagrams, the
//! node's next deadline or a change made through a handle.
//!
//! ```no_run
//! # fn run() -> std::io::Result<()> {
//! use ferrocore_blocking::dht::{bind_rpc, RpcConfig};
//! let node = bind_rpc("127.0.0.1:0", RpcConfig { persistent: true, ..RpcConfig::default() })?;
//! println!("listening {} id {}", node.local_addr()?, hex::encode(node.table_id()));
//! # Ok(()) }
//! ```

use std::io;
use std::net::ToSocketAddrs;
use std::thread;

pub use ferrocore_udp::{
    bootstrap_list, DhtConnection, DhtMachine, DhtNode, Machine, MachineNode, OpResult, RpcConfig,
    RpcEvent, RpcMachine, RpcNode, PUBLIC_BOOTSTRAP,
};

use crate::udx::{Config, UdxSocket};

/// Runs `node`'s loop on a new thread (until every handle to it is dropped).
fn spawn_loop<M: Machine>(node: &MachineNode<M>) -> io::Result<()> {
    let node = node.clone();
    thread::Builder::new()
        .name("ferrocore-dht".into())
        .spawn(move || ferrocore_udp::run_machine_blocking(node))?;
    Ok(())
}

/// Runs `machine` on `socket`'s spare datagrams (a thread, until every handle to it is
/// dropped).
///
/// # Errors
/// When the thread cannot be spawned.
pub fn spawn_machine<M: Machine>(socket: &UdxSocket, machine: M) -> io::Result<MachineNode<M>> {
    let node = MachineNode::new((**socket).clone(), machine);
    spawn_loop(&node)?;
    Ok(node)
}

/// Binds a UDX socket to `addr` and runs a dht-rpc node on it, started as `config` says
/// (its bootstrap query runs at once; [`RpcEvent::Bootstrapped`] when it ends).
///
/// # Errors
/// When binding fails, the OS random number generator does, or a thread cannot be
/// spawned.
pub fn bind_rpc(addr: impl ToSocketAddrs, config: RpcConfig) -> io::Result<RpcNode> {
    let socket = UdxSocket::bind_with(addr, Config::default())?;
    let node = RpcNode::new((*socket).clone(), &config)?;
    spawn_loop(node.machine())?;
    Ok(node)
}

/// Binds a UDX socket to `addr` and runs a HyperDHT node on it (a thread), started as
/// `config` says: it answers and relays as a JS node does; its operations are futures
/// ([`DhtNode::lookup`], ...: block on them with any executor).
///
/// # Errors
/// When binding fails, the OS random number generator does, or a thread cannot be
/// spawned.
pub fn bind_dht(addr: impl ToSocketAddrs, config: RpcConfig) -> io::Result<DhtNode> {
    let socket = UdxSocket::bind_with(addr, Config::default())?;
    let node = DhtNode::new((*socket).clone(), &config)?;
    spawn_loop(node.machine())?;
    Ok(node)
}
