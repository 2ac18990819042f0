//! The Kademlia routing table (`kademlia-routing-table`, as dht-rpc uses it) and dht-rpc's
//! rule for full rows.
//!
//! Nodes are kept in 256 rows by the length of the prefix their id shares with ours (row
//! `i` holds the ids whose first differing bit from ours is bit `i`; our own id would be
//! row 255). A row holds at most `k` (20) nodes, sorted by id. A node that falls in a full
//! row is not added; instead (dht-rpc `_onfullrow`) the row's oldest node is pinged, and
//! only when that ping fails, or it succeeds without the node having been heard from since,
//! is the old node replaced by the new one. The table models that as an output (a
//! [`Ping`] the caller sends) and an input ([`Table::ping_result`]).
//!
//! Time is counted in dht-rpc *ticks* (one per 5 s), passed in by the caller.

use alloc::vec::Vec;
use ferrocore_wire::dht::Ipv4Address;

/// Nodes per row (`k`).
pub const K: usize = 20;
/// Rows: one per bit of a 32-byte id.
pub const ROWS: usize = 256;
/// A node heard from less than this many ticks ago (1 min) is recent (`RECENT_NODE`).
pub const RECENT_NODE: u64 = 12;
/// A node known for more than this many ticks (30 min) is old (`OLD_NODE`).
pub const OLD_NODE: u64 = 360;
/// At most this many ping-and-swap checks run at once (`_repinging >= 3`).
pub const MAX_REPINGING: usize = 3;

/// A node in the routing table (dht-rpc's node record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its id: BLAKE2b-256 of its address.
    pub id: [u8; 32],
    /// Its address.
    pub addr: Ipv4Address,
    /// Our address as it saw it, when it told us.
    pub to: Option<Ipv4Address>,
    /// The tick it was added.
    pub added: u64,
    /// The tick we last interacted with it.
    pub pinged: u64,
    /// The tick we last heard from it.
    pub seen: u64,
    /// The tick its view of our address was last sampled (0: never).
    pub sampled: u64,
    /// DOWN_HINTs received about it.
    pub down_hints: u32,
    /// When it was last heard from or added, in the node's own order (dht-rpc's
    /// time-ordered `nodes` set): larger is more recent.
    pub touched: u64,
}

impl Node {
    /// A node first heard from at `tick`.
    #[must_use]
    pub fn new(id: [u8; 32], addr: Ipv4Address, tick: u64) -> Self {
        Self {
            id,
            addr,
            to: None,
            added: tick,
            pinged: tick,
            seen: tick,
            sampled: 0,
            down_hints: 0,
            touched: 0,
        }
    }
}

/// Ask the caller to PING `addr` (the oldest node of a full row) and report the outcome
/// with [`Table::ping_result`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    /// The node to ping.
    pub id: [u8; 32],
    /// Its address.
    pub addr: Ipv4Address,
}

/// What [`Table::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// The node is new in the table.
    Inserted,
    /// A node with this id was there and has been replaced by the new record.
    Replaced,
    /// The node is our own id, and is never added.
    Ours,
    /// Its row is full; the node is not added. When a [`Ping`] is given, the caller pings
    /// that node and the new one takes its place if the ping fails.
    Full(Option<Ping>),
}

/// A ping-and-swap check under way.
#[derive(Debug, Clone)]
struct Swap {
    old: [u8; 32],
    last_seen: u64,
    new: Node,
}

/// The routing table.
#[derive(Debug, Clone)]
pub struct Table {
    id: [u8; 32],
    k: usize,
    rows: Vec<Vec<Node>>,
    size: usize,
    swaps: Vec<Swap>,
}

impl Table {
    /// An empty table around our `id`, `k` = [`K`].
    #[must_use]
    pub fn new(id: [u8; 32]) -> Self {
        Self::with_k(id, K)
    }

    /// An empty table with `k` nodes per row (at least 1).
    #[must_use]
    pub fn with_k(id: [u8; 32], k: usize) -> Self {
        let mut rows = Vec::with_capacity(ROWS);
        rows.resize_with(ROWS, Vec::new);
        Self {
            id,
            k: k.max(1),
            rows,
            size: 0,
            swaps: Vec::new(),
        }
    }

    /// Our id.
    #[must_use]
    pub fn id(&self) -> &[u8; 32] {
        &self.id
    }

    /// Nodes per row.
    #[must_use]
    pub fn k(&self) -> usize {
        self.k
    }

    /// The number of nodes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.size
    }

    /// Whether the table is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The row `id` belongs in: the index of the first bit where it differs from ours
    /// (255 for our own id).
    #[must_use]
    pub fn row_of(&self, id: &[u8; 32]) -> usize {
        for (i, (a, b)) in id.iter().zip(self.id.iter()).enumerate() {
            if a != b {
                return i * 8 + (a ^ b).leading_zeros() as usize;
            }
        }
        ROWS - 1
    }

    /// The nodes of row `i`, sorted by id.
    #[must_use]
    pub fn row(&self, i: usize) -> &[Node] {
        self.rows.get(i).map_or(&[], Vec::as_slice)
    }

    fn find(&self, id: &[u8; 32]) -> (usize, Result<usize, usize>) {
        let r = self.row_of(id);
        (r, self.rows[r].binary_search_by(|n| n.id.cmp(id)))
    }

    /// The node with this id.
    #[must_use]
    pub fn get(&self, id: &[u8; 32]) -> Option<&Node> {
        let (r, at) = self.find(id);
        at.ok().map(|i| &self.rows[r][i])
    }

    /// The node with this id, to update its ticks.
    pub fn get_mut(&mut self, id: &[u8; 32]) -> Option<&mut Node> {
        let (r, at) = self.find(id);
        at.ok().map(move |i| &mut self.rows[r][i])
    }

    /// Whether a node with this id is in the table.
    #[must_use]
    pub fn contains(&self, id: &[u8; 32]) -> bool {
        self.get(id).is_some()
    }

    /// Adds `node` at `tick` (its `added`, `pinged` and `seen` become `tick`, as dht-rpc's
    /// `_addNode`). When its row is full and `bootstrapped`, picks the row's oldest node
    /// to ping (dht-rpc `_onfullrow`): the least recently pinged (then the earliest added)
    /// among those not pinged this tick, unless it is recent and old (trusted); at most
    /// [`MAX_REPINGING`] checks run at once.
    pub fn add(&mut self, mut node: Node, tick: u64, bootstrapped: bool) -> Added {
        if node.id == self.id {
            return Added::Ours;
        }
        node.added = tick;
        node.pinged = tick;
        node.seen = tick;
        let k = self.k;
        let (r, at) = self.find(&node.id);
        let row = &mut self.rows[r];
        match at {
            Ok(i) => {
                row[i] = node;
                Added::Replaced
            }
            Err(i) if row.len() < k => {
                row.insert(i, node);
                self.size += 1;
                Added::Inserted
            }
            Err(_) => Added::Full(self.on_full_row(r, node, tick, bootstrapped)),
        }
    }

    fn on_full_row(&mut self, r: usize, node: Node, tick: u64, bootstrapped: bool) -> Option<Ping> {
        if !bootstrapped || self.swaps.len() >= MAX_REPINGING {
            return None;
        }
        let mut oldest: Option<&mut Node> = None;
        for n in self.rows[r].iter_mut() {
            if n.pinged == tick {
                continue;
            }
            let older = match &oldest {
                None => true,
                Some(o) => o.pinged > n.pinged || (o.pinged == n.pinged && o.added > n.added),
            };
            if older {
                oldest = Some(n);
            }
        }
        let oldest = oldest?;
        if tick.saturating_sub(oldest.pinged) < RECENT_NODE
            && tick.saturating_sub(oldest.added) > OLD_NODE
        {
            return None;
        }
        // One check per old node: a second full-row event for it waits for the first.
        if self.swaps.iter().any(|s| s.old == oldest.id) {
            return None;
        }
        oldest.pinged = tick;
        let ping = Ping {
            id: oldest.id,
            addr: oldest.addr,
        };
        self.swaps.push(Swap {
            old: oldest.id,
            last_seen: oldest.seen,
            new: node,
        });
        Some(ping)
    }

    /// The outcome of a [`Ping`]: `responded` when a reply came (the caller has already
    /// recorded it with [`Table::seen`]). The old node stays only when it replied and was
    /// heard from after the check began; otherwise it is removed and the new node added
    /// at `tick`. Returns whether the swap happened; an unknown `id` is ignored.
    pub fn ping_result(&mut self, id: &[u8; 32], responded: bool, tick: u64) -> bool {
        let Some(i) = self.swaps.iter().position(|s| s.old == *id) else {
            return false;
        };
        let swap = self.swaps.swap_remove(i);
        let keep = responded && self.get(id).is_some_and(|n| n.seen > swap.last_seen);
        if keep {
            return false;
        }
        self.remove(id);
        // The freed slot goes to the new node (its row is the old one's only when they
        // share a row, which they do: both came from the same full row).
        self.add(swap.new, tick, false);
        true
    }

    /// Records that we heard from `id` at `tick` (its `pinged` and `seen` ticks).
    pub fn seen(&mut self, id: &[u8; 32], tick: u64) -> bool {
        match self.get_mut(id) {
            Some(n) => {
                n.pinged = tick;
                n.seen = tick;
                true
            }
            None => false,
        }
    }

    /// Removes the node with this id.
    pub fn remove(&mut self, id: &[u8; 32]) -> Option<Node> {
        let (r, at) = self.find(id);
        let i = at.ok()?;
        self.size -= 1;
        Some(self.rows[r].remove(i))
    }

    /// Up to `k` nodes close to `target`, as `kademlia-routing-table` picks them: the rows
    /// from `target`'s row down to row 0 (farther from us, each in id order), then the rows
    /// above it, until `k` are found.
    #[must_use]
    pub fn closest(&self, target: &[u8; 32], k: usize) -> Vec<&Node> {
        let d = self.row_of(target);
        let mut out = Vec::with_capacity(k.min(self.size));
        let order = (0..=d).rev().chain(d + 1..ROWS);
        for r in order {
            if out.len() >= k {
                break;
            }
            let missing = k - out.len();
            out.extend(self.rows[r].iter().take(missing));
        }
        out
    }

    /// The `i`th node counting rows from row 0 (the farthest), each in id order: JS's
    /// `table.random()` with a random `i` below [`Table::len`].
    #[must_use]
    pub fn nth(&self, mut i: usize) -> Option<&Node> {
        for r in &self.rows {
            if i < r.len() {
                return r.get(i);
            }
            i -= r.len();
        }
        None
    }

    /// Moves the table to a new id (a node that learnt its address): every node is put
    /// in its row around `id` as it is (ticks kept); nodes that no longer fit, and a node
    /// with that id, are dropped and returned. Checks under way are forgotten.
    pub fn set_id(&mut self, id: [u8; 32]) -> Vec<[u8; 32]> {
        let old = core::mem::replace(self, Self::with_k(id, self.k));
        let mut dropped = Vec::new();
        for row in old.rows {
            for n in row {
                let r = self.row_of(&n.id);
                let row = &mut self.rows[r];
                match row.binary_search_by(|x| x.id.cmp(&n.id)) {
                    Err(i) if n.id != id && row.len() < self.k => {
                        row.insert(i, n);
                        self.size += 1;
                    }
                    _ => dropped.push(n.id),
                }
            }
        }
        dropped
    }

    /// Every node, nearest rows first.
    pub fn iter(&self) -> impl Iterator<Item = &Node> {
        self.rows.iter().rev().flatten()
    }

    /// The id of the node waiting to replace `old` in a ping-and-swap check.
    #[must_use]
    pub fn pending_swap_new(&self, old: &[u8; 32]) -> Option<[u8; 32]> {
        self.swaps.iter().find(|s| s.old == *old).map(|s| s.new.id)
    }

    /// Ping-and-swap checks under way.
    #[must_use]
    pub fn pending_checks(&self) -> usize {
        self.swaps.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u32) -> Ipv4Address {
        let b = n.to_be_bytes();
        Ipv4Address::new([10, b[1], b[2], b[3]], 1000)
    }

    /// An id in row `row` of a table around `ours`, distinct by `n`.
    fn id_in_row(ours: &[u8; 32], row: usize, n: u8) -> [u8; 32] {
        let mut id = *ours;
        id[row / 8] ^= 0x80 >> (row % 8);
        // vary a byte after the row's bit
        id[31] ^= n.wrapping_add(1);
        id
    }

    #[test]
    fn rows_follow_the_shared_prefix() {
        let t = Table::new([0; 32]);
        let mut id = [0u8; 32];
        assert_eq!(t.row_of(&id), 255);
        id[0] = 0x80;
        assert_eq!(t.row_of(&id), 0);
        id[0] = 0x01;
        assert_eq!(t.row_of(&id), 7);
        id = [0; 32];
        id[3] = 0x20;
        assert_eq!(t.row_of(&id), 26);
    }

    #[test]
    fn adds_replaces_removes_and_refuses_our_id() {
        let ours = [7u8; 32];
        let mut t = Table::new(ours);
        assert_eq!(t.add(Node::new(ours, addr(0), 0), 1, true), Added::Ours);
        let a = id_in_row(&ours, 3, 1);
        assert_eq!(t.add(Node::new(a, addr(1), 0), 1, true), Added::Inserted);
        assert_eq!(t.add(Node::new(a, addr(2), 0), 2, true), Added::Replaced);
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(&a).map(|n| n.addr), Some(addr(2)));
        assert_eq!(t.get(&a).map(|n| n.added), Some(2));
        assert!(t.remove(&a).is_some());
        assert!(t.remove(&a).is_none());
        assert!(t.is_empty());
    }

    fn fill_row(t: &mut Table, row: usize, tick: u64) -> Vec<[u8; 32]> {
        let ours = *t.id();
        (0..K as u8)
            .map(|n| {
                let id = id_in_row(&ours, row, n);
                assert_eq!(
                    t.add(Node::new(id, addr(n as u32), 0), tick, true),
                    Added::Inserted
                );
                id
            })
            .collect()
    }

    #[test]
    fn a_full_row_pings_its_oldest_and_keeps_it_when_it_answers() {
        let ours = [1u8; 32];
        let mut t = Table::new(ours);
        let ids = fill_row(&mut t, 5, 1);
        // the node ids[4] is the least recently pinged
        for (i, id) in ids.iter().enumerate() {
            if i != 4 {
                t.seen(id, 2);
            }
        }
        let newcomer = id_in_row(&ours, 5, 200);
        let Added::Full(Some(ping)) = t.add(Node::new(newcomer, addr(99), 0), 3, true) else {
            panic!("expected a ping");
        };
        assert_eq!(ping.id, ids[4]);
        assert_eq!(t.len(), K);
        // it answers: we heard from it after the check began
        t.seen(&ids[4], 4);
        assert!(!t.ping_result(&ids[4], true, 4));
        assert!(t.contains(&ids[4]));
        assert!(!t.contains(&newcomer));
        assert_eq!(t.pending_checks(), 0);
    }

    #[test]
    fn a_failed_ping_evicts_the_oldest_for_the_newcomer() {
        let ours = [2u8; 32];
        let mut t = Table::new(ours);
        let ids = fill_row(&mut t, 9, 1);
        let newcomer = id_in_row(&ours, 9, 201);
        let Added::Full(Some(ping)) = t.add(Node::new(newcomer, addr(99), 0), 2, true) else {
            panic!("expected a ping");
        };
        // all pinged at tick 1, added at 1: the first in id order wins the tie
        assert!(ids.contains(&ping.id));
        assert!(t.ping_result(&ping.id, false, 3));
        assert!(!t.contains(&ping.id));
        assert!(t.contains(&newcomer));
        assert_eq!(t.len(), K);
        // a reply without news since the check began also swaps
        let other = id_in_row(&ours, 9, 202);
        let Added::Full(Some(p2)) = t.add(Node::new(other, addr(98), 0), 4, true) else {
            panic!("expected a ping");
        };
        assert!(t.ping_result(&p2.id, true, 4));
        assert!(t.contains(&other));
    }

    #[test]
    fn full_rows_respect_bootstrap_the_check_limit_and_trusted_nodes() {
        let ours = [3u8; 32];
        let mut t = Table::new(ours);
        fill_row(&mut t, 0, 1);
        let n = |i: u8| Node::new(id_in_row(&ours, 0, 100 + i), addr(500), 0);
        assert_eq!(t.add(n(0), 2, false), Added::Full(None));
        for i in 0..MAX_REPINGING as u8 {
            assert!(matches!(t.add(n(i), 2, true), Added::Full(Some(_))));
        }
        assert_eq!(t.add(n(9), 2, true), Added::Full(None));
        // a recent node known for long is never challenged
        let mut t = Table::new(ours);
        let ids = fill_row(&mut t, 0, 1);
        let now = 1 + OLD_NODE + 5;
        for id in &ids {
            t.seen(id, now - 1);
        }
        assert_eq!(t.add(n(0), now, true), Added::Full(None));
        // ... but once not pinged for a minute it is
        assert!(matches!(
            t.add(n(0), now + RECENT_NODE, true),
            Added::Full(Some(_))
        ));
    }

    #[test]
    fn closest_walks_rows_as_the_js_table() {
        let ours = [0u8; 32];
        let mut t = Table::new(ours);
        let mut all = Vec::new();
        for row in [0usize, 4, 8, 200] {
            for n in 0..3u8 {
                let id = id_in_row(&ours, row, n);
                t.add(Node::new(id, addr(n as u32), 0), 1, true);
                all.push((row, id));
            }
        }
        // a target in row 8: rows 8, 4, 0 then 200
        let target = id_in_row(&ours, 8, 77);
        let got: Vec<usize> = t
            .closest(&target, 20)
            .iter()
            .map(|n| t.row_of(&n.id))
            .collect();
        assert_eq!(got, [8, 8, 8, 4, 4, 4, 0, 0, 0, 200, 200, 200]);
        let got: Vec<usize> = t
            .closest(&target, 4)
            .iter()
            .map(|n| t.row_of(&n.id))
            .collect();
        assert_eq!(got, [8, 8, 8, 4]);
        // within a row, id order
        let row8: Vec<[u8; 32]> = t.closest(&target, 3).iter().map(|n| n.id).collect();
        let mut sorted = row8.clone();
        sorted.sort();
        assert_eq!(row8, sorted);
        assert_eq!(t.iter().count(), all.len());
    }
}
