//! The data the client operations ([`ops`](super::ops)) report.

use alloc::vec::Vec;
use bytes::Bytes;

use core::time::Duration;
use ferrocore_wire::dht::{Ipv4Address, Peer};

use crate::rpc::query::QueryPeer;

/// Options of an operation (JS's `opts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpOptions {
    /// Nodes to start from, closest first (`nodes` / `closestNodes`: e.g. an earlier
    /// operation's [`OpOutput`] closest nodes, or a peer's relays); the routing table and
    /// the bootstrap nodes fill in.
    pub nodes: Vec<QueryPeer>,
    /// Announce: unannounce the key where it is listed first (`clear`).
    pub clear: bool,
    /// Announce: the bump sent with each announce (ms; 0 is none).
    pub bump: u64,
    /// How long the operation may run ([`Dht::op_timeout`](super::Dht::op_timeout) when
    /// `None`).
    pub timeout: Option<Duration>,
}

impl From<NodeRef> for QueryPeer {
    fn from(n: NodeRef) -> Self {
        QueryPeer {
            addr: n.addr,
            id: Some(n.id),
        }
    }
}

/// The handle of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u64);

/// A node that replied, with its verified id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRef {
    /// Its address.
    pub addr: Ipv4Address,
    /// Its id.
    pub id: [u8; 32],
}

/// Who sent a query reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replier {
    /// The replier.
    pub from: Ipv4Address,
    /// Its id, when it sent a valid one.
    pub from_id: Option<[u8; 32]>,
    /// Our address as the replier saw it.
    pub to: Ipv4Address,
    /// The replier's token for us.
    pub token: Option<[u8; 32]>,
}

/// A LOOKUP reply (`mapLookup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupReply {
    /// Who replied.
    pub replier: Replier,
    /// The peers announced under the target there.
    pub peers: Vec<Peer>,
    /// The target's latest bump there.
    pub bump: u64,
}

/// A FIND_PEER reply naming the peer (`mapFindPeer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindPeerReply {
    /// Who replied (the node the peer announced itself to).
    pub replier: Replier,
    /// The peer's record.
    pub peer: Peer,
}

/// An immutable value found (`mapImmutable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImmutableValue {
    /// The node that had it.
    pub from: Ipv4Address,
    /// The value (its BLAKE2b-256 is the target).
    pub value: Bytes,
}

/// A mutable record found (`mapMutable`), signature checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutableValue {
    /// The node that had it.
    pub from: Ipv4Address,
    /// Its sequence number.
    pub seq: u64,
    /// Its value.
    pub value: Bytes,
    /// Its signature.
    pub signature: [u8; 64],
}

/// The reply to one commit request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitReply {
    /// The node committed to.
    pub to: Ipv4Address,
    /// Its reply's error code (0: stored; `SEQ_REUSED`, `SEQ_TOO_LOW`, ...).
    pub error: u64,
}

/// What a successful operation gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutput {
    /// A lookup, unannounce, FIND_PEER or FIND_NODE ended: the closest nodes that replied.
    Closest(Vec<NodeRef>),
    /// An announce or put ended: the closest nodes and the replies to the commits.
    Committed {
        /// The closest nodes that replied.
        closest: Vec<NodeRef>,
        /// The commit requests' replies.
        commits: Vec<CommitReply>,
    },
    /// An immutable get ended: the value, if one was found.
    Immutable(Option<ImmutableValue>),
    /// A mutable get ended: the record, if a valid one was found.
    Mutable(Option<MutableValue>),
}
