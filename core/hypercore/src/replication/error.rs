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
    /// More requests waiting for our output to drain than
    /// [`EndpointConfig::max_queued_requests`](super::EndpointConfig::max_queued_requests).
    #[error("too many outstanding requests on core {0:?}")]
    TooManyRequests(CoreId),
    /// More opens of cores we do not replicate (or duplicate opens) than
    /// [`EndpointConfig::max_unknown_opens`](super::EndpointConfig::max_unknown_opens).
    #[error("too many opens of unknown cores ({opens})")]
    TooManyUnknownCores {
        /// The opens refused or asked about, this one included.
        opens: u64,
    },
}

/// A failure of the socket (or other byte stream) under a session, seen by the caller and
/// reported with [`Endpoint::abort`](super::Endpoint::abort).
///
/// With `std::io`, map `ConnectionReset`, `ConnectionAborted`, `BrokenPipe` and
/// `UnexpectedEof` to [`Reset`](Self::Reset), `TimedOut` to [`TimedOut`](Self::TimedOut),
/// and anything else to [`Other`](Self::Other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The connection was reset or cut off (by the peer or the network).
    #[error("connection reset")]
    Reset,
    /// A socket read or write timed out.
    #[error("socket timed out")]
    TimedOut,
    /// The socket failed in another way.
    #[error("socket failed")]
    Other,
}

#[cfg(feature = "std")]
impl From<std::io::ErrorKind> for TransportError {
    fn from(kind: std::io::ErrorKind) -> Self {
        use std::io::ErrorKind as K;
        match kind {
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                TransportError::Reset
            }
            K::TimedOut => TransportError::TimedOut,
            _ => TransportError::Other,
        }
    }
}

impl TransportError {
    /// Whose fault it is: a reset is the peer's (or its network's), a timeout a timeout,
    /// any other failure ours.
    #[must_use]
    pub fn blame(&self) -> Blame {
        match self {
            TransportError::Reset => Blame::Peer,
            TransportError::TimedOut => Blame::Timeout,
            TransportError::Other => Blame::Local,
        }
    }
}

/// Why a session closed (see [`Event::Closed`](super::Event::Closed); a local
/// [`close`](super::Endpoint::close) reports no error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The encrypted stream or the mux failed: malformed or tampered bytes, a timeout, or
    /// misuse.
    #[error("transport: {0}")]
    Connection(#[from] ConnectionError),
    /// The socket failed, as the caller reported with
    /// [`Endpoint::abort`](super::Endpoint::abort).
    #[error("socket: {0}")]
    Transport(#[from] TransportError),
    /// The peer broke the replication protocol.
    #[error("peer misbehaved: {0}")]
    Peer(#[from] PeerError),
    /// The peer ended the stream (at a record boundary) before we closed the session. Our
    /// side was ended in order too: its last bytes are queued, write them before closing
    /// the socket.
    #[error("the peer ended the connection")]
    RemoteEnded,
}

impl SessionError {
    /// Whose fault it is: the peer's, a timeout, or ours (`Local` also covers the orderly
    /// [`RemoteEnded`](Self::RemoteEnded)).
    #[must_use]
    pub fn blame(&self) -> Blame {
        match self {
            SessionError::Connection(e) => e.blame(),
            SessionError::Transport(e) => e.blame(),
            SessionError::Peer(_) => Blame::Peer,
            SessionError::RemoteEnded => Blame::Local,
        }
    }

    /// True if the session ended in order ([`RemoteEnded`](Self::RemoteEnded)): its last
    /// bytes were queued and the socket should be shut down after writing them, not
    /// dropped.
    #[must_use]
    pub fn is_orderly(&self) -> bool {
        matches!(self, SessionError::RemoteEnded)
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
