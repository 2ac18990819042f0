//! The one error type of this crate: malformed bytes.

/// Why a byte string could not be decoded.
///
/// Every variant means the *input* is malformed (the peer's or the disk's fault, never the
/// caller's). Decoding never panics and never allocates more than the input justifies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the value did ("Out of bounds" in compact-encoding).
    #[error("unexpected end of input: needed {needed} more byte(s) at offset {offset}")]
    UnexpectedEnd {
        /// Offset at which the read started.
        offset: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// A `uint` / `uint64` larger than 2^53 − 1, which the JS reference cannot represent.
    #[error("integer {0} exceeds 2^53-1 (not representable by JS peers)")]
    IntegerTooLarge(u64),
    /// A value that does not fit the Rust type it decodes into (e.g. a length above `usize`).
    #[error("integer {0} out of range for this field")]
    IntegerOutOfRange(u64),
    /// An array count above the reference's limit of 0x100000 entries.
    #[error("array of {0} entries exceeds the limit of 1048576")]
    ArrayTooLarge(u64),
    /// A `string` that is not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A manifest version this implementation does not know.
    #[error("unsupported manifest version {0}")]
    UnsupportedManifestVersion(u64),
    /// A manifest hash algorithm id other than 0 (BLAKE2b).
    #[error("unknown hash algorithm id {0}")]
    UnknownHashAlgorithm(u64),
    /// A manifest signer algorithm id other than 0 (Ed25519).
    #[error("unknown signature algorithm id {0}")]
    UnknownSignatureAlgorithm(u64),
    /// A version-0 manifest type other than 0, 1 or 2.
    #[error("unknown version-0 manifest type {0}")]
    UnknownManifestType(u64),
    /// Bytes left over where the format requires the input to end exactly.
    #[error("{0} trailing byte(s) after the value")]
    TrailingBytes(usize),
    /// A structurally invalid value (the message says which rule was broken).
    #[error("invalid value: {0}")]
    Invalid(&'static str),
}
