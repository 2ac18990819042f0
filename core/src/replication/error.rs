//! Why a session ended or a request failed, split by blame.

use ferrocore_wire::connection::ConnectionError;
use ferrocore_wire::stream::Blame;
use ferrocore_wire::DecodeError;

use super::CoreId;
use crate::storage::StorageError;
use crate::ProofError;

/// A peer broke the replication protocol; the session is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The channel-open capability does not prove knowledge of the core key.
    #[error("wrong replication capability for core {0:?}")]
    BadCapability(CoreId),
    /// A channel-open handshake or a message could not be decoded.
    #[error("malformed message on core {core:?}: {error}")]
    Malformed {
        /// The core of the channel.
        core: CoreId,
        /// What was wrong.
        error: DecodeError,
    },
    /// A proof (block, upgrade, signature, manifest) failed verification: bad data, a bad
    /// signature, or a history that conflicts with the one we hold.
    #[error("invalid proof on core {core:?}: {error}")]
    InvalidProof {
        /// The core of the channel.
        core: CoreId,
        /// Why the proof was refused.
        error: ProofError,
    },
    /// Too many requests that cannot be answered (beyond the length, malformed ranges).
    #[error("too many invalid requests on core {0:?}")]
    TooManyInvalidRequests(CoreId),
}

/// Why a session closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The transport failed: malformed or tampered bytes, a timeout, or misuse.
    #[error("transport: {0}")]
    Connection(#[from] ConnectionError),
    /// The peer broke the replication protocol.
    #[error("peer misbehaved: {0}")]
    Peer(#[from] PeerError),
    /// The peer ended the connection.
    #[error("the peer ended the connection")]
    RemoteEnded,
    /// The application closed the session.
    #[error("closed locally")]
    Closed,
}

impl SessionError {
    /// Whose fault it is: the peer's, a timeout, or ours (`Local` also covers orderly ends).
    #[must_use]
    pub fn blame(&self) -> Blame {
        match self {
            SessionError::Connection(e) => e.blame(),
            SessionError::Peer(_) => Blame::Peer,
            SessionError::RemoteEnded | SessionError::Closed => Blame::Local,
        }
    }
}

/// Why an application request (get, download, update) ended without its result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Its deadline passed.
    #[error("deadline passed")]
    Timeout,
    /// The application cancelled it.
    #[error("cancelled")]
    Cancelled,
    /// The core was removed.
    #[error("core removed")]
    CoreRemoved,
    /// Local storage failed while reading the result.
    #[error("storage: {0}")]
    Storage(StorageError),
    /// The request could not be served (e.g. a local read failed for another reason).
    #[error("{0}")]
    Failed(crate::Error),
}
