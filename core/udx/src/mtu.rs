//! Path-MTU probing as libudx does it (RFC 8899-style): start at the base MTU, and once
//! the first packet is acked, pad one full DATA packet up to `mtu + 32`; an acked probe
//! raises the MTU and probes the next step, up to the maximum; three lost probes in a row
//! settle the MTU where it is. MTU figures include the IP, UDP and UDX headers.

/// Step between probes (`UDX_MTU_STEP`).
pub(crate) const STEP: u16 = 32;
/// Lost probes that end the search (`UDX_MTU_MAX_PROBES`).
pub(crate) const MAX_PROBES: u8 = 3;

/// Where the search is (`UDX_MTU_STATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Nothing acked yet.
    Base,
    /// Probing upwards.
    Search,
    /// Settled.
    Complete,
}

/// The MTU state of one stream.
#[derive(Debug, Clone)]
pub(crate) struct Mtu {
    /// The MTU in use.
    pub mtu: u16,
    pub state: State,
    /// A probe should be sent with the next full packet.
    pub probe_wanted: bool,
    /// Probes lost in a row.
    pub probe_count: u8,
    /// Size of the probe to send / outstanding.
    pub probe_size: u16,
    base: u16,
    max: u16,
    probing: bool,
}

impl Mtu {
    /// A search from `base` to `max` (none when `probing` is off or `max <= base`).
    pub fn new(base: u16, max: u16, probing: bool) -> Self {
        let mut m = Mtu {
            mtu: base,
            state: State::Base,
            probe_wanted: false,
            probe_count: 0,
            probe_size: base,
            base,
            max: max.max(base),
            probing,
        };
        if !probing || m.max <= base {
            m.state = State::Complete;
        }
        m
    }

    /// Back to the base MTU (libudx `reset_mtu_state_machine`, on `change_remote`).
    pub fn reset(&mut self) {
        *self = Mtu::new(self.base, self.max, self.probing);
    }

    /// A data packet was acked; `probe` is whether it was a probe.
    pub fn on_ack(&mut self, probe: bool) {
        if self.state == State::Search && self.probe_count > 0 && probe {
            self.probe_count = 0;
            self.mtu = self.probe_size;
            if self.probe_size >= self.max {
                self.state = State::Complete;
                self.probe_wanted = false;
            } else {
                self.probe_size = (self.probe_size + STEP).min(self.max);
                self.probe_wanted = true;
            }
        }
        if self.state == State::Base {
            // As libudx: the first probe is a full packet at the base MTU (padding 0),
            // which confirms the base before stepping up.
            self.state = State::Search;
            self.probe_wanted = true;
        }
    }

    /// The padding that turns a packet of `size` MTU bytes into the wanted probe, if a
    /// probe is wanted and the padding fits a byte (libudx `mtu_probeify_packet`).
    pub fn probe_padding(&self, size: usize) -> Option<u8> {
        if !self.probe_wanted || self.state != State::Search {
            return None;
        }
        let wanted = usize::from(self.probe_size);
        if wanted < size {
            return None;
        }
        u8::try_from(wanted - size).ok()
    }

    /// A probe went out.
    pub fn on_probe_sent(&mut self) {
        self.probe_count = self.probe_count.saturating_add(1);
        self.probe_wanted = false;
    }

    /// A probe was deemed lost (libudx `mtu_unprobeify_packet`).
    pub fn on_probe_lost(&mut self) {
        if self.state == State::Search {
            if self.probe_count >= MAX_PROBES {
                self.state = State::Complete;
                self.probe_wanted = false;
            } else {
                self.probe_wanted = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn climbs_in_steps_and_settles_after_three_losses() {
        let mut m = Mtu::new(1200, 1500, true);
        assert_eq!(m.probe_padding(1200), None, "no probe before the first ack");
        m.on_ack(false);
        assert_eq!(
            m.probe_padding(1200),
            Some(0),
            "the base is confirmed first"
        );
        assert_eq!(m.probe_padding(900), None, "padding above 255 bytes");
        m.on_probe_sent();
        m.on_ack(true);
        assert_eq!(m.mtu, 1200);
        assert_eq!(m.probe_padding(1200), Some(32));
        m.on_probe_sent();
        m.on_ack(true);
        assert_eq!(m.mtu, 1232);
        assert_eq!(m.probe_padding(1232), Some(32));
        for _ in 0..3 {
            m.on_probe_sent();
            m.on_probe_lost();
        }
        assert_eq!(m.state, State::Complete);
        assert_eq!(m.mtu, 1232);
        assert_eq!(m.probe_padding(1232), None);
    }

    #[test]
    fn stops_at_the_maximum() {
        let mut m = Mtu::new(1200, 1250, true);
        m.on_ack(false);
        m.on_probe_sent();
        m.on_ack(true);
        m.on_probe_sent();
        m.on_ack(true);
        assert_eq!(m.mtu, 1232);
        assert_eq!(m.probe_size, 1250);
        m.on_probe_sent();
        m.on_ack(true);
        assert_eq!(m.mtu, 1250);
        assert_eq!(m.state, State::Complete);
        let off = Mtu::new(1200, 1500, false);
        assert_eq!(off.state, State::Complete);
    }
}
