//! Parsing keys from the command line.
//!
//! A core key is accepted as 64 hex characters (either case) or as its 52-character
//! z-base-32 id, the form [`Log::id`](ferrocore::Log::id) prints (decoded by
//! [`ferrocore::id::decode_key`], which is strict: every character in the alphabet, zero
//! padding bits). An encryption key is 64 hex characters.
//!
//! ```
//! use ferrocore_cli::keys::{parse_encryption_key, parse_key};
//!
//! let key = [0xab; 32];
//! let id = ferrocore::id::core_id(&key);
//! assert_eq!(parse_key(&id), Ok(key));
//! assert_eq!(parse_key(&"AB".repeat(32)), Ok(key));
//! assert!(parse_key("abcd").is_err());
//! assert!(parse_encryption_key(&id).is_err()); // z-base-32 is for core keys only
//! ```

use ferrocore::id::{self, IdError};

/// Parses a core key: 64 hex characters or a 52-character z-base-32 id.
///
/// # Errors
/// A message saying what is wrong (length, a bad character and where).
pub fn parse_key(s: &str) -> Result<[u8; 32], String> {
    let s = s.trim();
    id::decode_key(s).map_err(|e| match e {
        IdError::InvalidKeyLength(n) => {
            format!("expected 64 hex characters or a 52-character z-base-32 id, got {n} characters")
        }
        IdError::InvalidHex(at) => format!("not hex: bad character at position {at}"),
        IdError::InvalidCharacter {
            position,
            character,
        } => format!(
            "not z-base-32: {character:?} at position {position} is not in the alphabet \
             (ybndrfg8ejkmcpqxot1uwisza345h769; z-base-32 ids are lower case)"
        ),
        IdError::NonCanonical => {
            "not a z-base-32 key: the last character has non-zero padding bits".to_owned()
        }
        other => other.to_string(),
    })
}

/// Parses a 32-byte encryption key: exactly 64 hex characters (either case).
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_encryption_key(s: &str) -> Result<[u8; 32], String> {
    let s = s.trim();
    if s.len() != 64 {
        return Err(format!(
            "expected 64 hex characters (32 bytes), got {} characters",
            s.len()
        ));
    }
    let mut key = [0u8; 32];
    hex::decode_to_slice(s, &mut key).map_err(|e| format!("not hex: {e}"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_hex_and_z32() {
        for seed in 0..=255u8 {
            let key: [u8; 32] = core::array::from_fn(|i| seed.wrapping_mul(31) ^ (i as u8));
            assert_eq!(parse_key(&hex::encode(key)), Ok(key));
            assert_eq!(parse_key(&hex::encode_upper(key)), Ok(key));
            assert_eq!(parse_key(&id::core_id(&key)), Ok(key));
        }
    }

    #[test]
    fn bad_keys_say_why() {
        assert!(parse_key("").unwrap_err().contains("got 0 characters"));
        assert!(parse_key(&"g".repeat(64)).unwrap_err().contains("not hex"));
        let upper = id::core_id(&[7; 32]).to_uppercase();
        assert!(parse_key(&upper).unwrap_err().contains("not z-base-32"));
        // 'b' (value 1) in the last position sets a padding bit (a 32-byte key leaves 4).
        let mut noncanonical = id::core_id(&[0; 32]);
        noncanonical.pop();
        noncanonical.push('b');
        assert!(parse_key(&noncanonical).unwrap_err().contains("padding"));
        assert!(parse_encryption_key("00").is_err());
        assert!(parse_encryption_key(&"zz".repeat(32)).is_err());
        assert_eq!(parse_encryption_key(&"0A".repeat(32)), Ok([10; 32]));
    }
}
