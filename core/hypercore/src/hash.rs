//! BLAKE2b hashing: tree nodes, namespaces, discovery keys and replication capabilities.
//!
//! * leaf: `H(00 ‖ u64le(len) ‖ data)`
//! * parent: `H(01 ‖ u64le(left.size + right.size) ‖ left.hash ‖ right.hash)` (children
//!   ordered by index)
//! * tree hash: `H(02 ‖ for each root: hash ‖ u64le(index) ‖ u64le(size))`
//!
//! `H` is unkeyed BLAKE2b with a 32-byte output.
//!
//! ```
//! use ferrocore::hash;
//! let leaf = hash::leaf(0, b"block 0");
//! assert_eq!(leaf.size, 7);
//! assert_eq!(hash::tree_hash(&[]), hash::EMPTY_TREE_HASH);
//! ```

use alloc::vec::Vec;

use blake2b_simd::Params;

use crate::flat_tree;
use crate::Node;

/// A 32-byte hash.
pub type Hash = [u8; 32];

const LEAF_TYPE: u8 = 0;
const PARENT_TYPE: u8 = 1;
const ROOT_TYPE: u8 = 2;

fn params32() -> Params {
    let mut p = Params::new();
    p.hash_length(32);
    p
}

fn out32(h: blake2b_simd::Hash) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(h.as_bytes());
    out
}

/// Unkeyed BLAKE2b-256 of the concatenation of `parts`.
#[must_use]
pub fn blake2b256(parts: &[&[u8]]) -> Hash {
    let mut st = params32().to_state();
    for p in parts {
        st.update(p);
    }
    out32(st.finalize())
}

/// BLAKE2b-256 keyed with `key` (a real BLAKE2b key, at most 64 bytes) of the
/// concatenation of `parts`.
///
/// # Panics
/// If `key` is longer than 64 bytes (a caller bug; every key in the protocol is 32 or 64).
#[must_use]
pub fn blake2b256_keyed(key: &[u8], parts: &[&[u8]]) -> Hash {
    let mut st = params32().key(key).to_state();
    for p in parts {
        st.update(p);
    }
    out32(st.finalize())
}

/// The leaf node of block `block_index` with bytes `data`.
#[must_use]
pub fn leaf(block_index: u64, data: &[u8]) -> Node {
    Node {
        index: 2 * block_index,
        size: data.len() as u64,
        hash: leaf_hash(data),
    }
}

/// The hash of a leaf with bytes `data` (the index is not hashed).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    blake2b256(&[&[LEAF_TYPE], &(data.len() as u64).to_le_bytes(), data])
}

/// The leaf hashes of `values`, four at a time in SIMD lanes where the CPU has them
/// (AVX2: about three times the speed of hashing them one by one). Equal to
/// [`leaf_hash`] of each value.
///
/// ```
/// use ferrocore::hash;
/// let values = [&b"a"[..], b"bb", b"ccc", b"dddd", b"eeeee"];
/// let hashes = hash::leaf_hashes(&values);
/// assert!(values.iter().zip(&hashes).all(|(v, h)| *h == hash::leaf_hash(v)));
/// ```
#[must_use]
pub fn leaf_hashes<T: AsRef<[u8]>>(values: &[T]) -> Vec<Hash> {
    if values.len() < 2 {
        return values.iter().map(|v| leaf_hash(v.as_ref())).collect();
    }
    let params = params32();
    let mut states: Vec<blake2b_simd::State> = values
        .iter()
        .map(|v| {
            let mut st = params.to_state();
            st.update(&[LEAF_TYPE]);
            st.update(&(v.as_ref().len() as u64).to_le_bytes());
            st
        })
        .collect();
    blake2b_simd::many::update_many(states.iter_mut().zip(values));
    states.iter_mut().map(|st| out32(st.finalize())).collect()
}

/// The parent of two sibling nodes, given in either order.
#[must_use]
pub fn parent(a: &Node, b: &Node) -> Node {
    let (l, r) = if a.index <= b.index { (a, b) } else { (b, a) };
    let size = l.size.wrapping_add(r.size);
    Node {
        index: flat_tree::parent(l.index),
        size,
        hash: parent_hash(l, r),
    }
}

/// The hash of the parent of `left` and `right` (ordered by index).
#[must_use]
pub fn parent_hash(a: &Node, b: &Node) -> Hash {
    blake2b256(&[&parent_preimage(a, b)])
}

/// The tree hash ("root hash") of a root set, roots in ascending index order.
#[must_use]
pub fn tree_hash(roots: &[Node]) -> Hash {
    let mut st = params32().to_state();
    st.update(&[ROOT_TYPE]);
    for r in roots {
        st.update(&r.hash);
        st.update(&r.index.to_le_bytes());
        st.update(&r.size.to_le_bytes());
    }
    out32(st.finalize())
}

/// The tree hash of the empty core: `H(02)`.
pub const EMPTY_TREE_HASH: Hash = [
    0xbb, 0x30, 0xa4, 0x2c, 0x1e, 0x62, 0xf0, 0xaf, 0xda, 0x5f, 0x0a, 0x4e, 0x8a, 0x56, 0x2f, 0x7a,
    0x13, 0xa2, 0x4c, 0xea, 0x00, 0xee, 0x81, 0x91, 0x7b, 0x86, 0xb8, 0x9e, 0x80, 0x13, 0x14, 0xaa,
];

/// The bytes [`leaf_hash`] hashes: `00 ‖ u64le(len(data)) ‖ data` (for inspection and
/// conformance checks; hashing streams the parts without building this).
#[must_use]
pub fn leaf_preimage(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + data.len());
    out.push(LEAF_TYPE);
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The 73 bytes [`parent_hash`] hashes: `01 ‖ u64le(left.size + right.size) ‖ left.hash ‖
/// right.hash`, children ordered by index whatever the argument order.
#[must_use]
pub fn parent_preimage(a: &Node, b: &Node) -> [u8; 73] {
    let (l, r) = if a.index <= b.index { (a, b) } else { (b, a) };
    let mut out = [0u8; 73];
    out[0] = PARENT_TYPE;
    out[1..9].copy_from_slice(&l.size.wrapping_add(r.size).to_le_bytes());
    out[9..41].copy_from_slice(&l.hash);
    out[41..].copy_from_slice(&r.hash);
    out
}

/// The bytes [`tree_hash`] hashes: `02`, then per root `hash ‖ u64le(index) ‖ u64le(size)`
/// (`1 + 48·roots` bytes).
#[must_use]
pub fn tree_hash_preimage(roots: &[Node]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 48 * roots.len());
    out.push(ROOT_TYPE);
    for r in roots {
        out.extend_from_slice(&r.hash);
        out.extend_from_slice(&r.index.to_le_bytes());
        out.extend_from_slice(&r.size.to_le_bytes());
    }
    out
}

/// `namespace(name, count)`: `base = H(name)`, `ns_i = H(base ‖ byte(i))`.
#[must_use]
pub fn namespace<const N: usize>(name: &str) -> [Hash; N] {
    let base = blake2b256(&[name.as_bytes()]);
    let mut out = [[0u8; 32]; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = blake2b256(&[&base, &[i as u8]]);
    }
    out
}

/// The six namespaces of `namespace("hypercore", 6)`.
pub mod ns {
    use super::Hash;
    use ferrocore_wire::encoding::hex32;

    macro_rules! ns_const {
        ($(#[$m:meta])* $name:ident = $hex:literal) => {
            $(#[$m])*
            pub const $name: Hash = hex32($hex);
        };
    }

    ns_const!(
        /// Prefix of every tree signable.
        TREE = "9fac70b50ca14efc4e91c833b204e75b8b5aad8b5881bfc0adb5ef38a3275b9c"
    );
    ns_const!(
        /// Replication capability, sent by the Noise initiator.
        REPLICATE_INITIATOR = "51812a2a359b50369536775df89e18e47740f3db72ac0ae70b29594c194dc316"
    );
    ns_const!(
        /// Replication capability, sent by the Noise responder.
        REPLICATE_RESPONDER = "0438492d02970cc13528ac0262bca0074e0926260256865accc0bf15bd79127d"
    );
    ns_const!(
        /// Prefix of the manifest hash.
        MANIFEST = "e64b7108eacce47cfc61ac850568f55f8b15b82ec5ed78c4ec597b036e2a1498"
    );
    ns_const!(
        /// Default `namespace` of a manifest signer.
        DEFAULT_NAMESPACE = "4144eea531e483d54e0c14f4ca68e0644f355343ff6fcb0f005200e12cd747cb"
    );
    ns_const!(
        /// Block-key derivation for encrypted manifest-mode cores.
        DEFAULT_ENCRYPTION = "9aedb6f1dea8487cc1e1698f97eb2f063f6db4c649695622e7b675e2ceafa6e9"
    );
}

/// The discovery key of a core: BLAKE2b-256 keyed with the core key, of `"hypercore"`.
#[must_use]
pub fn discovery_key(key: &[u8; 32]) -> Hash {
    blake2b256_keyed(key, &[b"hypercore"])
}

/// The replication capability a peer sends for `key`: BLAKE2b-256 keyed with the Noise
/// handshake hash (64 bytes) of `ns(1 or 2) ‖ key`, by the *sender's* Noise role.
#[must_use]
pub fn capability(handshake_hash: &[u8], is_initiator: bool, key: &[u8; 32]) -> Hash {
    let ns = if is_initiator {
        &ns::REPLICATE_INITIATOR
    } else {
        &ns::REPLICATE_RESPONDER
    };
    blake2b256_keyed(handshake_hash, &[ns, key])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_match_constants() {
        let computed: [Hash; 6] = namespace("hypercore");
        assert_eq!(
            computed,
            [
                ns::TREE,
                ns::REPLICATE_INITIATOR,
                ns::REPLICATE_RESPONDER,
                ns::MANIFEST,
                ns::DEFAULT_NAMESPACE,
                ns::DEFAULT_ENCRYPTION
            ]
        );
        assert_eq!(blake2b256(&[&[2]]), EMPTY_TREE_HASH);
    }

    #[test]
    fn preimages_hash_to_the_streamed_hashes() {
        let a = leaf(0, b"left");
        let b = leaf(1, b"right!");
        assert_eq!(blake2b256(&[&leaf_preimage(b"left")]), a.hash);
        assert_eq!(parent_preimage(&a, &b), parent_preimage(&b, &a));
        assert_eq!(blake2b256(&[&parent_preimage(&b, &a)]), parent(&a, &b).hash);
        let roots = [parent(&a, &b), leaf(2, b"x")];
        assert_eq!(tree_hash_preimage(&roots).len(), 97);
        assert_eq!(
            blake2b256(&[&tree_hash_preimage(&roots)]),
            tree_hash(&roots)
        );
    }
}
