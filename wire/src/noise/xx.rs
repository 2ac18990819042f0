//! The XX pattern, as `@hyperswarm/secret-stream` runs it in-band.

use alloc::vec::Vec;

use super::keys::remote_point;
use super::symmetric::Symmetric;
use super::{is_peer_fault, key32};
use super::{
    HandshakeResult, KeyPair, NoiseError, Role, HASH_LEN, PROTOCOL_NAME, PUBLIC_KEY_LEN, TAG_LEN,
};

/// Where a handshake is in the XX pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Initiator: msg1 not written yet.
    Start,
    /// Initiator: waiting for msg2. Responder: waiting for msg1.
    AwaitSecond,
    /// Responder: waiting for msg3.
    AwaitThird,
    /// Complete.
    Done,
    /// Failed; nothing more is accepted.
    Failed,
}

/// One side of a Noise XX handshake, driven message by message.
pub struct Handshake {
    role: Role,
    step: Step,
    sym: Symmetric,
    s: KeyPair,
    e: KeyPair,
    /// The remote static key, once read.
    rs: Option<[u8; 32]>,
}

impl core::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Handshake")
            .field("role", &self.role)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// The initiator, with its static key pair and the seed of its ephemeral key pair.
    #[must_use]
    pub fn initiator(static_key: KeyPair, ephemeral_seed: [u8; 32]) -> Self {
        Self::new(Role::Initiator, static_key, ephemeral_seed)
    }

    /// The responder, with its static key pair and the seed of its ephemeral key pair.
    #[must_use]
    pub fn responder(static_key: KeyPair, ephemeral_seed: [u8; 32]) -> Self {
        Self::new(Role::Responder, static_key, ephemeral_seed)
    }

    /// A handshake for `role`.
    #[must_use]
    pub fn new(role: Role, static_key: KeyPair, ephemeral_seed: [u8; 32]) -> Self {
        Self {
            role,
            step: match role {
                Role::Initiator => Step::Start,
                Role::Responder => Step::AwaitSecond,
            },
            sym: Symmetric::new(PROTOCOL_NAME, b""),
            s: static_key,
            e: KeyPair::from_seed(ephemeral_seed),
            rs: None,
        }
    }

    /// This side's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current handshake hash (for tests against the reference's intermediate states).
    #[must_use]
    pub fn handshake_hash(&self) -> &[u8; HASH_LEN] {
        &self.sym.h
    }

    /// The current chaining key (for tests against the reference's intermediate states).
    #[must_use]
    pub fn chaining_key(&self) -> &[u8; HASH_LEN] {
        &self.sym.ck
    }

    /// Whether the handshake has completed.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// The exact length of the next message this side must read, or `None` when it reads
    /// nothing now (the initiator before writing, or a finished or failed handshake).
    #[must_use]
    pub fn expected_len(&self) -> Option<usize> {
        match (self.role, self.step) {
            (Role::Responder, Step::AwaitSecond) => Some(PUBLIC_KEY_LEN),
            (Role::Initiator, Step::AwaitSecond) => Some(2 * PUBLIC_KEY_LEN + 2 * TAG_LEN),
            (Role::Responder, Step::AwaitThird) => Some(PUBLIC_KEY_LEN + 2 * TAG_LEN),
            _ => None,
        }
    }

    /// Which message of the pattern (1, 2 or 3) this side reads next (0 when none).
    #[must_use]
    pub fn expected_message(&self) -> u8 {
        match (self.role, self.step) {
            (Role::Responder, Step::AwaitSecond) => 1,
            (Role::Initiator, Step::AwaitSecond) => 2,
            (Role::Responder, Step::AwaitThird) => 3,
            _ => 0,
        }
    }

    /// The initiator's first message (`e`, 32 bytes). Only once, only for the initiator.
    pub fn initial_message(&mut self) -> Result<Vec<u8>, NoiseError> {
        if self.role != Role::Initiator || self.step != Step::Start {
            return Err(NoiseError::Misuse(
                "initial_message is the initiator's first step",
            ));
        }
        let mut out = Vec::with_capacity(32);
        out.extend_from_slice(&self.e.public_key);
        self.sym.mix_hash(&self.e.public_key);
        self.sym.encrypt_and_hash(b"", &mut out);
        self.step = Step::AwaitSecond;
        Ok(out)
    }

    /// Reads the peer's next message; returns the reply to send, if the pattern has one.
    /// Any error leaves the handshake failed for good.
    pub fn read_message(&mut self, message: &[u8]) -> Result<Option<Vec<u8>>, NoiseError> {
        let result = match (self.role, self.step) {
            (Role::Responder, Step::AwaitSecond) => self.responder_read_first(message).map(Some),
            (Role::Initiator, Step::AwaitSecond) => self.initiator_read_second(message).map(Some),
            (Role::Responder, Step::AwaitThird) => {
                self.responder_read_third(message).map(|()| None)
            }
            (_, Step::Start) => Err(NoiseError::Misuse("the initiator writes first")),
            _ => Err(NoiseError::Misuse("the handshake is over")),
        };
        if is_peer_fault(&result) {
            self.step = Step::Failed;
        }
        result
    }

    /// The transport keys, once complete.
    pub fn finish(&self) -> Result<HandshakeResult, NoiseError> {
        if self.step != Step::Done {
            return Err(NoiseError::Misuse("the handshake is not complete"));
        }
        Ok(self
            .sym
            .result(self.role, self.s.public_key, self.rs.unwrap_or([0; 32])))
    }

    fn expect_len(message: &[u8], which: u8, expected: usize) -> Result<(), NoiseError> {
        if message.len() == expected {
            Ok(())
        } else {
            Err(NoiseError::BadLength {
                message: which,
                len: message.len(),
                expected,
            })
        }
    }

    /// Responder: `<- e`, then writes `-> e, ee, s, es`.
    fn responder_read_first(&mut self, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
        Self::expect_len(message, 1, PUBLIC_KEY_LEN)?;
        let re = key32(message);
        self.sym.mix_hash(&re);
        self.sym.decrypt_and_hash(b"")?;
        // The remote ephemeral key is checked once and used for two DHs.
        let re = remote_point(&re)?;

        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(&self.e.public_key);
        self.sym.mix_hash(&self.e.public_key);
        let ee = self.e.dh_point(&re)?;
        self.sym.mix_key(&ee);
        let s = self.s.public_key;
        self.sym.encrypt_and_hash(&s, &mut out);
        let es = self.s.dh_point(&re)?;
        self.sym.mix_key(&es);
        self.sym.encrypt_and_hash(b"", &mut out);
        self.step = Step::AwaitThird;
        Ok(out)
    }

    /// Initiator: `<- e, ee, s, es`, then writes `-> s, se` and completes.
    fn initiator_read_second(&mut self, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
        Self::expect_len(message, 2, PUBLIC_KEY_LEN + PUBLIC_KEY_LEN + 2 * TAG_LEN)?;
        let re_bytes = key32(&message[..32]);
        self.sym.mix_hash(&re_bytes);
        let re = remote_point(&re_bytes)?;
        let ee = self.e.dh_point(&re)?;
        self.sym.mix_key(&ee);
        let rs = key32(&self.sym.decrypt_and_hash(&message[32..80])?);
        let es = self.e.dh(&rs)?;
        self.sym.mix_key(&es);
        self.sym.decrypt_and_hash(&message[80..])?;
        self.rs = Some(rs);

        let mut out = Vec::with_capacity(64);
        let s = self.s.public_key;
        self.sym.encrypt_and_hash(&s, &mut out);
        let se = self.s.dh_point(&re)?;
        self.sym.mix_key(&se);
        self.sym.encrypt_and_hash(b"", &mut out);
        self.step = Step::Done;
        Ok(out)
    }

    /// Responder: `<- s, se`, and completes.
    fn responder_read_third(&mut self, message: &[u8]) -> Result<(), NoiseError> {
        Self::expect_len(message, 3, PUBLIC_KEY_LEN + 2 * TAG_LEN)?;
        let rs = key32(&self.sym.decrypt_and_hash(&message[..48])?);
        let se = self.e.dh(&rs)?;
        self.sym.mix_key(&se);
        self.sym.decrypt_and_hash(&message[48..])?;
        self.rs = Some(rs);
        self.step = Step::Done;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Handshake, Handshake) {
        (
            Handshake::initiator(KeyPair::from_seed([1; 32]), [3; 32]),
            Handshake::responder(KeyPair::from_seed([2; 32]), [4; 32]),
        )
    }

    #[test]
    fn every_flipped_bit_of_msg2_and_msg3_fails_the_handshake() {
        let (mut a, mut b) = pair();
        let m1 = a.initial_message().unwrap();
        let m2 = b.read_message(&m1).unwrap().unwrap();
        for bit in 0..m2.len() * 8 {
            let (mut a2, _) = pair();
            a2.initial_message().unwrap();
            let mut bad = m2.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(a2.read_message(&bad).is_err(), "bit {bit} of msg2");
            assert!(
                a2.read_message(&m2).is_err(),
                "a failed handshake stays failed"
            );
        }
        let m3 = a.read_message(&m2).unwrap().unwrap();
        for bit in 0..m3.len() * 8 {
            let (mut a3, mut b3) = pair();
            b3.read_message(&a3.initial_message().unwrap()).unwrap();
            let mut bad = m3.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(b3.read_message(&bad).is_err(), "bit {bit} of msg3");
        }
        assert!(b.read_message(&m3).unwrap().is_none());
        assert!(b.finish().is_ok());
    }

    #[test]
    fn wrong_lengths_and_order_are_typed() {
        let (mut a, mut b) = pair();
        assert!(matches!(b.initial_message(), Err(NoiseError::Misuse(_))));
        assert!(matches!(
            a.read_message(&[0; 96]),
            Err(NoiseError::Misuse(_))
        ));
        assert!(matches!(
            b.read_message(&[0; 31]),
            Err(NoiseError::BadLength {
                message: 1,
                len: 31,
                expected: 32
            })
        ));
        assert!(a.finish().is_err());
    }
}
