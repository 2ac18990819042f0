//! Network health (`lib/health.js`): each tick the node's request counters are sampled into
//! a window of [`MAX_HEALTH_WINDOW`] ticks; the difference between the two newest samples
//! says whether the last tick was offline (no responses), degraded (more than half the
//! requests that ended timed out) or healthy. Nothing changes while the window is not yet
//! full (*cold*) or fewer than [`IDLE_THRESHOLD`] requests ended in the last tick (*idle*).
//! [`OFFLINE_THRESHOLD`] offline ticks in a row make the node offline; a window of only
//! degraded ticks makes it degraded, a window of only healthy ones clears that.

/// Ticks sampled.
pub const MAX_HEALTH_WINDOW: usize = 4;
/// Offline ticks in a row before the node is offline.
pub const OFFLINE_THRESHOLD: u32 = 2;
/// Fewer ended requests than this in a tick: idle, no change.
pub const IDLE_THRESHOLD: u64 = 4;

/// The network state the node reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkState {
    /// Online and not degraded.
    Online,
    /// Online, but most requests time out.
    Degraded,
    /// No responses at all.
    Offline,
}

#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    responses: u64,
    timeouts: u64,
    /// `Some(degraded)` once judged (not cold, not idle), with `offline` beside it.
    degraded: Option<bool>,
}

/// The health tracker.
#[derive(Debug, Clone)]
pub struct NetworkHealth {
    window: [Sample; MAX_HEALTH_WINDOW],
    len: usize,
    head: usize,
    offline_ticks: u32,
    // JS counts an offline tick as "not degraded" when it leaves the window, so these
    // may go below zero as JS's do.
    degraded_ticks: i32,
    healthy_ticks: i32,
    /// Whether the network is up.
    pub online: bool,
    /// Whether it is degraded.
    pub degraded: bool,
}

impl Default for NetworkHealth {
    fn default() -> Self {
        Self {
            window: [Sample::default(); MAX_HEALTH_WINDOW],
            len: 0,
            head: MAX_HEALTH_WINDOW - 1,
            offline_ticks: 0,
            degraded_ticks: 0,
            healthy_ticks: 0,
            online: true,
            degraded: false,
        }
    }
}

impl NetworkHealth {
    /// A fresh tracker: online, cold.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything (after a wakeup): online again.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    fn tail(&self) -> usize {
        (self.head + 1) % MAX_HEALTH_WINDOW
    }

    fn diff(&self) -> (u64, u64) {
        if self.len < 2 {
            return (0, 0);
        }
        let n = self.window[self.head];
        let p = self.window[(self.head + MAX_HEALTH_WINDOW - 1) % MAX_HEALTH_WINDOW];
        (
            n.responses.saturating_sub(p.responses),
            n.timeouts.saturating_sub(p.timeouts),
        )
    }

    /// Whether fewer than [`MAX_HEALTH_WINDOW`] ticks have been sampled.
    #[must_use]
    pub fn cold(&self) -> bool {
        self.len < MAX_HEALTH_WINDOW
    }

    /// Samples the node's total `responses` and `timeouts` at a tick; returns the state to
    /// report, or `None` when nothing is judged (cold or idle).
    pub fn update(&mut self, responses: u64, timeouts: u64) -> Option<NetworkState> {
        if self.len == MAX_HEALTH_WINDOW {
            match self.window[self.tail()].degraded {
                Some(true) => self.degraded_ticks -= 1,
                Some(false) => self.healthy_ticks -= 1,
                None => {}
            }
        }
        self.head = self.tail();
        self.window[self.head] = Sample {
            responses,
            timeouts,
            degraded: None,
        };
        self.len = (self.len + 1).min(MAX_HEALTH_WINDOW);
        let (r, t) = self.diff();
        if self.cold() || r + t < IDLE_THRESHOLD {
            return None;
        }
        let offline = r == 0;
        // timeouts / (responses + timeouts) > 0.5
        let degraded = !offline && t > r;
        self.window[self.head].degraded = Some(degraded);
        if offline {
            self.offline_ticks += 1;
        } else {
            self.offline_ticks = 0;
            if degraded {
                self.degraded_ticks += 1;
            } else {
                self.healthy_ticks += 1;
            }
        }
        if !offline {
            self.online = true;
        } else if self.offline_ticks >= OFFLINE_THRESHOLD {
            self.online = false;
        }
        let window = MAX_HEALTH_WINDOW as i32;
        if !self.online || self.healthy_ticks == window {
            self.degraded = false;
        } else if self.degraded_ticks == window {
            self.degraded = true;
        }
        Some(if self.online && !self.degraded {
            NetworkState::Online
        } else if self.degraded {
            NetworkState::Degraded
        } else {
            NetworkState::Offline
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds per-tick (responses, timeouts) increments; returns the states reported.
    fn run(h: &mut NetworkHealth, ticks: &[(u64, u64)]) -> alloc::vec::Vec<Option<NetworkState>> {
        // running totals continue from the newest sample
        let last = h.window[h.head];
        let (mut r, mut t) = if h.len == 0 {
            (0, 0)
        } else {
            (last.responses, last.timeouts)
        };
        ticks
            .iter()
            .map(|(dr, dt)| {
                r += dr;
                t += dt;
                h.update(r, t)
            })
            .collect()
    }

    #[test]
    fn cold_and_idle_ticks_change_nothing() {
        let mut h = NetworkHealth::new();
        let got = run(&mut h, &[(0, 9), (0, 9), (0, 9), (1, 2), (0, 0)]);
        assert_eq!(got, [None, None, None, None, None]);
        assert!(h.online && !h.degraded);
    }

    #[test]
    fn two_offline_ticks_make_the_node_offline_and_a_response_brings_it_back() {
        let mut h = NetworkHealth::new();
        let got = run(&mut h, &[(5, 0), (5, 0), (5, 0), (0, 5), (0, 5), (5, 0)]);
        assert_eq!(
            got[3..],
            [
                Some(NetworkState::Online),
                Some(NetworkState::Offline),
                Some(NetworkState::Online)
            ]
        );
    }

    #[test]
    fn a_window_of_degraded_ticks_degrades_and_a_healthy_window_heals() {
        let mut h = NetworkHealth::new();
        let mut ticks = alloc::vec![(5, 0); 3];
        ticks.extend([(2, 3); 4]);
        let got = run(&mut h, &ticks);
        // degraded ticks 3 (first judged), 4, 5: not a full window yet
        assert_eq!(got[5], Some(NetworkState::Online));
        assert_eq!(got[6], Some(NetworkState::Degraded));
        assert!(h.degraded);
        // exactly half timing out is not degraded; four such ticks heal it
        let got = run(&mut h, &[(3, 3); 4]);
        assert_eq!(got[2], Some(NetworkState::Degraded));
        assert_eq!(got[3], Some(NetworkState::Online));
    }
}
