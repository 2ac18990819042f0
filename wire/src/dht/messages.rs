//! The values HyperDHT carries in dht-rpc requests and replies (`hyperdht@6.34.0`
//! `lib/messages.js`), except the two payloads, which live in [`payload`](super::payload).
//!
//! Flags are written as a `uint` and read as one; unknown flag bits are ignored. Optional
//! fields are present exactly when their flag is set; trailing bytes are ignored.

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

use super::{
    bit, buffer_opt_len, fixed_len, get_buffer, get_fixed, get_opt, opt_len, put_buffer, put_fixed,
    put_opt, Ipv4Address,
};
use crate::encoding::{array_len, buffer_len, uint_len, Decode, Encode, Reader, Writer};
use crate::DecodeError;

/// The smallest encoding of a [`Peer`]: a key and an empty address list.
const PEER_MIN_LEN: usize = 32 + 1;

/// A Noise handshake message on its way between client, relay(s) and server
/// ([`PEER_HANDSHAKE`](super::dht_commands::PEER_HANDSHAKE)).
///
/// `flags:uint (1 peerAddress, 2 relayAddress) ‖ mode:uint ‖ noise:buffer ‖ [peerAddress]
/// ‖ [relayAddress]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Handshake {
    /// Who sent it ([`modes`](super::modes)).
    pub mode: u64,
    /// The Noise IK message (its payload is a [`NoisePayload`](super::NoisePayload)).
    pub noise: Bytes,
    /// The peer's address, added by the relaying node.
    pub peer_address: Option<Ipv4Address>,
    /// The relay's address.
    pub relay_address: Option<Ipv4Address>,
}

impl Encode for Handshake {
    fn encoded_len(&self) -> usize {
        1 + uint_len(self.mode)
            + buffer_len(self.noise.len())
            + opt_len(&self.peer_address)
            + opt_len(&self.relay_address)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        let flags = bit(self.peer_address.is_some(), 1) | bit(self.relay_address.is_some(), 2);
        w.uint(flags).uint(self.mode).buffer(&self.noise);
        put_opt(w, &self.peer_address);
        put_opt(w, &self.relay_address);
    }
}

impl Decode for Handshake {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        Ok(Self {
            mode: r.uint()?,
            noise: r.buffer_bytes()?,
            peer_address: get_opt(r, flags & 1 != 0)?,
            relay_address: get_opt(r, flags & 2 != 0)?,
        })
    }
}

/// A holepunch round message on its way between client, relay(s) and server
/// ([`PEER_HOLEPUNCH`](super::dht_commands::PEER_HOLEPUNCH)).
///
/// `flags:uint (1 peerAddress) ‖ mode:uint ‖ id:uint ‖ payload:buffer ‖ [peerAddress]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holepunch {
    /// Who sent it ([`modes`](super::modes)).
    pub mode: u64,
    /// The holepunch session id the server handed out.
    pub id: u64,
    /// The sealed [`HolepunchPayload`](super::HolepunchPayload)
    /// ([`seal_holepunch_payload`](super::seal_holepunch_payload)).
    pub payload: Bytes,
    /// The peer's address, added by the relaying node.
    pub peer_address: Option<Ipv4Address>,
}

impl Encode for Holepunch {
    fn encoded_len(&self) -> usize {
        1 + uint_len(self.mode)
            + uint_len(self.id)
            + buffer_len(self.payload.len())
            + opt_len(&self.peer_address)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(bit(self.peer_address.is_some(), 1))
            .uint(self.mode)
            .uint(self.id)
            .buffer(&self.payload);
        put_opt(w, &self.peer_address);
    }
}

impl Decode for Holepunch {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        Ok(Self {
            mode: r.uint()?,
            id: r.uint()?,
            payload: r.buffer_bytes()?,
            peer_address: get_opt(r, flags & 1 != 0)?,
        })
    }
}

/// A peer record: a public key and the relays it can be reached through.
///
/// `publicKey:fixed32 ‖ relayAddresses:ipv4[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Peer {
    /// The peer's Ed25519 public key.
    pub public_key: [u8; 32],
    /// DHT nodes relaying to it.
    pub relay_addresses: Vec<Ipv4Address>,
}

impl Encode for Peer {
    fn encoded_len(&self) -> usize {
        32 + array_len(&self.relay_addresses)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.raw(&self.public_key).array(&self.relay_addresses);
    }
}

impl Decode for Peer {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            public_key: r.fixed()?,
            relay_addresses: r.array(Ipv4Address::LEN)?,
        })
    }
}

/// A list of peer records (`peers` = `array(peer)`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Peers(pub Vec<Peer>);

impl Encode for Peers {
    fn encoded_len(&self) -> usize {
        array_len(&self.0)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.array(&self.0);
    }
}

impl Decode for Peers {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.array(PEER_MIN_LEN).map(Peers)
    }
}

/// An announce or unannounce request's value
/// ([`ANNOUNCE`](super::dht_commands::ANNOUNCE) / [`UNANNOUNCE`](super::dht_commands::UNANNOUNCE)).
///
/// `flags:uint (1 peer, 2 refresh, 4 signature, 8 bump) ‖ [peer] ‖ [refresh:fixed32]
/// ‖ [signature:fixed64] ‖ [bump:uint]`. The signature covers
/// [`announce_signable`](super::signable::announce_signable).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Announce {
    /// The announced record.
    pub peer: Option<Peer>,
    /// A refresh token: sending its preimage later refreshes the record without a signature.
    pub refresh: Option<[u8; 32]>,
    /// The Ed25519 signature by the peer's key.
    pub signature: Option<[u8; 64]>,
    /// A timestamp (ms) that reorders lookups; 0 is none and is not written.
    pub bump: u64,
}

impl Encode for Announce {
    fn encoded_len(&self) -> usize {
        1 + opt_len(&self.peer)
            + fixed_len(&self.refresh)
            + fixed_len(&self.signature)
            + if self.bump != 0 {
                uint_len(self.bump)
            } else {
                0
            }
    }
    fn encode(&self, w: &mut Writer<'_>) {
        let flags = bit(self.peer.is_some(), 1)
            | bit(self.refresh.is_some(), 2)
            | bit(self.signature.is_some(), 4)
            | bit(self.bump != 0, 8);
        w.uint(flags);
        put_opt(w, &self.peer);
        put_fixed(w, &self.refresh);
        put_fixed(w, &self.signature);
        if self.bump != 0 {
            w.uint(self.bump);
        }
    }
}

impl Decode for Announce {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        Ok(Self {
            peer: get_opt(r, flags & 1 != 0)?,
            refresh: get_fixed(r, flags & 2 != 0)?,
            signature: get_fixed(r, flags & 4 != 0)?,
            bump: if flags & 8 != 0 { r.uint()? } else { 0 },
        })
    }
}

/// A lookup reply's value ([`LOOKUP`](super::dht_commands::LOOKUP)).
///
/// `peers:peer[] ‖ bump:uint`; a reply without the trailing `bump` reads as bump 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LookupRawReply {
    /// The records announced under the topic (at most 20 from a reference node).
    pub peers: Vec<Peer>,
    /// The topic's latest bump.
    pub bump: u64,
}

impl Encode for LookupRawReply {
    fn encoded_len(&self) -> usize {
        array_len(&self.peers) + uint_len(self.bump)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.array(&self.peers).uint(self.bump);
    }
}

impl Decode for LookupRawReply {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let peers = r.array(PEER_MIN_LEN)?;
        let bump = if r.is_empty() { 0 } else { r.uint()? };
        Ok(Self { peers, bump })
    }
}

/// What a mutable record's signature covers (hashed, see
/// [`mutable_signable`](super::signable::mutable_signable)): `seq:uint ‖ value:buffer`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MutableSignable {
    /// The record's sequence number.
    pub seq: u64,
    /// The record's value.
    pub value: Bytes,
}

impl Encode for MutableSignable {
    fn encoded_len(&self) -> usize {
        uint_len(self.seq) + buffer_len(self.value.len())
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.seq).buffer(&self.value);
    }
}

impl Decode for MutableSignable {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            seq: r.uint()?,
            value: r.buffer_bytes()?,
        })
    }
}

/// A mutable put request's value ([`MUTABLE_PUT`](super::dht_commands::MUTABLE_PUT); its
/// target is BLAKE2b-256 of the public key).
///
/// `publicKey:fixed32 ‖ seq:uint ‖ value:buffer ‖ signature:fixed64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutablePutRequest {
    /// The signer's Ed25519 public key.
    pub public_key: [u8; 32],
    /// The record's sequence number.
    pub seq: u64,
    /// The record's value.
    pub value: Bytes,
    /// The Ed25519 signature of [`mutable_signable`](super::signable::mutable_signable).
    pub signature: [u8; 64],
}

impl Encode for MutablePutRequest {
    fn encoded_len(&self) -> usize {
        32 + uint_len(self.seq) + buffer_len(self.value.len()) + 64
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.raw(&self.public_key)
            .uint(self.seq)
            .buffer(&self.value)
            .raw(&self.signature);
    }
}

impl Decode for MutablePutRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            public_key: r.fixed()?,
            seq: r.uint()?,
            value: r.buffer_bytes()?,
            signature: r.fixed()?,
        })
    }
}

/// A mutable get reply's value (and what a node stores): `seq:uint ‖ value:buffer ‖
/// signature:fixed64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutableGetResponse {
    /// The record's sequence number.
    pub seq: u64,
    /// The record's value.
    pub value: Bytes,
    /// The Ed25519 signature of [`mutable_signable`](super::signable::mutable_signable).
    pub signature: [u8; 64],
}

impl Encode for MutableGetResponse {
    fn encoded_len(&self) -> usize {
        uint_len(self.seq) + buffer_len(self.value.len()) + 64
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.seq).buffer(&self.value).raw(&self.signature);
    }
}

impl Decode for MutableGetResponse {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            seq: r.uint()?,
            value: r.buffer_bytes()?,
            signature: r.fixed()?,
        })
    }
}

/// A mutable get request's value ([`MUTABLE_GET`](super::dht_commands::MUTABLE_GET)): the
/// lowest sequence number wanted, as a `uint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MutableGetRequest {
    /// Nodes holding an older record answer with no value.
    pub seq: u64,
}

impl Encode for MutableGetRequest {
    fn encoded_len(&self) -> usize {
        uint_len(self.seq)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.seq);
    }
}

impl Decode for MutableGetRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self { seq: r.uint()? })
    }
}

/// A plugin request's value ([`PLUGIN`](super::dht_commands::PLUGIN)).
///
/// `plugin:string ‖ version:uint ‖ command:uint ‖ flags:uint (1 value) ‖ [value:buffer]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PluginRequest {
    /// The plugin's name (invalid UTF-8 reads as U+FFFD, as in the reference).
    pub plugin: String,
    /// The plugin version the sender speaks.
    pub version: u64,
    /// The plugin's command.
    pub command: u64,
    /// The command's argument (an empty value is distinct from none).
    pub value: Option<Bytes>,
}

impl Encode for PluginRequest {
    fn encoded_len(&self) -> usize {
        buffer_len(self.plugin.len())
            + uint_len(self.version)
            + uint_len(self.command)
            + 1
            + buffer_opt_len(&self.value)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.string(&self.plugin)
            .uint(self.version)
            .uint(self.command)
            .uint(bit(self.value.is_some(), 1));
        put_buffer(w, &self.value);
    }
}

impl Decode for PluginRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let plugin = r.string()?;
        let version = r.uint()?;
        let command = r.uint()?;
        let flags = r.uint()?;
        let value = get_buffer(r, flags & 1 != 0)?;
        Ok(Self {
            plugin,
            version,
            command,
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_reply_without_bump_reads_bump_zero() {
        assert_eq!(
            LookupRawReply::decode_from(&[0]),
            Ok(LookupRawReply::default())
        );
        assert!(LookupRawReply::decode_from(&[]).is_err());
    }

    #[test]
    fn a_peer_count_the_input_cannot_hold_fails_before_allocating() {
        assert!(Peers::decode_from(&[0xfe, 0, 0, 0x10, 0]).is_err());
    }
}
