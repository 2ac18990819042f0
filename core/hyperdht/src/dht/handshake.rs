//! What the server ([`server`](super::server)) and the client ([`connect`](super::connect))
//! of a HyperDHT peer connection share (`hyperdht@6.34.0` `lib/router.js`,
//! `lib/constants.js`, `lib/errors.js`): the target a key is found under, the client's
//! side of `PEER_HANDSHAKE` (`Router.peerHandshake`; relaying and the server's reply are
//! the [`Dht`](super::Dht)'s [`node_router`](super::node_router)), the errors with the
//! reference's codes, the address classes (`bogon`) and the finished [`Connection`].
//!
//! A handshake goes client → node → server → node → client: the client sends
//! `FROM_CLIENT` to a node holding the server's record; that node forwards it as
//! `FROM_RELAY` (same transaction id) to the server, whose answer comes back as
//! `FROM_SERVER` and is turned into the `REPLY` of the client's request. When the client
//! asks the server itself (it is directly reachable), the server replies to `FROM_CLIENT`
//! at once.

use bytes::Bytes;
use ferrocore_wire::dht::{modes, Handshake, Ipv4Address, NoisePayload};
use ferrocore_wire::noise::WrapResult;
use ferrocore_wire::{Decode, Encode};

/// How long a finished (or failed) server handshake is remembered, so a retransmitted
/// request gets the same reply (`HANDSHAKE_CLEAR_WAIT`, 10 s).
pub const HANDSHAKE_CLEAR_WAIT: core::time::Duration = core::time::Duration::from_secs(10);
/// How long the server waits for a client it cannot reach to open the stream (or for a
/// holepunch to start) before giving up (`HANDSHAKE_INITIAL_TIMEOUT`, 10 s).
pub const HANDSHAKE_INITIAL_TIMEOUT: core::time::Duration = core::time::Duration::from_secs(10);
/// How long a reachable client waits for the server to open the stream to it
/// (`passiveConnectTimeout`, 10 s).
pub const PASSIVE_CONNECT_TIMEOUT: core::time::Duration = core::time::Duration::from_secs(10);

/// The key a public key's records are stored under: BLAKE2b-256 of the key
/// (`unslabbedHash(publicKey)`).
#[must_use]
pub fn target(public_key: &[u8; 32]) -> [u8; 32] {
    let digest = blake2b_simd::Params::new().hash_length(32).hash(public_key);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_bytes());
    out
}

/// Why a connect (or a listen) failed; [`ConnectError::code`] is the reference's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// No node holding the server's record answered (`PEER_NOT_FOUND`).
    #[error("PEER_NOT_FOUND: Peer not found")]
    PeerNotFound,
    /// Nodes holding the record were asked, none brought a valid server reply
    /// (`PEER_CONNECTION_FAILED`).
    #[error("PEER_CONNECTION_FAILED: Could not connect to peer")]
    PeerConnectionFailed,
    /// The server's payload has another version (`SERVER_INCOMPATIBLE`).
    #[error("SERVER_INCOMPATIBLE: Server is using an incompatible version")]
    ServerIncompatible,
    /// The server's payload carries an error, or no (usable) UDX stream (`SERVER_ERROR`).
    #[error("SERVER_ERROR: Server returned an error")]
    ServerError,
    /// The server is behind a firewall and offers no holepunch relays (`CANNOT_HOLEPUNCH`).
    #[error("CANNOT_HOLEPUNCH: Cannot holepunch to remote")]
    CannotHolepunch,
    /// A direct or LAN connection did not come up in time (`HOLEPUNCH_ABORTED`).
    #[error("HOLEPUNCH_ABORTED: Holepunch aborted")]
    HolepunchAborted,
    /// The reference would holepunch here; this implementation does not holepunch yet.
    #[error("HOLEPUNCH_UNSUPPORTED: Holepunching is not implemented")]
    HolepunchUnsupported,
    /// The node is suspended or not connectable (`SUSPENDED`).
    #[error("SUSPENDED: Suspended")]
    Suspended,
    /// The key pair is already listening on this node (`KEYPAIR_ALREADY_USED`).
    #[error("KEYPAIR_ALREADY_USED: Keypair already used")]
    KeyPairAlreadyUsed,
}

impl ConnectError {
    /// The reference's `err.code`.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::PeerNotFound => "PEER_NOT_FOUND",
            Self::PeerConnectionFailed => "PEER_CONNECTION_FAILED",
            Self::ServerIncompatible => "SERVER_INCOMPATIBLE",
            Self::ServerError => "SERVER_ERROR",
            Self::CannotHolepunch => "CANNOT_HOLEPUNCH",
            Self::HolepunchAborted => "HOLEPUNCH_ABORTED",
            Self::HolepunchUnsupported => "HOLEPUNCH_UNSUPPORTED",
            Self::Suspended => "SUSPENDED",
            Self::KeyPairAlreadyUsed => "KEYPAIR_ALREADY_USED",
        }
    }
}

/// A peer connection whose Noise IK handshake finished and whose remote address is known:
/// what the adapter needs to open the UDX stream and run
/// [`SecretStream::from_handshake`](ferrocore_wire::stream::SecretStream::from_handshake).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The remote's static key, authenticated by the handshake.
    pub remote_public_key: [u8; 32],
    /// Where the remote's UDX stream is.
    pub remote_addr: Ipv4Address,
    /// The remote's UDX stream id (from its payload).
    pub remote_stream_id: u32,
    /// This side's UDX stream id.
    pub local_stream_id: u32,
    /// Whether this side initiated (the client).
    pub is_initiator: bool,
    /// The split keys, handshake hash, holepunch secret and the remote's secret-stream id.
    pub handshake: WrapResult,
    /// The remote's handshake payload (addresses, relays, firewall...).
    pub remote_payload: NoisePayload,
}

/// The UDX stream id of a payload, when it has a usable one (UDX ids are 32-bit).
pub(crate) fn udx_id(payload: &NoisePayload) -> Option<u32> {
    payload.udx.and_then(|u| u32::try_from(u.id).ok())
}

fn encode(mode: u64, noise: Bytes, peer: Option<Ipv4Address>, relay: Option<Ipv4Address>) -> Bytes {
    Bytes::from(
        Handshake {
            mode,
            noise,
            peer_address: peer,
            relay_address: relay,
        }
        .to_vec(),
    )
}

/// The client's request value: `FROM_CLIENT` with its Noise message.
#[must_use]
pub fn client_request(noise: Bytes) -> Bytes {
    encode(modes::FROM_CLIENT, noise, None, None)
}

/// The client's view of a `PEER_HANDSHAKE` reply (`Router.peerHandshake`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeReply {
    /// The server's Noise message.
    pub noise: Bytes,
    /// The reply came through a relay (it names the server's address).
    pub relayed: bool,
    /// The server's address: as the relay saw it, or the node asked.
    pub server_address: Ipv4Address,
}

/// Checks a reply to a `FROM_CLIENT` request sent to `to`: a `REPLY` with a Noise message
/// from the node asked, or `None` (`BAD_HANDSHAKE_REPLY`).
#[must_use]
pub fn parse_reply(
    to: Ipv4Address,
    from: Ipv4Address,
    value: Option<&[u8]>,
) -> Option<HandshakeReply> {
    let hs = Handshake::decode_from(value?).ok()?;
    if hs.mode != modes::REPLY || to != from || hs.noise.is_empty() {
        return None;
    }
    Some(HandshakeReply {
        relayed: hs.peer_address.is_some(),
        server_address: hs.peer_address.unwrap_or(to),
        noise: hs.noise,
    })
}

/// `bogon`'s private IPv4 ranges (RFC 1918, CGNAT, loopback, link local).
#[must_use]
pub fn is_private(host: [u8; 4]) -> bool {
    matches!(host, [10, ..] | [127, ..] | [169, 254, ..] | [192, 168, ..])
        || (host[0] == 100 && (64..=127).contains(&host[1]))
        || (host[0] == 172 && (16..=31).contains(&host[1]))
}

/// `bogon`'s reserved IPv4 ranges (this network, documentation, benchmarking, multicast,
/// future use, broadcast).
#[must_use]
pub fn is_reserved(host: [u8; 4]) -> bool {
    matches!(
        host,
        [0, ..]
            | [192, 0, 0, _]
            | [192, 0, 2, _]
            | [198, 18 | 19, ..]
            | [198, 51, 100, _]
            | [203, 0, 113, _]
    ) || host[0] >= 224
}

/// Private or reserved (`isBogon`).
#[must_use]
pub fn is_bogon(host: [u8; 4]) -> bool {
    is_private(host) || is_reserved(host)
}

/// `Holepuncher.matchAddress`: the remote local address sharing the most leading octets
/// (up to three) with one of ours, at least the first.
#[must_use]
pub fn match_address(mine: &[Ipv4Address], remote: &[Ipv4Address]) -> Option<Ipv4Address> {
    let mut best: (u8, Option<Ipv4Address>) = (1, None);
    for a in mine {
        for b in remote {
            if a.host[0] != b.host[0] {
                continue;
            }
            if best.0 == 1 {
                best = (2, Some(*b));
            }
            if a.host[1] == b.host[1] {
                if best.0 == 2 {
                    best = (3, Some(*b));
                }
                if a.host[2] == b.host[2] {
                    return Some(*b);
                }
            }
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Address = Ipv4Address::new([10, 0, 0, 1], 1000);
    const B: Ipv4Address = Ipv4Address::new([10, 0, 0, 2], 2000);
    const S: Ipv4Address = Ipv4Address::new([10, 0, 0, 3], 3000);

    fn hs(mode: u64, peer: Option<Ipv4Address>, relay: Option<Ipv4Address>) -> Handshake {
        Handshake {
            mode,
            noise: Bytes::from_static(b"noise"),
            peer_address: peer,
            relay_address: relay,
        }
    }

    #[test]
    fn replies_must_come_from_the_node_asked() {
        let v = hs(modes::REPLY, Some(S), None).to_vec();
        let r = parse_reply(B, B, Some(&v)).unwrap();
        assert!(r.relayed);
        assert_eq!(r.server_address, S);
        assert!(parse_reply(B, A, Some(&v)).is_none());
        let wrong_mode = hs(modes::FROM_SERVER, Some(S), None).to_vec();
        assert!(parse_reply(B, B, Some(&wrong_mode)).is_none());
        assert!(parse_reply(B, B, Some(&[0xff])).is_none());
        let direct = hs(modes::REPLY, None, None).to_vec();
        assert_eq!(parse_reply(S, S, Some(&direct)).unwrap().server_address, S);
    }

    #[test]
    fn address_classes_follow_bogon() {
        assert!(is_private([192, 168, 1, 1]) && is_private([100, 64, 0, 1]));
        assert!(!is_private([100, 128, 0, 1]) && !is_private([8, 8, 8, 8]));
        assert!(is_reserved([224, 0, 0, 1]) && is_reserved([198, 19, 0, 1]));
        assert!(!is_reserved([198, 20, 0, 1]) && !is_bogon([1, 1, 1, 1]));
        let mine = [Ipv4Address::new([192, 168, 122, 238], 1)];
        let far = Ipv4Address::new([192, 1, 0, 23], 2);
        let near = Ipv4Address::new([192, 168, 0, 23], 2);
        let same = Ipv4Address::new([192, 168, 122, 1], 2);
        assert_eq!(match_address(&mine, &[far, near]), Some(near));
        assert_eq!(match_address(&mine, &[far, near, same]), Some(same));
        assert_eq!(
            match_address(&mine, &[Ipv4Address::new([10, 0, 0, 1], 2)]),
            None
        );
        assert_eq!(target(&[0; 32]), target(&[0; 32]));
        assert_ne!(target(&[0; 32]), target(&[1; 32]));
    }
}
