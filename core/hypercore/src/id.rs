//! Core ids: z-base-32 (`z32@1.1.0`) and the key formats of `hypercore-id-encoding`.
//!
//! z-base-32 takes the bits most-significant first, 5 at a time, with the alphabet
//! `ybndrfg8ejkmcpqxot1uwisza345h769`; a final partial group is padded with zero bits; there
//! are no padding characters. A 32-byte key is 52 characters.
//!
//! ```
//! use ferrocore::id;
//!
//! assert_eq!(id::z32_encode(b"hello"), "pb1sa5dx");
//! assert_eq!(id::z32_decode("pb1sa5dx").unwrap(), b"hello");
//!
//! let key = [0x42; 32];
//! let core_id = id::core_id(&key);
//! assert_eq!(core_id.len(), 52);
//! assert_eq!(id::decode_key(&core_id).unwrap(), key);
//! assert_eq!(id::decode_key(&"42".repeat(32)).unwrap(), key);
//! assert_eq!(id::decode_key(&format!("pear://{core_id}/app")).unwrap(), key);
//! assert!(id::decode_key("not a key").is_err());
//! ```

use alloc::string::String;
use alloc::vec::Vec;

/// The z-base-32 alphabet.
pub const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// Length of the z-base-32 form of a 32-byte key.
pub const KEY_Z32_LEN: usize = 52;

/// Why a string is not a valid z-base-32 string or key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// A character outside the z-base-32 alphabet (upper case included).
    #[error("invalid z-base-32 character {character:?} at position {position}")]
    InvalidCharacter {
        /// Byte offset in the string.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// A length no encoder produces (5, 3 or 1 bits left over after the last whole byte
    /// would need a character that carries no data).
    #[error("invalid z-base-32 length {0}")]
    InvalidLength(usize),
    /// The padding bits of the last character are not zero (the string is not the canonical
    /// encoding of any bytes).
    #[error("non-zero padding bits in the last z-base-32 character")]
    NonCanonical,
    /// A 64-character key that is not hexadecimal.
    #[error("invalid hex character at position {0}")]
    InvalidHex(usize),
    /// Neither a 52-character z-base-32 key, a 64-character hex key nor `pear://<key>/…`.
    #[error("not a hypercore key: expected 52 z-base-32 or 64 hex characters, got {0}")]
    InvalidKeyLength(usize),
}

/// z-base-32 encoding of any bytes (`z32.encode`).
#[must_use]
pub fn z32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let mut acc: u16 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | u16::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[usize::from((acc >> bits) & 31)]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[usize::from((acc << (5 - bits)) & 31)]));
    }
    out
}

/// The 5-bit value of the character at byte `position` of `s`.
fn quintet(s: &str, position: usize, c: u8) -> Result<u16, IdError> {
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .map(|v| v as u16)
        .ok_or_else(|| IdError::InvalidCharacter {
            position,
            // Every earlier byte was an ASCII alphabet character, so `position` is a char
            // boundary.
            character: s
                .get(position..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or(char::REPLACEMENT_CHARACTER),
        })
}

/// Decodes z-base-32 (`z32.decode`), strictly: every character must be in the alphabet, the
/// length must be one an encoder produces and the padding bits must be zero, so
/// `z32_encode(z32_decode(s)?) == s`. (The JS decoder is laxer: it ignores non-zero padding
/// bits and reads one character past the end for lengths ≡ 1, 3, 6 mod 8.)
///
/// # Errors
/// [`IdError::InvalidCharacter`], [`IdError::InvalidLength`], [`IdError::NonCanonical`].
pub fn z32_decode(s: &str) -> Result<Vec<u8>, IdError> {
    let bytes = s.as_bytes();
    let leftover = (bytes.len() * 5) % 8;
    // A trailing character contributes 5 bits; if 5 or more bits are left over, a whole
    // character carried no data, which no encoder produces.
    if leftover >= 5 {
        return Err(IdError::InvalidLength(bytes.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() * 5 / 8);
    let mut acc: u16 = 0;
    let mut bits = 0u32;
    for (i, &c) in bytes.iter().enumerate() {
        acc = (acc << 5) | quintet(s, i, c)?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if acc != 0 {
        return Err(IdError::NonCanonical);
    }
    Ok(out)
}

/// The id of a core: the z-base-32 form of its 32-byte key (52 characters).
#[must_use]
pub fn core_id(key: &[u8; 32]) -> String {
    z32_encode(key)
}

/// Parses a key the way `hypercore-id-encoding` does: a 52-character z-base-32 id, a
/// 64-character hex string (either case), or either of those after `pear://` and up to the
/// next `/`.
///
/// # Errors
/// [`IdError::InvalidKeyLength`] for any other length, else the z-base-32 or hex error.
pub fn decode_key(s: &str) -> Result<[u8; 32], IdError> {
    let s = match s.strip_prefix("pear://") {
        Some(rest) => rest.split('/').next().unwrap_or(rest),
        None => s,
    };
    let mut key = [0u8; 32];
    match s.len() {
        KEY_Z32_LEN => key.copy_from_slice(&z32_decode(s)?),
        64 => {
            for (i, (pair, out)) in s.as_bytes().chunks_exact(2).zip(key.iter_mut()).enumerate() {
                let hi = hex_digit(pair[0]).ok_or(IdError::InvalidHex(2 * i))?;
                let lo = hex_digit(pair[1]).ok_or(IdError::InvalidHex(2 * i + 1))?;
                *out = (hi << 4) | lo;
            }
        }
        n => return Err(IdError::InvalidKeyLength(n)),
    }
    Ok(key)
}

/// The canonical id of any accepted key string (`hypercore-id-encoding` `normalize`).
///
/// # Errors
/// As [`decode_key`].
pub fn normalize(s: &str) -> Result<String, IdError> {
    decode_key(s).map(|k| core_id(&k))
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for n in 0..=40usize {
            let data: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
            let s = z32_encode(&data);
            assert_eq!(s.len(), (n * 8).div_ceil(5));
            assert_eq!(z32_decode(&s).unwrap(), data);
        }
    }

    #[test]
    fn rejects() {
        assert_eq!(
            z32_decode("yyyA"),
            Err(IdError::InvalidCharacter {
                position: 3,
                character: 'A'
            })
        );
        assert_eq!(z32_decode("y"), Err(IdError::InvalidLength(1)));
        assert_eq!(z32_decode("yyy"), Err(IdError::InvalidLength(3)));
        assert_eq!(z32_decode("yyyyyy"), Err(IdError::InvalidLength(6)));
        // "yb": the second character's low 2 bits are padding; "b" = 1 sets one of them.
        assert_eq!(z32_decode("yb"), Err(IdError::NonCanonical));
        assert!(matches!(
            z32_decode("yyyé"),
            Err(IdError::InvalidCharacter {
                position: 3,
                character: 'é'
            })
        ));
        let id = core_id(&[7; 32]);
        assert_eq!(decode_key(&id[..51]), Err(IdError::InvalidKeyLength(51)));
        let mut bad_hex = "ab".repeat(32);
        bad_hex.replace_range(10..11, "g");
        assert_eq!(decode_key(&bad_hex), Err(IdError::InvalidHex(10)));
        assert_eq!(decode_key("pear://"), Err(IdError::InvalidKeyLength(0)));
        assert_eq!(
            decode_key(&alloc::format!("pear://{}", "AB".repeat(32))),
            Ok([0xab; 32])
        );
        assert_eq!(normalize(&"ab".repeat(32)), Ok(core_id(&[0xab; 32])));
    }
}
