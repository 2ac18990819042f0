//! What HyperDHT signs (`hyperdht@6.34.0` `lib/persistent.js`), its namespaces
//! (`lib/constants.js`) and the targets records are stored under.
//!
//! A signable is 64 bytes, `namespace ‖ BLAKE2b-256(...)`, signed with Ed25519:
//!
//! * announce / unannounce: `NS_ANNOUNCE | NS_UNANNOUNCE ‖ BLAKE2b-256(target ‖ node id ‖
//!   token ‖ encode(peer) ‖ refresh?)`, where the node id and token are those of the DHT
//!   node the request goes to (the bump is not signed);
//! * mutable put: `NS_MUTABLE_PUT ‖ BLAKE2b-256(encode(MutableSignable { seq, value }))`.

use super::{blake2b_256, MutableSignable, Peer};
use crate::encoding::{hex32, Encode};

/// The namespace tree's root: `hypercore-crypto` `namespace('hyperswarm/dht', ids)` gives
/// `BLAKE2b-256(BLAKE2b-256("hyperswarm/dht") ‖ [id])` for each command id.
pub const NAMESPACE_NAME: &str = "hyperswarm/dht";

/// Namespace of announce signatures (id [`ANNOUNCE`](super::dht_commands::ANNOUNCE)).
pub const NS_ANNOUNCE: [u8; 32] =
    hex32("36386adddf9f6fd60db83a6f42fc159d1146aa8644037664230aaa1f0179d497");
/// Namespace of unannounce signatures (id [`UNANNOUNCE`](super::dht_commands::UNANNOUNCE)).
pub const NS_UNANNOUNCE: [u8; 32] =
    hex32("ded293cd93fb395e756ecf5fff426529e72c36eacc22e5ed944d9099a2561e32");
/// Namespace of mutable-record signatures (id [`MUTABLE_PUT`](super::dht_commands::MUTABLE_PUT)).
pub const NS_MUTABLE_PUT: [u8; 32] =
    hex32("668e823edd5ce7f5338d68bf1161f4a3c28ce437ee2ab49efd30d99366039b1e");
/// The Noise IK prologue of peer handshakes (id
/// [`PEER_HANDSHAKE`](super::dht_commands::PEER_HANDSHAKE)).
pub const NS_PEER_HANDSHAKE: [u8; 32] =
    hex32("14d6d4b49214ab1033ed204976caa258bae9e1e8543b9ad1fd996a910b0c4e3a");
/// Hashed with the handshake hash into the holepunch secret (id
/// [`PEER_HOLEPUNCH`](super::dht_commands::PEER_HOLEPUNCH)).
pub const NS_PEER_HOLEPUNCH: [u8; 32] =
    hex32("f1191cd5e67b10b54a507033280ed1ff0e12278268d5679c8f93d417210d168b");
/// Namespace of plugins (id [`PLUGIN`](super::dht_commands::PLUGIN)).
pub const NS_PLUGIN: [u8; 32] =
    hex32("6b8a2a8623f28c6c02a1e22abe515ce31cafd9af61d4b69970639aa7eb96a8d5");

/// `hypercore-crypto`'s `namespace(NAMESPACE_NAME, [id])[0]`: how the `NS_*` constants are
/// derived.
#[must_use]
pub fn namespace(id: u8) -> [u8; 32] {
    let root = blake2b_256(None, &[NAMESPACE_NAME.as_bytes()]);
    blake2b_256(None, &[&root, &[id]])
}

fn prefixed(ns: &[u8; 32], hash: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(ns);
    out[32..].copy_from_slice(hash);
    out
}

/// The message an announce's (with [`NS_ANNOUNCE`]) or an unannounce's (with
/// [`NS_UNANNOUNCE`]) signature covers. `node_id` and `token` are those of the DHT node the
/// request is sent to.
#[must_use]
pub fn announce_signable(
    namespace: &[u8; 32],
    target: &[u8; 32],
    node_id: &[u8; 32],
    token: &[u8; 32],
    peer: &Peer,
    refresh: Option<&[u8; 32]>,
) -> [u8; 64] {
    let peer = peer.to_vec();
    let refresh: &[u8] = refresh.map_or(&[], |r| r);
    prefixed(
        namespace,
        &blake2b_256(None, &[target, node_id, token, &peer, refresh]),
    )
}

/// The message a mutable record's signature covers.
#[must_use]
pub fn mutable_signable(seq: u64, value: &[u8]) -> [u8; 64] {
    let m = MutableSignable {
        seq,
        value: bytes::Bytes::copy_from_slice(value),
    };
    prefixed(&NS_MUTABLE_PUT, &blake2b_256(None, &[&m.to_vec()]))
}

/// The target a mutable record is stored under: BLAKE2b-256 of its public key.
#[must_use]
pub fn mutable_target(public_key: &[u8; 32]) -> [u8; 32] {
    blake2b_256(None, &[public_key])
}

/// The target an immutable value is stored under: BLAKE2b-256 of the value.
#[must_use]
pub fn immutable_target(value: &[u8]) -> [u8; 32] {
    blake2b_256(None, &[value])
}

#[cfg(test)]
mod tests {
    use super::super::dht_commands as cmd;
    use super::*;

    #[test]
    fn namespaces_derive_from_the_command_ids() {
        assert_eq!(namespace(cmd::ANNOUNCE as u8), NS_ANNOUNCE);
        assert_eq!(namespace(cmd::UNANNOUNCE as u8), NS_UNANNOUNCE);
        assert_eq!(namespace(cmd::MUTABLE_PUT as u8), NS_MUTABLE_PUT);
        assert_eq!(namespace(cmd::PEER_HANDSHAKE as u8), NS_PEER_HANDSHAKE);
        assert_eq!(namespace(cmd::PEER_HOLEPUNCH as u8), NS_PEER_HOLEPUNCH);
        assert_eq!(namespace(cmd::PLUGIN as u8), NS_PLUGIN);
    }
}
