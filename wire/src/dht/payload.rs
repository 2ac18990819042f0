//! The two payloads peers exchange while connecting (`hyperdht@6.34.0` `lib/messages.js`):
//! the [`NoisePayload`] inside the Noise IK handshake messages and the [`HolepunchPayload`]
//! sealed inside holepunch messages ([`holepunch`](super::holepunch)).
//!
//! The payload and its sub-records carry a `version`; the reference always writes 1 and
//! reads whatever is there. Encoding here writes the `version` field, which is 1 unless a
//! decoded value said otherwise, so every value re-encodes to bytes that decode to it.

use alloc::vec::Vec;

use super::{
    bit, fixed_len, get_fixed, get_opt, opt_len, put_fixed, put_opt, Ipv4Address, Ipv6Address,
};
use crate::encoding::{array_len, uint_len, Decode, Encode, Reader, Writer};
use crate::DecodeError;

/// The payload version this implementation (and the reference) speaks.
pub const PAYLOAD_VERSION: u64 = 1;

/// A relay pair in [`HolepunchInfo`]: `relayAddress:ipv4 ‖ peerAddress:ipv4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayInfo {
    /// The relaying DHT node.
    pub relay_address: Ipv4Address,
    /// The peer's address as that relay sees it.
    pub peer_address: Ipv4Address,
}

impl Encode for RelayInfo {
    fn encoded_len(&self) -> usize {
        2 * Ipv4Address::LEN
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.value(&self.relay_address).value(&self.peer_address);
    }
}

impl Decode for RelayInfo {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            relay_address: Ipv4Address::decode(r)?,
            peer_address: Ipv4Address::decode(r)?,
        })
    }
}

/// The server's offer to holepunch: `id:uint ‖ relays:relayInfo[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HolepunchInfo {
    /// The holepunch session id to put in [`Holepunch`](super::Holepunch) messages.
    pub id: u64,
    /// Relays the holepunch messages can go through.
    pub relays: Vec<RelayInfo>,
}

impl Encode for HolepunchInfo {
    fn encoded_len(&self) -> usize {
        uint_len(self.id) + array_len(&self.relays)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.id).array(&self.relays);
    }
}

impl Decode for HolepunchInfo {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            id: r.uint()?,
            relays: r.array(2 * Ipv4Address::LEN)?,
        })
    }
}

/// The UDX stream to open: `version:uint ‖ features:uint (1 reusableSocket) ‖ id:uint ‖
/// seq:uint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdxInfo {
    /// The version (1; others are read as they come).
    pub version: u64,
    /// The sender reuses its DHT socket for the stream.
    pub reusable_socket: bool,
    /// The sender's UDX stream id.
    pub id: u64,
    /// The stream's first sequence number.
    pub seq: u64,
}

impl Default for UdxInfo {
    fn default() -> Self {
        Self {
            version: PAYLOAD_VERSION,
            reusable_socket: false,
            id: 0,
            seq: 0,
        }
    }
}

impl Encode for UdxInfo {
    fn encoded_len(&self) -> usize {
        uint_len(self.version) + 1 + uint_len(self.id) + uint_len(self.seq)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.version)
            .uint(bit(self.reusable_socket, 1))
            .uint(self.id)
            .uint(self.seq);
    }
}

impl Decode for UdxInfo {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.uint()?;
        let features = r.uint()?;
        Ok(Self {
            version,
            reusable_socket: features & 1 != 0,
            id: r.uint()?,
            seq: r.uint()?,
        })
    }
}

/// The sender speaks `@hyperswarm/secret-stream` over the stream: `version:uint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretStreamInfo {
    /// The version (1; others are read as they come).
    pub version: u64,
}

impl Default for SecretStreamInfo {
    fn default() -> Self {
        Self {
            version: PAYLOAD_VERSION,
        }
    }
}

impl Encode for SecretStreamInfo {
    fn encoded_len(&self) -> usize {
        uint_len(self.version)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.version);
    }
}

impl Decode for SecretStreamInfo {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self { version: r.uint()? })
    }
}

/// Connect through a blind relay: `version:uint ‖ flags:uint (ignored, 0 written) ‖
/// publicKey:fixed32 ‖ token:fixed32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayThroughInfo {
    /// The version (1; others are read as they come).
    pub version: u64,
    /// The relay's public key.
    pub public_key: [u8; 32],
    /// The pairing token both sides present to the relay.
    pub token: [u8; 32],
}

impl Default for RelayThroughInfo {
    fn default() -> Self {
        Self {
            version: PAYLOAD_VERSION,
            public_key: [0; 32],
            token: [0; 32],
        }
    }
}

impl Encode for RelayThroughInfo {
    fn encoded_len(&self) -> usize {
        uint_len(self.version) + 1 + 64
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.version)
            .uint(0)
            .raw(&self.public_key)
            .raw(&self.token);
    }
}

impl Decode for RelayThroughInfo {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.uint()?;
        r.uint()?;
        Ok(Self {
            version,
            public_key: r.fixed()?,
            token: r.fixed()?,
        })
    }
}

/// The payload of each Noise IK handshake message between a client and a server.
///
/// `version:uint ‖ flags:uint ‖ error:uint ‖ firewall:uint ‖ [holepunch] ‖ [addresses4]
/// ‖ [addresses6] ‖ [udx] ‖ [secretStream] ‖ [relayThrough] ‖ [relayAddresses]`, flags
/// 1, 2, 4, ... in that order. A payload whose version is not 1 is read no further: it
/// decodes to its version and empty fields, for the caller to answer with
/// [`VERSION_MISMATCH`](super::errors::VERSION_MISMATCH); such a value encodes as its
/// version alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoisePayload {
    /// The version (1); see [`NoisePayload::is_supported`].
    pub version: u64,
    /// An error code ([`errors`](super::errors)).
    pub error: u64,
    /// The sender's firewall ([`firewall`](super::firewall)).
    pub firewall: u64,
    /// The server's holepunch offer.
    pub holepunch: Option<HolepunchInfo>,
    /// The sender's IPv4 addresses (written only when not empty).
    pub addresses4: Vec<Ipv4Address>,
    /// The sender's IPv6 addresses (written only when not empty).
    pub addresses6: Vec<Ipv6Address>,
    /// The UDX stream to open.
    pub udx: Option<UdxInfo>,
    /// The secret-stream the stream carries.
    pub secret_stream: Option<SecretStreamInfo>,
    /// Connect through a blind relay instead.
    pub relay_through: Option<RelayThroughInfo>,
    /// The relays the server is announced on (present even when empty).
    pub relay_addresses: Option<Vec<Ipv4Address>>,
}

impl Default for NoisePayload {
    fn default() -> Self {
        Self {
            version: PAYLOAD_VERSION,
            error: 0,
            firewall: 0,
            holepunch: None,
            addresses4: Vec::new(),
            addresses6: Vec::new(),
            udx: None,
            secret_stream: None,
            relay_through: None,
            relay_addresses: None,
        }
    }
}

impl NoisePayload {
    /// Whether the payload's version is the one decoded (1); other versions carry no fields.
    #[must_use]
    pub fn is_supported(&self) -> bool {
        self.version == PAYLOAD_VERSION
    }

    fn flags(&self) -> u64 {
        bit(self.holepunch.is_some(), 1)
            | bit(!self.addresses4.is_empty(), 2)
            | bit(!self.addresses6.is_empty(), 4)
            | bit(self.udx.is_some(), 8)
            | bit(self.secret_stream.is_some(), 16)
            | bit(self.relay_through.is_some(), 32)
            | bit(self.relay_addresses.is_some(), 64)
    }
}

fn nonempty_array_len<T: Encode>(v: &[T]) -> usize {
    if v.is_empty() {
        0
    } else {
        array_len(v)
    }
}

impl Encode for NoisePayload {
    fn encoded_len(&self) -> usize {
        if !self.is_supported() {
            return uint_len(self.version);
        }
        uint_len(PAYLOAD_VERSION)
            + uint_len(self.flags())
            + uint_len(self.error)
            + uint_len(self.firewall)
            + opt_len(&self.holepunch)
            + nonempty_array_len(&self.addresses4)
            + nonempty_array_len(&self.addresses6)
            + opt_len(&self.udx)
            + opt_len(&self.secret_stream)
            + opt_len(&self.relay_through)
            + self.relay_addresses.as_deref().map_or(0, array_len)
    }

    fn encode(&self, w: &mut Writer<'_>) {
        if !self.is_supported() {
            w.uint(self.version);
            return;
        }
        w.uint(PAYLOAD_VERSION)
            .uint(self.flags())
            .uint(self.error)
            .uint(self.firewall);
        put_opt(w, &self.holepunch);
        if !self.addresses4.is_empty() {
            w.array(&self.addresses4);
        }
        if !self.addresses6.is_empty() {
            w.array(&self.addresses6);
        }
        put_opt(w, &self.udx);
        put_opt(w, &self.secret_stream);
        put_opt(w, &self.relay_through);
        if let Some(a) = &self.relay_addresses {
            w.array(a);
        }
    }
}

impl Decode for NoisePayload {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.uint()?;
        if version != PAYLOAD_VERSION {
            return Ok(Self {
                version,
                ..Self::default()
            });
        }
        let flags = r.uint()?;
        Ok(Self {
            version,
            error: r.uint()?,
            firewall: r.uint()?,
            holepunch: get_opt(r, flags & 1 != 0)?,
            addresses4: if flags & 2 != 0 {
                r.array(Ipv4Address::LEN)?
            } else {
                Vec::new()
            },
            addresses6: if flags & 4 != 0 {
                r.array(Ipv6Address::LEN)?
            } else {
                Vec::new()
            },
            udx: get_opt(r, flags & 8 != 0)?,
            secret_stream: get_opt(r, flags & 16 != 0)?,
            relay_through: get_opt(r, flags & 32 != 0)?,
            relay_addresses: if flags & 64 != 0 {
                Some(r.array(Ipv4Address::LEN)?)
            } else {
                None
            },
        })
    }
}

/// What peers tell each other during holepunch rounds (sealed, see
/// [`holepunch`](super::holepunch)).
///
/// `flags:uint (1 connected, 2 punching, 4 addresses, 8 remoteAddress, 16 token,
/// 32 remoteToken) ‖ error:uint ‖ firewall:uint ‖ round:uint ‖ [addresses:ipv4[]]
/// ‖ [remoteAddress:ipv4] ‖ [token:fixed32] ‖ [remoteToken:fixed32]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HolepunchPayload {
    /// An error code ([`errors`](super::errors)).
    pub error: u64,
    /// The sender's firewall ([`firewall`](super::firewall)).
    pub firewall: u64,
    /// The holepunch round.
    pub round: u64,
    /// The sender already has a connection.
    pub connected: bool,
    /// The sender is punching now.
    pub punching: bool,
    /// The sender's addresses (present even when empty).
    pub addresses: Option<Vec<Ipv4Address>>,
    /// The receiver's address as the sender saw it.
    pub remote_address: Option<Ipv4Address>,
    /// A token for the receiver to echo back.
    pub token: Option<[u8; 32]>,
    /// The receiver's token, echoed back.
    pub remote_token: Option<[u8; 32]>,
}

impl HolepunchPayload {
    fn flags(&self) -> u64 {
        bit(self.connected, 1)
            | bit(self.punching, 2)
            | bit(self.addresses.is_some(), 4)
            | bit(self.remote_address.is_some(), 8)
            | bit(self.token.is_some(), 16)
            | bit(self.remote_token.is_some(), 32)
    }
}

impl Encode for HolepunchPayload {
    fn encoded_len(&self) -> usize {
        uint_len(self.flags())
            + uint_len(self.error)
            + uint_len(self.firewall)
            + uint_len(self.round)
            + self.addresses.as_deref().map_or(0, array_len)
            + opt_len(&self.remote_address)
            + fixed_len(&self.token)
            + fixed_len(&self.remote_token)
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.flags())
            .uint(self.error)
            .uint(self.firewall)
            .uint(self.round);
        if let Some(a) = &self.addresses {
            w.array(a);
        }
        put_opt(w, &self.remote_address);
        put_fixed(w, &self.token);
        put_fixed(w, &self.remote_token);
    }
}

impl Decode for HolepunchPayload {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        Ok(Self {
            error: r.uint()?,
            firewall: r.uint()?,
            round: r.uint()?,
            connected: flags & 1 != 0,
            punching: flags & 2 != 0,
            addresses: if flags & 4 != 0 {
                Some(r.array(Ipv4Address::LEN)?)
            } else {
                None
            },
            remote_address: get_opt(r, flags & 8 != 0)?,
            token: get_fixed(r, flags & 16 != 0)?,
            remote_token: get_fixed(r, flags & 32 != 0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_versions_are_passed_up_undecoded() {
        let p = NoisePayload::decode_from(&[2, 0xff]).unwrap();
        assert_eq!(p.version, 2);
        assert!(!p.is_supported());
        assert_eq!(
            p,
            NoisePayload {
                version: 2,
                ..NoisePayload::default()
            }
        );
        assert_eq!(p.to_vec(), [2]);
    }

    #[test]
    fn empty_relay_addresses_are_kept() {
        let p = NoisePayload {
            relay_addresses: Some(Vec::new()),
            ..NoisePayload::default()
        };
        let b = p.to_vec();
        assert_eq!(b, [1, 64, 0, 0, 0]);
        assert_eq!(NoisePayload::decode_from(&b), Ok(p));
    }
}
