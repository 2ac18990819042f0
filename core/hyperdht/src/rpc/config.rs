//! The node's options (`new DHT(opts)` in dht-rpc) with JS's defaults, and the timing
//! constants of `index.js`.

use alloc::vec::Vec;
use core::time::Duration;

use ferrocore_wire::dht::Ipv4Address;

use super::io::MAX_WINDOW;
use super::query::CONCURRENCY;

/// One tick of the node's clock (`TICK_INTERVAL`).
pub const TICK_INTERVAL: Duration = Duration::from_millis(5000);
/// A tick later than this after the previous one means the machine slept
/// (`SLEEPING_INTERVAL`).
pub const SLEEPING_INTERVAL: Duration = Duration::from_millis(3 * 5000);
/// Ticks (~20 min) an adaptive node waits before checking whether it can turn persistent
/// (`STABLE_TICKS`).
pub const STABLE_TICKS: u32 = 240;
/// Ticks before the next such check (`MORE_STABLE_TICKS`).
pub const MORE_STABLE_TICKS: u32 = 3 * STABLE_TICKS;
/// Ticks (~5 min) between refresh queries when idle (`REFRESH_TICKS`).
pub const REFRESH_TICKS: u32 = 60;
/// The longest DELAYED_PING delay answered by default (`maxPingDelay`).
pub const MAX_PING_DELAY: Duration = Duration::from_millis(10_000);
/// DOWN_HINTs a node's queries send per tick by default (`downHintsRateLimit`).
pub const DOWN_HINTS_PER_TICK: u32 = 50;

/// The options of a node, as JS's `new DHT(opts)`. `Config::default()` is JS's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Nodes to bootstrap from (`bootstrap`; empty for none). IPv4 only: the caller
    /// resolves names (and JS's `suggestedIP@name` form) before.
    pub bootstrap: Vec<Ipv4Address>,
    /// Known nodes added to the table at the start (`nodes`).
    pub nodes: Vec<Ipv4Address>,
    /// `ephemeral`: `None` (JS `undefined`) for adaptive (ephemeral until found stable),
    /// `Some(false)` persistent as soon as the address is known, `Some(true)` always
    /// ephemeral.
    pub ephemeral: Option<bool>,
    /// `adaptive: false` turns off the adaptive mode even when `ephemeral` is `None`.
    pub adaptive: bool,
    /// Whether the node starts firewalled (`firewalled`, default true): it sends requests
    /// from its client socket until a check shows its server socket is reachable.
    pub firewalled: bool,
    /// The host to bind (`host`, default `0.0.0.0`): for the caller, which binds the sockets.
    pub host: [u8; 4],
    /// The server port to bind (`port`, default 0 = any): for the caller.
    pub port: u16,
    /// Whether the caller may bind another port when `port` is taken (`anyPort`).
    pub any_port: bool,
    /// Sends per congestion slot (`maxWindow`, default 80).
    pub max_window: u32,
    /// Visits in flight per query (`concurrency`, default 10).
    pub concurrency: usize,
    /// The longest DELAYED_PING delay answered (`maxPingDelay`, default 10 s).
    pub max_ping_delay: Duration,
    /// Test the firewall as soon as the bootstrap query gets its first reply
    /// (`quickFirewall`, default true).
    pub quick_firewall: bool,
    /// Whether queries send DOWN_HINTs (`sendDownHints`, default true).
    pub send_down_hints: bool,
    /// DOWN_HINTs per tick (`downHintsRateLimit`, default 50; `None` for JS's -1, no
    /// limit).
    pub down_hints_rate_limit: Option<u32>,
    /// Our public address when known in advance (`DHT.bootstrapper(port, host)` seeds the
    /// NAT sampler with it).
    pub public_address: Option<Ipv4Address>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bootstrap: Vec::new(),
            nodes: Vec::new(),
            ephemeral: None,
            adaptive: true,
            firewalled: true,
            host: [0; 4],
            port: 0,
            any_port: true,
            max_window: MAX_WINDOW,
            concurrency: CONCURRENCY,
            max_ping_delay: MAX_PING_DELAY,
            quick_firewall: true,
            send_down_hints: true,
            down_hints_rate_limit: Some(DOWN_HINTS_PER_TICK),
            public_address: None,
        }
    }
}

impl Config {
    /// A first bootstrap node (`DHT.bootstrapper(port, host)`): persistent, not firewalled,
    /// no bootstrap nodes, exactly this port, and `host:port` as its public address, so its
    /// id is the hash of that address from the start. `host` must be a real IPv4 address
    /// (not `0.0.0.0`) and `port` not 0.
    #[must_use]
    pub fn bootstrapper(host: [u8; 4], port: u16) -> Self {
        Self {
            ephemeral: Some(false),
            firewalled: false,
            host,
            port,
            any_port: false,
            public_address: Some(Ipv4Address::new(host, port)),
            ..Self::default()
        }
    }

    /// Whether the node is adaptive (`typeof ephemeral !== 'boolean' && adaptive !== false`).
    #[must_use]
    pub fn is_adaptive(&self) -> bool {
        self.ephemeral.is_none() && self.adaptive
    }

    /// The concurrency of background (bootstrap and refresh) queries:
    /// `min(concurrency, max(2, concurrency / 8))`.
    #[must_use]
    pub fn background_concurrency(&self) -> usize {
        self.concurrency.min((self.concurrency / 8).max(2))
    }
}

/// `randomOffset(n)`: `n - floor(r * 0.5 * n)` for a random `r` in [0, 1), from a random
/// `u32`.
#[must_use]
pub fn random_offset(n: u32, random: u32) -> u32 {
    let cut = (u64::from(random) * u64::from(n) / 2) >> 32;
    n - cut as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_js_defaults() {
        let c = Config::default();
        assert_eq!(c.max_window, 80);
        assert_eq!(c.concurrency, 10);
        assert_eq!(c.max_ping_delay, Duration::from_millis(10_000));
        assert!(c.firewalled && c.quick_firewall && c.send_down_hints && c.is_adaptive());
        assert_eq!(c.down_hints_rate_limit, Some(50));
        assert_eq!(c.background_concurrency(), 2);
        let c = Config {
            concurrency: 40,
            ..Config::default()
        };
        assert_eq!(c.background_concurrency(), 5);
        let c = Config {
            concurrency: 1,
            ..Config::default()
        };
        assert_eq!(c.background_concurrency(), 1);
        let b = Config::bootstrapper([127, 0, 0, 1], 49737);
        assert!(!b.is_adaptive() && !b.firewalled && b.bootstrap.is_empty());
        assert_eq!(
            b.public_address,
            Some(Ipv4Address::new([127, 0, 0, 1], 49737))
        );
        assert_eq!(
            (STABLE_TICKS, MORE_STABLE_TICKS, REFRESH_TICKS),
            (240, 720, 60)
        );
        assert_eq!(SLEEPING_INTERVAL, 3 * TICK_INTERVAL);
    }

    #[test]
    fn random_offsets_stay_in_the_upper_half() {
        assert_eq!(random_offset(100, 0), 100);
        assert_eq!(random_offset(100, u32::MAX), 51);
        assert_eq!(random_offset(60, 1 << 31), 45);
    }
}
