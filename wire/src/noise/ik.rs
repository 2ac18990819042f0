//! The IK pattern, as hyperdht runs it while connecting to a peer whose key it knows:
//!
//! ```text
//! <- s                      (pre-message: the initiator knows the responder's key)
//! -> e, es, s, ss, payload
//! <- e, ee, se, payload
//! ```
//!
//! ```
//! use ferrocore_wire::noise::{IkHandshake, KeyPair};
//!
//! let server = KeyPair::from_seed([2; 32]);
//! let mut a = IkHandshake::initiator(KeyPair::from_seed([1; 32]), server.public_key, b"p", [3; 32]);
//! let mut b = IkHandshake::responder(server, b"p", [4; 32]);
//! let msg1 = a.write_message(b"hi").unwrap();
//! assert_eq!(b.read_message(&msg1).unwrap(), b"hi");
//! let msg2 = b.write_message(b"ho").unwrap();
//! assert_eq!(a.read_message(&msg2).unwrap(), b"ho");
//! let (a, b) = (a.finish().unwrap(), b.finish().unwrap());
//! assert_eq!((a.tx, a.rx, a.hash), (b.rx, b.tx, b.hash));
//! assert_eq!(b.remote_public_key, KeyPair::from_seed([1; 32]).public_key);
//! ```

use alloc::vec::Vec;

use super::keys::remote_point;
use super::symmetric::Symmetric;
use super::{is_peer_fault, key32};
use super::{
    HandshakeResult, KeyPair, NoiseError, Role, HASH_LEN, MAX_MESSAGE_LEN, PUBLIC_KEY_LEN, TAG_LEN,
};

/// The protocol name of the IK handshake, mixed into the initial handshake hash.
pub const IK_PROTOCOL_NAME: &[u8] = b"Noise_IK_Ed25519_ChaChaPoly_BLAKE2b";
/// The longest payload one IK message can carry: its ciphertext (payload and tag) may be
/// at most [`MAX_MESSAGE_LEN`] bytes, as `noise-handshake` enforces on both sides.
pub const MAX_PAYLOAD_LEN: usize = MAX_MESSAGE_LEN - TAG_LEN;

/// Message 1 before its payload: `e ‖ encrypted s`.
const FIRST_FIXED: usize = PUBLIC_KEY_LEN + PUBLIC_KEY_LEN + TAG_LEN;
/// Message 2 before its payload: `e`.
const SECOND_FIXED: usize = PUBLIC_KEY_LEN;

/// Where an IK handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Initiator: message 1 not written yet.
    WriteFirst,
    /// Initiator: waiting for message 2.
    ReadSecond,
    /// Responder: waiting for message 1.
    ReadFirst,
    /// Responder: message 1 read, message 2 not written yet.
    WriteSecond,
    /// Complete.
    Done,
    /// Failed; nothing more is accepted.
    Failed,
}

/// One side of a Noise IK handshake: two messages, each with a payload.
pub struct IkHandshake {
    role: Role,
    step: Step,
    sym: Symmetric,
    s: KeyPair,
    e: KeyPair,
    /// The remote ephemeral key, once read.
    re: Option<[u8; 32]>,
    /// The remote static key: the initiator knows it from the start, the responder learns
    /// it from message 1.
    rs: Option<[u8; 32]>,
}

impl core::fmt::Debug for IkHandshake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IkHandshake")
            .field("role", &self.role)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl IkHandshake {
    /// The initiator: its static key pair, the responder's static public key (the
    /// pre-message), the prologue both sides mix in, and the seed of its ephemeral key pair.
    /// The remote key is checked when message 1 is written.
    #[must_use]
    pub fn initiator(
        static_key: KeyPair,
        remote_static: [u8; 32],
        prologue: &[u8],
        ephemeral_seed: [u8; 32],
    ) -> Self {
        let mut sym = Symmetric::new(IK_PROTOCOL_NAME, prologue);
        sym.mix_hash(&remote_static);
        Self {
            role: Role::Initiator,
            step: Step::WriteFirst,
            sym,
            s: static_key,
            e: KeyPair::from_seed(ephemeral_seed),
            re: None,
            rs: Some(remote_static),
        }
    }

    /// The responder: its static key pair (which the initiator already knows), the
    /// prologue, and the seed of its ephemeral key pair.
    #[must_use]
    pub fn responder(static_key: KeyPair, prologue: &[u8], ephemeral_seed: [u8; 32]) -> Self {
        let mut sym = Symmetric::new(IK_PROTOCOL_NAME, prologue);
        sym.mix_hash(&static_key.public_key);
        Self {
            role: Role::Responder,
            step: Step::ReadFirst,
            sym,
            s: static_key,
            e: KeyPair::from_seed(ephemeral_seed),
            re: None,
            rs: None,
        }
    }

    /// This side's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current handshake hash.
    #[must_use]
    pub fn handshake_hash(&self) -> &[u8; HASH_LEN] {
        &self.sym.h
    }

    /// The remote static key: the initiator's from the start, the responder's once message
    /// 1 was read.
    #[must_use]
    pub fn remote_static(&self) -> Option<[u8; 32]> {
        self.rs
    }

    /// Whether the handshake has completed.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// Whether this side writes the next message.
    #[must_use]
    pub fn is_my_turn(&self) -> bool {
        matches!(self.step, Step::WriteFirst | Step::WriteSecond)
    }

    /// Writes this side's next message carrying `payload` (at most [`MAX_PAYLOAD_LEN`]
    /// bytes): message 1 for the initiator, message 2 for the responder, which completes
    /// the handshake.
    pub fn write_message(&mut self, payload: &[u8]) -> Result<Vec<u8>, NoiseError> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(NoiseError::PayloadTooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD_LEN,
            });
        }
        let result = match self.step {
            Step::WriteFirst => self.write_first(payload),
            Step::WriteSecond => self.write_second(payload),
            Step::ReadFirst | Step::ReadSecond => {
                Err(NoiseError::Misuse("it is the peer's turn to write"))
            }
            Step::Done | Step::Failed => Err(NoiseError::Misuse("the handshake is over")),
        };
        self.fail_on_error(result)
    }

    /// Reads the peer's message and returns its payload: message 1 for the responder,
    /// message 2 for the initiator, which completes the handshake. Any error but
    /// [`NoiseError::Misuse`] leaves the handshake failed for good.
    pub fn read_message(&mut self, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let result = match self.step {
            Step::ReadFirst => self.read_first(message),
            Step::ReadSecond => self.read_second(message),
            Step::WriteFirst | Step::WriteSecond => {
                Err(NoiseError::Misuse("it is this side's turn to write"))
            }
            Step::Done | Step::Failed => Err(NoiseError::Misuse("the handshake is over")),
        };
        self.fail_on_error(result)
    }

    /// The transport keys (`noise-handshake`'s `final()`: `tx`/`rx` from `Split()`, the
    /// handshake hash, the remote static key), once complete.
    pub fn finish(&self) -> Result<HandshakeResult, NoiseError> {
        let (Step::Done, Some(rs)) = (self.step, self.rs) else {
            return Err(NoiseError::Misuse("the handshake is not complete"));
        };
        Ok(self.sym.result(self.role, self.s.public_key, rs))
    }

    fn fail_on_error<T>(&mut self, result: Result<T, NoiseError>) -> Result<T, NoiseError> {
        if is_peer_fault(&result) {
            self.step = Step::Failed;
        }
        result
    }

    /// Initiator: `-> e, es, s, ss, payload`.
    fn write_first(&mut self, payload: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let rs = self.rs.ok_or(NoiseError::Misuse("no remote static key"))?;
        let rs_point = remote_point(&rs)?;
        let mut out = Vec::with_capacity(FIRST_FIXED + payload.len() + TAG_LEN);
        out.extend_from_slice(&self.e.public_key);
        self.sym.mix_hash(&self.e.public_key);
        let es = self.e.dh_point(&rs_point)?;
        self.sym.mix_key(&es);
        let s = self.s.public_key;
        self.sym.encrypt_and_hash(&s, &mut out);
        let ss = self.s.dh_point(&rs_point)?;
        self.sym.mix_key(&ss);
        self.sym.encrypt_and_hash(payload, &mut out);
        self.step = Step::ReadSecond;
        Ok(out)
    }

    /// Responder: `<- e, es, s, ss, payload`.
    fn read_first(&mut self, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let body = Self::check_len(message, 1, FIRST_FIXED)?;
        let re = key32(&message[..PUBLIC_KEY_LEN]);
        self.sym.mix_hash(&re);
        let es = self.s.dh(&re)?;
        self.sym.mix_key(&es);
        let rs = key32(
            &self
                .sym
                .decrypt_and_hash(&message[PUBLIC_KEY_LEN..FIRST_FIXED])?,
        );
        let ss = self.s.dh(&rs)?;
        self.sym.mix_key(&ss);
        let payload = self.sym.decrypt_and_hash(body)?;
        self.re = Some(re);
        self.rs = Some(rs);
        self.step = Step::WriteSecond;
        Ok(payload)
    }

    /// Responder: `-> e, ee, se, payload`; completes.
    fn write_second(&mut self, payload: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let (Some(re), Some(rs)) = (self.re, self.rs) else {
            return Err(NoiseError::Misuse("message 1 was not read"));
        };
        let mut out = Vec::with_capacity(SECOND_FIXED + payload.len() + TAG_LEN);
        out.extend_from_slice(&self.e.public_key);
        self.sym.mix_hash(&self.e.public_key);
        let ee = self.e.dh(&re)?;
        self.sym.mix_key(&ee);
        let se = self.e.dh(&rs)?;
        self.sym.mix_key(&se);
        self.sym.encrypt_and_hash(payload, &mut out);
        self.step = Step::Done;
        Ok(out)
    }

    /// Initiator: `<- e, ee, se, payload`; completes.
    fn read_second(&mut self, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let body = Self::check_len(message, 2, SECOND_FIXED)?;
        let re_bytes = key32(&message[..PUBLIC_KEY_LEN]);
        self.sym.mix_hash(&re_bytes);
        let re = remote_point(&re_bytes)?;
        let ee = self.e.dh_point(&re)?;
        self.sym.mix_key(&ee);
        let se = self.s.dh_point(&re)?;
        self.sym.mix_key(&se);
        let payload = self.sym.decrypt_and_hash(body)?;
        self.re = Some(re_bytes);
        self.step = Step::Done;
        Ok(payload)
    }

    /// The encrypted payload after the `fixed` bytes of message `which`, if the message is
    /// long enough to hold the fields and a tag and the payload's ciphertext is within the
    /// reference's limit.
    fn check_len(message: &[u8], which: u8, fixed: usize) -> Result<&[u8], NoiseError> {
        if message.len() < fixed + TAG_LEN {
            return Err(NoiseError::TooShort {
                message: which,
                len: message.len(),
                min: fixed + TAG_LEN,
            });
        }
        let body = &message[fixed..];
        if body.len() > MAX_MESSAGE_LEN {
            return Err(NoiseError::PayloadTooLarge {
                len: body.len(),
                max: MAX_MESSAGE_LEN,
            });
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROLOGUE: &[u8] = b"prologue";

    fn pair() -> (IkHandshake, IkHandshake) {
        let server = KeyPair::from_seed([2; 32]);
        (
            IkHandshake::initiator(
                KeyPair::from_seed([1; 32]),
                server.public_key,
                PROLOGUE,
                [3; 32],
            ),
            IkHandshake::responder(server, PROLOGUE, [4; 32]),
        )
    }

    #[test]
    fn both_sides_agree_and_learn_each_others_keys() {
        let (mut a, mut b) = pair();
        let m1 = a.write_message(b"one").unwrap();
        assert_eq!(m1.len(), FIRST_FIXED + 3 + TAG_LEN);
        assert_eq!(b.remote_static(), None);
        assert_eq!(b.read_message(&m1).unwrap(), b"one");
        assert_eq!(
            b.remote_static(),
            Some(KeyPair::from_seed([1; 32]).public_key)
        );
        let m2 = b.write_message(b"").unwrap();
        assert_eq!(m2.len(), SECOND_FIXED + TAG_LEN);
        assert!(a.read_message(&m2).unwrap().is_empty());
        let (ra, rb) = (a.finish().unwrap(), b.finish().unwrap());
        assert_eq!((ra.tx, ra.rx, ra.hash), (rb.rx, rb.tx, rb.hash));
        assert_ne!(ra.tx, ra.rx);
        assert_eq!(ra.remote_public_key, rb.public_key);
        assert_eq!(rb.remote_public_key, ra.public_key);
        assert_eq!((ra.role, rb.role), (Role::Initiator, Role::Responder));
    }

    #[test]
    fn a_different_prologue_or_responder_key_fails_message_1() {
        let (mut a, _) = pair();
        let m1 = a.write_message(b"x").unwrap();
        let mut other = IkHandshake::responder(KeyPair::from_seed([2; 32]), b"other", [4; 32]);
        assert_eq!(other.read_message(&m1), Err(NoiseError::Decrypt));
        let mut wrong = IkHandshake::responder(KeyPair::from_seed([5; 32]), PROLOGUE, [4; 32]);
        assert_eq!(wrong.read_message(&m1), Err(NoiseError::Decrypt));
    }

    #[test]
    fn every_flipped_bit_of_either_message_fails_the_handshake() {
        let (mut a, mut b) = pair();
        let m1 = a.write_message(b"abc").unwrap();
        for bit in 0..m1.len() * 8 {
            let (_, mut b1) = pair();
            let mut bad = m1.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(b1.read_message(&bad).is_err(), "bit {bit} of message 1");
            assert!(
                b1.read_message(&m1).is_err(),
                "a failed handshake stays failed"
            );
        }
        b.read_message(&m1).unwrap();
        let m2 = b.write_message(b"def").unwrap();
        for bit in 0..m2.len() * 8 {
            let (mut a2, _) = pair();
            a2.write_message(b"abc").unwrap();
            let mut bad = m2.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(a2.read_message(&bad).is_err(), "bit {bit} of message 2");
            assert!(a2.finish().is_err());
        }
        assert_eq!(a.read_message(&m2).unwrap(), b"def");
    }

    #[test]
    fn lengths_order_and_bad_keys_are_typed() {
        let (mut a, mut b) = pair();
        assert!(matches!(b.write_message(b""), Err(NoiseError::Misuse(_))));
        assert!(matches!(
            a.read_message(&[0; 48]),
            Err(NoiseError::Misuse(_))
        ));
        assert_eq!(
            b.read_message(&[0; 95]),
            Err(NoiseError::TooShort {
                message: 1,
                len: 95,
                min: 96
            })
        );
        assert!(matches!(
            b.read_message(&[0; 96]),
            Err(NoiseError::Misuse(_))
        ));
        let big = alloc::vec![0; MAX_PAYLOAD_LEN + 1];
        assert_eq!(
            a.write_message(&big),
            Err(NoiseError::PayloadTooLarge {
                len: MAX_PAYLOAD_LEN + 1,
                max: MAX_PAYLOAD_LEN
            })
        );
        // A payload at the limit is fine; the initiator is still usable after the refusal.
        let m1 = a.write_message(&big[1..]).unwrap();
        let (_, mut b2) = pair();
        assert_eq!(b2.read_message(&m1).unwrap().len(), MAX_PAYLOAD_LEN);
        let mut long = m1.clone();
        long.push(0);
        let (_, mut b3) = pair();
        assert!(matches!(
            b3.read_message(&long),
            Err(NoiseError::PayloadTooLarge { .. })
        ));
        let (_, mut b4) = pair();
        assert_eq!(b4.read_message(&m1[..96]), Err(NoiseError::Decrypt));
        // The identity as the responder's key: refused before anything is written.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut c = IkHandshake::initiator(KeyPair::from_seed([1; 32]), identity, b"", [3; 32]);
        assert_eq!(c.write_message(b""), Err(NoiseError::InvalidPublicKey));
        assert!(matches!(c.write_message(b""), Err(NoiseError::Misuse(_))));
    }
}
