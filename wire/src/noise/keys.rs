//! Ed25519 key pairs and the Edwards-point Diffie-Hellman of `noise-curve-ed`.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use super::NoiseError;

/// An Ed25519 key pair in libsodium's layout, used as a Noise static or ephemeral key.
#[derive(Clone)]
pub struct KeyPair {
    /// The compressed Edwards public key.
    pub public_key: [u8; 32],
    /// `seed ‖ public_key`, as libsodium's `crypto_sign_seed_keypair` lays it out.
    pub secret_key: [u8; 64],
}

impl core::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl Drop for KeyPair {
    fn drop(&mut self) {
        self.secret_key.zeroize();
    }
}

impl KeyPair {
    /// The key pair of a 32-byte seed (`crypto_sign_seed_keypair`).
    #[must_use]
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut scalar = secret_scalar(&seed);
        let public_key = EdwardsPoint::mul_base_clamped(scalar).compress().to_bytes();
        scalar.zeroize();
        let mut secret_key = [0u8; 64];
        secret_key[..32].copy_from_slice(&seed);
        secret_key[32..].copy_from_slice(&public_key);
        Self {
            public_key,
            secret_key,
        }
    }

    /// The seed half of the secret key.
    #[must_use]
    pub fn seed(&self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&self.secret_key[..32]);
        seed
    }

    /// `DH(self, remote)`: the remote Edwards point times this key's clamped secret scalar
    /// (libsodium `crypto_scalarmult_ed25519_noclamp`), compressed. The remote key must be
    /// a canonical encoding of a point of prime order, and the result not the identity, as
    /// libsodium requires.
    pub fn dh(&self, remote: &[u8; 32]) -> Result<[u8; 32], NoiseError> {
        self.dh_point(&remote_point(remote)?)
    }

    /// `DH(self, remote)` with a remote key [`remote_point`] already checked.
    pub(super) fn dh_point(&self, point: &EdwardsPoint) -> Result<[u8; 32], NoiseError> {
        let mut scalar = secret_scalar(&self.seed());
        let shared = point.mul_clamped(scalar);
        scalar.zeroize();
        if shared.is_small_order() {
            // Only the identity is both torsion-free and of small order.
            return Err(NoiseError::WeakSharedSecret);
        }
        Ok(shared.compress().to_bytes())
    }
}

/// A remote public key as a point, if it is a canonical encoding of a point of prime order
/// (as libsodium requires of `crypto_scalarmult_ed25519_noclamp`'s input).
pub(super) fn remote_point(remote: &[u8; 32]) -> Result<EdwardsPoint, NoiseError> {
    if !canonical_y(remote) {
        return Err(NoiseError::InvalidPublicKey);
    }
    let point = CompressedEdwardsY(*remote)
        .decompress()
        .ok_or(NoiseError::InvalidPublicKey)?;
    // (x = 0 with the sign bit set decodes to a point of small order, refused here.)
    if point.is_small_order() || !torsion_free(&point) {
        return Err(NoiseError::InvalidPublicKey);
    }
    Ok(point)
}

/// Whether the y coordinate of an encoded point is below p = 2^255 − 19 (libsodium's
/// `ge25519_is_canonical`), without decoding it.
fn canonical_y(encoded: &[u8; 32]) -> bool {
    // y ≥ p only if its top byte is 0x7f, the 30 below it 0xff and the lowest ≥ 0xed.
    !(encoded[31] & 0x7f == 0x7f && encoded[1..31].iter().all(|&b| b == 0xff) && encoded[0] >= 0xed)
}

/// Whether `[ℓ]P` is the identity, with ℓ the prime group order. The point is public, so
/// this runs in variable time: `[ℓ]P = [ℓ − 1]P + P`, where ℓ − 1 is a canonical scalar
/// and the multiplication is exact on its integer value (torsion components included).
fn torsion_free(point: &EdwardsPoint) -> bool {
    use curve25519_dalek::traits::IsIdentity;
    use curve25519_dalek::Scalar;
    let l_minus_one = -Scalar::ONE;
    let lp = EdwardsPoint::vartime_double_scalar_mul_basepoint(&l_minus_one, point, &Scalar::ZERO)
        + point;
    lp.is_identity()
}

/// The Ed25519 secret scalar bytes of a seed: the first half of SHA-512(seed), to be clamped
/// by the multiplication.
fn secret_scalar(seed: &[u8; 32]) -> [u8; 32] {
    let mut digest = Sha512::digest(seed);
    let mut scalar = [0u8; 32];
    scalar.copy_from_slice(&digest[..32]);
    digest.as_mut_slice().zeroize();
    scalar
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn small_order_and_non_canonical_keys_are_refused() {
        let kp = KeyPair::from_seed([9; 32]);
        // The identity point, and a point of order 2 (y = -1).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(kp.dh(&identity), Err(NoiseError::InvalidPublicKey));
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        assert_eq!(kp.dh(&minus_one), Err(NoiseError::InvalidPublicKey));
        // y = p + 1 is a non-canonical encoding of y = 1.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        assert_eq!(kp.dh(&non_canonical), Err(NoiseError::InvalidPublicKey));
        let other = KeyPair::from_seed([8; 32]);
        assert_eq!(kp.dh(&other.public_key), other.dh(&kp.public_key));
    }

    #[test]
    fn the_variable_time_subgroup_check_agrees_with_the_constant_time_one() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        for seed in 0..16u8 {
            let p = CompressedEdwardsY(KeyPair::from_seed([seed; 32]).public_key)
                .decompress()
                .unwrap();
            assert!(torsion_free(&p) && p.is_torsion_free());
            for t in &EIGHT_TORSION[1..] {
                let q = p + t;
                assert!(!torsion_free(&q) && !q.is_torsion_free());
                assert_eq!(
                    remote_point(&q.compress().to_bytes()).err(),
                    Some(NoiseError::InvalidPublicKey)
                );
            }
        }
        assert!(canonical_y(
            &[0xff; 31]
                .iter()
                .copied()
                .chain([0x7e])
                .collect::<Vec<_>>()
                .try_into()
                .unwrap()
        ));
        let mut p = [0xffu8; 32];
        p[31] = 0x7f;
        p[0] = 0xec;
        assert!(canonical_y(&p), "p - 1");
        p[0] = 0xed;
        assert!(!canonical_y(&p), "p");
        p[31] = 0xff;
        assert!(!canonical_y(&p), "p with the sign bit");
    }
}
