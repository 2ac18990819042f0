//! Channel bookkeeping: matching keys, local id slots (with protomux's LIFO free list),
//! remote slots and FIFO queues of unpaired opens.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

/// The matching key of an open: protocol plus optional id (empty id = no id, as in
/// protomux).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    pub protocol: String,
    pub id: Option<Bytes>,
}

impl Key {
    pub fn new(protocol: String, id: Option<Bytes>) -> Self {
        Self {
            protocol,
            id: id.filter(|b| !b.is_empty()),
        }
    }
}

/// A local channel the application has open.
#[derive(Debug)]
pub(super) struct LocalChannel {
    pub key: Key,
    /// The peer's id once paired.
    pub remote: Option<u64>,
}

#[derive(Debug)]
pub(super) enum LocalSlot {
    Free,
    Live(LocalChannel),
    /// Closed before the peer answered its open: the id stays reserved (and queued in the
    /// outgoing opens of `Key`) until the peer's open or reject arrives.
    AwaitingAck(Key),
}

/// Local ids: slot `id - 1` of `slots`; freed ids are reused last-in, first-out.
#[derive(Debug, Default)]
pub(super) struct LocalIds {
    slots: Vec<LocalSlot>,
    free: Vec<u64>,
    reserved: usize,
    live: usize,
}

impl LocalIds {
    /// Ids not free (live channels and closed ones awaiting the peer).
    pub fn reserved(&self) -> usize {
        self.reserved
    }

    /// Live channels.
    pub fn live(&self) -> usize {
        self.live
    }

    pub fn allocate(&mut self, channel: LocalChannel) -> u64 {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(LocalSlot::Free);
                self.slots.len() as u64
            }
        };
        self.slots[slot_index(id)] = LocalSlot::Live(channel);
        self.reserved += 1;
        self.live += 1;
        id
    }

    pub fn get(&self, id: u64) -> Option<&LocalSlot> {
        self.slots.get(slot_index(id))
    }

    pub fn channel(&self, id: u64) -> Option<&LocalChannel> {
        match self.get(id) {
            Some(LocalSlot::Live(c)) => Some(c),
            _ => None,
        }
    }

    pub fn channel_mut(&mut self, id: u64) -> Option<&mut LocalChannel> {
        match self.slots.get_mut(slot_index(id)) {
            Some(LocalSlot::Live(c)) => Some(c),
            _ => None,
        }
    }

    /// The key of `id` if its open awaits the peer's answer (then it is queued in the
    /// outgoing opens): a live unpaired channel, or a closed one awaiting the answer.
    pub fn awaiting_answer(&self, id: u64) -> Option<&Key> {
        match self.get(id) {
            Some(
                LocalSlot::Live(LocalChannel { key, remote: None }) | LocalSlot::AwaitingAck(key),
            ) => Some(key),
            _ => None,
        }
    }

    /// Closes a live channel whose open the peer has not answered: the id stays reserved.
    pub fn await_ack(&mut self, id: u64) {
        let slot = &mut self.slots[slot_index(id)];
        if let LocalSlot::Live(c) = core::mem::replace(slot, LocalSlot::Free) {
            *slot = LocalSlot::AwaitingAck(c.key);
            self.live -= 1;
        }
    }

    /// Frees a reserved id (live or awaiting the peer) for reuse.
    pub fn release(&mut self, id: u64) {
        let Some(slot) = self.slots.get_mut(slot_index(id)) else {
            return;
        };
        match core::mem::replace(slot, LocalSlot::Free) {
            LocalSlot::Free => return,
            LocalSlot::Live(_) => self.live -= 1,
            LocalSlot::AwaitingAck(_) => {}
        }
        self.reserved -= 1;
        self.free.push(id);
    }

    /// Ids of live channels, ascending.
    pub fn live_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, LocalSlot::Live(_)))
            .map(|(i, _)| i as u64 + 1)
    }
}

fn slot_index(id: u64) -> usize {
    // Id 0 maps past any slot (usize::MAX), so lookups of it find nothing.
    usize::try_from(id).map_or(usize::MAX, |i| i.wrapping_sub(1))
}

/// A remote open the application has not answered, with the messages sent on it since.
#[derive(Debug)]
pub(super) struct PendingOpen {
    pub key: Key,
    pub handshake: Bytes,
    pub messages: VecDeque<(u64, Bytes)>,
    /// Bytes charged against the buffer limit for the open and its messages.
    pub cost: usize,
}

#[derive(Debug)]
pub(super) enum RemoteSlot {
    /// Boxed: most slots are paired, and each then costs a word in the map, not a
    /// pending open's worth.
    Pending(Box<PendingOpen>),
    /// Paired with this local id.
    Paired(u64),
}

/// Remote ids in use, plus the highest remote id ever seen (protomux's `_remote.length`):
/// an open must name the next id or a free one below it.
#[derive(Debug, Default)]
pub(super) struct RemoteIds {
    pub slots: BTreeMap<u64, RemoteSlot>,
    pub high: u64,
}

impl RemoteIds {
    /// Claims `id` for an open, if protomux allows it.
    pub fn claim(&mut self, id: u64) -> bool {
        if id == 0 || id > self.high.saturating_add(1) || self.slots.contains_key(&id) {
            return false;
        }
        self.high = self.high.max(id);
        true
    }
}

/// Per key, ids in arrival order (opens waiting to be paired).
#[derive(Debug, Default)]
pub(super) struct Queues(BTreeMap<Key, VecDeque<u64>>);

impl Queues {
    pub fn push(&mut self, key: Key, id: u64) {
        self.0.entry(key).or_default().push_back(id);
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.0.contains_key(key)
    }

    pub fn pop(&mut self, key: &Key) -> Option<u64> {
        let q = self.0.get_mut(key)?;
        let id = q.pop_front();
        if q.is_empty() {
            self.0.remove(key);
        }
        id
    }

    /// Removes `id` from `key`'s queue; false if it was not there.
    pub fn remove(&mut self, key: &Key, id: u64) -> bool {
        let Some(q) = self.0.get_mut(key) else {
            return false;
        };
        let Some(i) = q.iter().position(|&x| x == id) else {
            return false;
        };
        q.remove(i);
        if q.is_empty() {
            self.0.remove(key);
        }
        true
    }
}
