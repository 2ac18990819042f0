//! The DHT's wire formats: dht-rpc datagrams and the HyperDHT messages carried in them,
//! byte-exact with the JavaScript reference (`dht-rpc@6.27.0`, `hyperdht@6.34.0`).
//!
//! * [`rpc`]: the dht-rpc request (`0x03`) and reply (`0x13`) datagrams, node ids and
//!   tokens, the internal commands;
//! * [`messages`]: the values HyperDHT puts in requests and replies (handshake, holepunch,
//!   peer records, announces, lookups, mutable and immutable records, plugins);
//! * [`payload`]: the Noise handshake payload and the holepunch payload;
//! * [`holepunch`]: the holepunch secret and the sealed (`nonce ‖ secretbox`) holepunch
//!   payload;
//! * [`signable`]: the namespaces and the 64-byte messages announces, unannounces and
//!   mutable puts sign.
//!
//! Decoders take what the reference takes: trailing bytes are ignored, flag fields are
//! `uint`s whose unknown bits are ignored, and every malformed input is a typed error
//! (never a panic, never an allocation the input cannot back).

use core::fmt;

use blake2b_simd::Params;

use crate::encoding::{Decode, Encode, Reader, Writer};
use crate::DecodeError;

pub mod holepunch;
pub mod messages;
pub mod payload;
pub mod rpc;
pub mod signable;

pub use holepunch::{holepunch_secret, open_holepunch_payload, seal_holepunch_payload, SealError};
pub use messages::Peers;
pub use messages::{
    Announce, Handshake, Holepunch, LookupRawReply, MutableGetRequest, MutableGetResponse,
    MutablePutRequest, MutableSignable, Peer, PluginRequest,
};
pub use payload::{
    HolepunchInfo, HolepunchPayload, NoisePayload, RelayInfo, RelayThroughInfo, SecretStreamInfo,
    UdxInfo,
};
pub use rpc::{node_id, token, Packet, PacketError, Request, Response};
pub use signable::{announce_signable, immutable_target, mutable_signable, mutable_target};

/// BLAKE2b-256 of `parts` concatenated, keyed with `key` when given (libsodium's
/// `crypto_generichash` with a 32-byte output).
pub(crate) fn blake2b_256(key: Option<&[u8]>, parts: &[&[u8]]) -> [u8; 32] {
    let mut params = Params::new();
    params.hash_length(32);
    if let Some(k) = key {
        params.key(k);
    }
    let mut state = params.to_state();
    for p in parts {
        state.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(state.finalize().as_bytes());
    out
}

/// `bit` when `set`, else 0: one flag of a flags field.
pub(crate) fn bit(set: bool, bit: u64) -> u64 {
    if set {
        bit
    } else {
        0
    }
}

/// The encoded size of an optional field (0 when absent).
pub(crate) fn opt_len<T: Encode>(v: &Option<T>) -> usize {
    v.as_ref().map_or(0, Encode::encoded_len)
}

/// Writes an optional field when present.
pub(crate) fn put_opt<T: Encode>(w: &mut Writer<'_>, v: &Option<T>) {
    if let Some(v) = v {
        w.value(v);
    }
}

/// Reads an optional field when its flag is set.
pub(crate) fn get_opt<T: Decode>(
    r: &mut Reader<'_>,
    present: bool,
) -> Result<Option<T>, DecodeError> {
    if present {
        T::decode(r).map(Some)
    } else {
        Ok(None)
    }
}

/// The encoded size of an optional `fixedN` field.
pub(crate) fn fixed_len<const N: usize>(v: &Option<[u8; N]>) -> usize {
    v.map_or(0, |_| N)
}

/// Writes an optional `fixedN` field when present.
pub(crate) fn put_fixed<const N: usize>(w: &mut Writer<'_>, v: &Option<[u8; N]>) {
    if let Some(b) = v {
        w.raw(b);
    }
}

/// Reads an optional `fixedN` field when its flag is set.
pub(crate) fn get_fixed<const N: usize>(
    r: &mut Reader<'_>,
    present: bool,
) -> Result<Option<[u8; N]>, DecodeError> {
    if present {
        r.fixed().map(Some)
    } else {
        Ok(None)
    }
}

/// The encoded size of an optional `buffer` field.
pub(crate) fn buffer_opt_len(v: &Option<bytes::Bytes>) -> usize {
    v.as_ref()
        .map_or(0, |v| crate::encoding::buffer_len(v.len()))
}

/// Writes an optional `buffer` field when present.
pub(crate) fn put_buffer(w: &mut Writer<'_>, v: &Option<bytes::Bytes>) {
    if let Some(v) = v {
        w.buffer(v);
    }
}

/// Reads an optional `buffer` field when its flag is set.
pub(crate) fn get_buffer(
    r: &mut Reader<'_>,
    present: bool,
) -> Result<Option<bytes::Bytes>, DecodeError> {
    if present {
        r.buffer_bytes().map(Some)
    } else {
        Ok(None)
    }
}

/// An IPv4 address and port as the DHT encodes it: 4 octets, then the port as a
/// little-endian `uint16` (6 bytes; compact-encoding's `ipv4Address`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ipv4Address {
    /// The four octets, most significant first (`1.2.3.4` is `[1, 2, 3, 4]`).
    pub host: [u8; 4],
    /// The UDP port.
    pub port: u16,
}

impl Ipv4Address {
    /// The encoded size.
    pub const LEN: usize = 6;

    /// An address from its octets and port.
    #[must_use]
    pub const fn new(host: [u8; 4], port: u16) -> Self {
        Self { host, port }
    }

    /// The 6-byte encoding.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 6] {
        let p = self.port.to_le_bytes();
        let h = self.host;
        [h[0], h[1], h[2], h[3], p[0], p[1]]
    }
}

impl fmt::Display for Ipv4Address {
    /// `a.b.c.d:port`; the host part alone is [`Ipv4Address::host`] formatted by
    /// [`HostDisplay`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", HostDisplay::V4(self.host), self.port)
    }
}

impl Encode for Ipv4Address {
    fn encoded_len(&self) -> usize {
        Self::LEN
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.raw(&self.host).u16(self.port);
    }
}

impl Decode for Ipv4Address {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            host: r.fixed()?,
            port: r.u16()?,
        })
    }
}

/// An IPv6 address and port: 16 octets, then the port as a little-endian `uint16`
/// (18 bytes; compact-encoding's `ipv6Address`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ipv6Address {
    /// The sixteen octets, most significant first.
    pub host: [u8; 16],
    /// The UDP port.
    pub port: u16,
}

impl Ipv6Address {
    /// The encoded size.
    pub const LEN: usize = 18;
}

impl fmt::Display for Ipv6Address {
    /// `[host]:port`, the host as [`HostDisplay`] writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]:{}", HostDisplay::V6(self.host), self.port)
    }
}

impl Encode for Ipv6Address {
    fn encoded_len(&self) -> usize {
        Self::LEN
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.raw(&self.host).u16(self.port);
    }
}

impl Decode for Ipv6Address {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            host: r.fixed()?,
            port: r.u16()?,
        })
    }
}

/// A host formatted as the reference's decoder prints it: dotted decimal for IPv4, and for
/// IPv6 eight lowercase hex groups without leading zeros and without `::` compression
/// (`0:0:0:0:0:0:0:1`). The IPv4 form is also the host string dht-rpc hashes into
/// [`token`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostDisplay {
    /// An IPv4 host.
    V4([u8; 4]),
    /// An IPv6 host.
    V6([u8; 16]),
}

impl fmt::Display for HostDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostDisplay::V4(h) => write!(f, "{}.{}.{}.{}", h[0], h[1], h[2], h[3]),
            HostDisplay::V6(h) => {
                for (i, pair) in h.chunks_exact(2).enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{:x}", u16::from_be_bytes([pair[0], pair[1]]))?;
                }
                Ok(())
            }
        }
    }
}

/// The dht-rpc internal commands (`dht-rpc/lib/commands.js`), sent with the internal flag.
pub mod commands {
    /// Liveness check; the reply carries the sender's address as the node saw it.
    pub const PING: u64 = 0;
    /// Asks a node to ping the given address back from another port (NAT probing).
    pub const PING_NAT: u64 = 1;
    /// Asks for the nodes closest to the target.
    pub const FIND_NODE: u64 = 2;
    /// Tells a node that another one seems down.
    pub const DOWN_HINT: u64 = 3;
    /// A ping answered after a delay.
    pub const DELAYED_PING: u64 = 4;
}

/// The HyperDHT commands (`hyperdht/lib/constants.js` `COMMANDS`), sent without the
/// internal flag.
pub mod dht_commands {
    /// A Noise handshake routed to a peer ([`Handshake`](super::Handshake)).
    pub const PEER_HANDSHAKE: u64 = 0;
    /// A holepunch message routed to a peer ([`Holepunch`](super::Holepunch)).
    pub const PEER_HOLEPUNCH: u64 = 1;
    /// Finds the node a peer announced itself on.
    pub const FIND_PEER: u64 = 2;
    /// Looks up the peers announced under a topic.
    pub const LOOKUP: u64 = 3;
    /// Announces a peer under a topic ([`Announce`](super::Announce)).
    pub const ANNOUNCE: u64 = 4;
    /// Removes an announcement.
    pub const UNANNOUNCE: u64 = 5;
    /// Stores a signed mutable record ([`MutablePutRequest`](super::MutablePutRequest)).
    pub const MUTABLE_PUT: u64 = 6;
    /// Fetches a mutable record ([`MutableGetRequest`](super::MutableGetRequest)).
    pub const MUTABLE_GET: u64 = 7;
    /// Stores an immutable value (its target is BLAKE2b-256 of the value).
    pub const IMMUTABLE_PUT: u64 = 8;
    /// Fetches an immutable value.
    pub const IMMUTABLE_GET: u64 = 9;
    /// A plugin request ([`PluginRequest`](super::PluginRequest)).
    pub const PLUGIN: u64 = 10;
}

/// Firewall kinds a peer reports in its payloads (`FIREWALL` in hyperdht).
pub mod firewall {
    /// Not known yet.
    pub const UNKNOWN: u64 = 0;
    /// Reachable directly.
    pub const OPEN: u64 = 1;
    /// Behind a NAT that keeps one external port per socket.
    pub const CONSISTENT: u64 = 2;
    /// Behind a NAT that picks a new external port per destination.
    pub const RANDOM: u64 = 3;
}

/// Error codes of payloads and DHT replies (`ERROR` in hyperdht).
pub mod errors {
    /// No error.
    pub const NONE: u64 = 0;
    /// The connection was aborted.
    pub const ABORTED: u64 = 1;
    /// The peer speaks another payload version.
    pub const VERSION_MISMATCH: u64 = 2;
    /// The peer is busy; try again later.
    pub const TRY_LATER: u64 = 3;
    /// A mutable put reused a sequence number for another value.
    pub const SEQ_REUSED: u64 = 16;
    /// A mutable put's sequence number is below the stored one.
    pub const SEQ_TOO_LOW: u64 = 17;
    /// dht-rpc: the command is not known (`UNKNOWN_COMMAND`).
    pub const UNKNOWN_COMMAND: u64 = 1;
    /// dht-rpc: the request's token is not one this node handed out (`INVALID_TOKEN`).
    pub const INVALID_TOKEN: u64 = 2;
}

/// Who sent a [`Handshake`] or [`Holepunch`] on its way between client, relays and server
/// (module constants of `hyperdht/lib/router.js`).
pub mod modes {
    /// From the connecting client.
    pub const FROM_CLIENT: u64 = 0;
    /// From the server (through its relay).
    pub const FROM_SERVER: u64 = 1;
    /// Forwarded by the first relay.
    pub const FROM_RELAY: u64 = 2;
    /// Forwarded by a second relay.
    pub const FROM_SECOND_RELAY: u64 = 3;
    /// The answer to the client.
    pub const REPLY: u64 = 4;
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn hosts_print_as_js_decodes_them() {
        assert_eq!(HostDisplay::V4([1, 2, 3, 4]).to_string(), "1.2.3.4");
        let mut h = [0u8; 16];
        h[15] = 1;
        assert_eq!(HostDisplay::V6(h).to_string(), "0:0:0:0:0:0:0:1");
        h[0] = 0xfe;
        h[1] = 0x80;
        assert_eq!(HostDisplay::V6(h).to_string(), "fe80:0:0:0:0:0:0:1");
    }

    #[test]
    fn addresses_round_trip() {
        let a = Ipv4Address::new([10, 0, 0, 1], 49737);
        assert_eq!(a.to_bytes(), [10, 0, 0, 1, 0x49, 0xc2]);
        assert_eq!(Ipv4Address::decode_from(&a.to_vec()), Ok(a));
        assert!(Ipv4Address::decode_from(&[1, 2, 3, 4, 5]).is_err());
    }
}
