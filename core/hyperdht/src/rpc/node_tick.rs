//! The node's tick (`_ontick`, every [`TICK_INTERVAL`](super::TICK_INTERVAL)): sleep
//! detection, the adaptive node's stable check, pinging the least recently seen nodes,
//! refresh queries, the DOWN_HINT budget and network health.

use core::time::Duration;

use super::super::config::{MORE_STABLE_TICKS, SLEEPING_INTERVAL};
use super::super::health::NetworkState;
use super::super::table::{OLD_NODE, RECENT_NODE};
use super::{Node, NodeEvent};

impl Node {
    /// One tick at `now`.
    pub(super) fn on_tick(&mut self, now: Duration) {
        if now.saturating_sub(self.last_tick) > SLEEPING_INTERVAL {
            self.on_wakeup();
        } else {
            self.tick += 1;
        }
        self.last_tick = now;
        if !self.bootstrapped {
            return;
        }
        if self.adaptive && self.io.ephemeral {
            self.stable_ticks = self.stable_ticks.saturating_sub(1);
            if self.stable_ticks == 0 {
                if self.last_host == self.nat.host() {
                    // do not recheck the same network
                    self.stable_ticks = MORE_STABLE_TICKS;
                } else {
                    self.stable_check(now);
                }
            }
        }
        if self.tick & 7 == 0 {
            self.ping_some(now);
        }
        let few = self.tick & 63 == 0 && self.table().len() < self.table().k();
        if few || {
            self.refresh_ticks = self.refresh_ticks.saturating_sub(1);
            self.refresh_ticks == 0
        } {
            self.refresh(now);
        }
        self.down_hints_sent = 0;
        let stats = self.io.stats();
        if let Some(state) = self.health.update(stats.responses, stats.timeouts) {
            self.emit_network(state);
        }
    }

    /// `_onwakeup`: everything looks old, pings start in two ticks, a refresh next tick;
    /// an adaptive persistent node turns ephemeral again.
    fn on_wakeup(&mut self) {
        self.tick += 2 * OLD_NODE;
        self.tick = self.tick + 6 - (self.tick & 7);
        self.stable_ticks = MORE_STABLE_TICKS;
        self.refresh_ticks = 1;
        self.last_host = None;
        self.health.reset();
        self.emit_network(NetworkState::Online);
        if self.adaptive && !self.io.ephemeral {
            self.io.ephemeral = true;
            self.events.push_back(NodeEvent::Ephemeral);
        }
        self.events.push_back(NodeEvent::Wakeup);
    }

    /// `refresh()`: a background FIND_NODE for a random table node (our id when empty).
    pub fn refresh(&mut self, now: Duration) {
        let len = self.table().len();
        let target = if len == 0 {
            *self.table().id()
        } else {
            let i = ((u64::from(self.next_u32()) * len as u64) >> 32) as usize;
            self.table().nth(i).map_or(*self.table().id(), |n| n.id)
        };
        self.background_query(now, target);
    }

    /// `_pingSome`: checks up to 5 (3 when more than 2 requests are in flight, 2 when the
    /// oldest was pinged within a minute) of the least recently heard from nodes not
    /// pinged this tick; a node pinged this tick uses up a turn without moving on, as JS.
    fn ping_some(&mut self, now: Duration) {
        let mut cnt = if self.io.inflight() > 2 { 3 } else { 5 };
        let order = self.by_touch();
        let Some((oldest, _)) = order.first() else {
            // tiny dht: ask the bootstrap nodes again
            self.refresh(now);
            return;
        };
        let pinged = |n: &Self, id: &[u8; 32]| n.table().get(id).map_or(0, |x| x.pinged);
        if self.tick.saturating_sub(pinged(self, oldest)) < RECENT_NODE {
            cnt = 2;
        }
        let mut i = 0;
        while cnt > 0 {
            cnt -= 1;
            let Some((id, _)) = order.get(i) else {
                continue;
            };
            if self.tick == pinged(self, id) {
                continue;
            }
            self.check(now, id);
            i += 1;
        }
    }
}
