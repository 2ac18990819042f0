//! A stream's configuration, randomness, errors and events.

use super::*;

/// How a stream behaves; [`Default`] matches hypercore's `replicate()` streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// Send an empty record after this long without sending anything (hypercore: 5 s).
    pub keep_alive: Option<Duration>,
    /// Fail if the handshake has not completed this long after the stream started.
    pub handshake_timeout: Option<Duration>,
    /// Fail if nothing at all arrives for this long once connected (off by default: a
    /// plain secret-stream peer need not send keep-alives).
    pub idle_timeout: Option<Duration>,
    /// The largest record body accepted from the peer (at most [`MAX_RECORD_LEN`], which
    /// is the default and the protocol's own limit). A larger length prefix fails the
    /// stream before its body is buffered.
    pub max_record_len: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            keep_alive: Some(Duration::from_secs(5)),
            handshake_timeout: Some(Duration::from_secs(10)),
            idle_timeout: None,
            max_record_len: MAX_RECORD_LEN,
        }
    }
}

/// The randomness one stream needs, drawn by the caller.
#[derive(Clone)]
pub struct Entropy {
    /// Seed of the ephemeral Noise key pair.
    pub ephemeral_seed: [u8; 32],
    /// This side's secretstream header.
    pub header: [u8; HEADER_LEN],
}

impl core::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Entropy { .. }")
    }
}

/// Who is to blame for a [`StreamError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The peer sent bytes that break the protocol (or were tampered with).
    Peer,
    /// The peer went silent past a deadline.
    Timeout,
    /// The caller used the API wrongly.
    Local,
}

/// Why a stream failed. Once failed, a stream stays failed: every later input is refused
/// with the same error and nothing more is transmitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The Noise handshake failed.
    #[error("handshake failed: {0}")]
    Handshake(#[from] NoiseError),
    /// A length prefix that is wrong for its place (the message says which).
    #[error("malformed stream: {0}")]
    Malformed(&'static str),
    /// A record longer than [`StreamConfig::max_record_len`].
    #[error("record of {len} bytes exceeds the limit of {max}")]
    Oversize {
        /// The announced body length.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The peer's header record named the wrong stream id (a different handshake).
    #[error("invalid header received: stream id mismatch")]
    StreamIdMismatch,
    /// A record failed authentication: corrupted or forged bytes.
    #[error("record failed authentication")]
    Decrypt,
    /// The handshake did not complete in time.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// Nothing arrived for [`StreamConfig::idle_timeout`].
    #[error("stream timed out")]
    IdleTimeout,
    /// A plaintext longer than [`MAX_MESSAGE_LEN`] was given to [`SecretStream::send`].
    #[error("message of {0} bytes exceeds the record limit")]
    MessageTooLarge(usize),
    /// [`SecretStream::send`] after [`SecretStream::end`].
    #[error("the stream was ended")]
    Ended,
    /// Bytes arrived after the peer ended its side.
    #[error("bytes after the remote end")]
    DataAfterEnd,
}

impl From<AuthError> for StreamError {
    fn from(_: AuthError) -> Self {
        StreamError::Decrypt
    }
}

impl StreamError {
    /// Who caused it.
    #[must_use]
    pub fn blame(&self) -> Blame {
        match self {
            StreamError::Handshake(NoiseError::Misuse(_))
            | StreamError::MessageTooLarge(_)
            | StreamError::Ended => Blame::Local,
            StreamError::HandshakeTimeout | StreamError::IdleTimeout => Blame::Timeout,
            _ => Blame::Peer,
        }
    }
}

/// What the handshake established, reported once by [`StreamEvent::Connected`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// The peer's static public key (its identity).
    pub remote_public_key: [u8; 32],
    /// This side's static public key.
    pub public_key: [u8; 32],
    /// The handshake hash (64 bytes): the same on both sides, unique to this connection
    /// (hypercore derives its capabilities from it).
    pub handshake_hash: [u8; 64],
    /// This side's role.
    pub role: Role,
}

/// What a stream reports, in order, through [`SecretStream::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// The handshake completed; messages can now flow both ways.
    Connected(Connected),
    /// One plaintext from the peer (keep-alives are not reported).
    Message(Bytes),
    /// The peer ended its side (the socket reported end of input). Nothing more arrives.
    RemoteEnded,
}
