//! What an [`Endpoint`](super::Endpoint) reports.

use alloc::string::String;
use bytes::Bytes;

use super::{CoreId, RequestError, RequestId, SessionError, SessionId};

/// Something that happened; drained with [`Endpoint::poll_event`](super::Endpoint::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A session finished its Noise handshake.
    Connected {
        /// The session.
        session: SessionId,
        /// The peer's static public key.
        remote_public_key: [u8; 32],
    },
    /// A peer opened the replication channel of a core (capability verified).
    PeerAdded {
        /// The session.
        session: SessionId,
        /// The core.
        core: CoreId,
    },
    /// A peer opened a core we do not replicate (with
    /// [`EndpointConfig::ask_unknown_cores`](super::EndpointConfig::ask_unknown_cores)):
    /// its open waits until the application adds the core with this discovery key
    /// ([`add_core`](super::Endpoint::add_core), which pairs it) or refuses it
    /// ([`reject_core`](super::Endpoint::reject_core)). Reported once per discovery key
    /// while its open waits.
    UnknownCore {
        /// The session.
        session: SessionId,
        /// The discovery key the peer asked for.
        discovery_key: [u8; 32],
    },
    /// The application refused a peer's open of a core we do not replicate
    /// ([`reject_core`](super::Endpoint::reject_core), after [`Event::UnknownCore`]): the
    /// peer got a protomux `reject`. A corestore refuses the cores it does not hold with
    /// it, so this names the discovery keys peers asked for in vain.
    CoreRejected {
        /// The session.
        session: SessionId,
        /// The discovery key the peer asked for.
        discovery_key: [u8; 32],
    },
    /// A peer's channel for a core closed.
    PeerRemoved {
        /// The session.
        session: SessionId,
        /// The core.
        core: CoreId,
    },
    /// A session ended: nothing more is sent or received on it. Its requests to the peer
    /// were released (to be asked of other peers).
    ///
    /// `error` is `None` after a local [`close`](super::Endpoint::close) and
    /// [`SessionError::RemoteEnded`] when the peer ended the stream first: in both cases
    /// the session's last bytes were queued (write them, then shut the socket down; see
    /// [`SessionError::is_orderly`]). Any other error means the session failed: drop the
    /// socket.
    Closed {
        /// The session.
        session: SessionId,
        /// Why it ended, unless we closed it.
        error: Option<SessionError>,
    },
    /// The core's signed length grew (a local append or a verified upgrade from a peer).
    Append {
        /// The core.
        core: CoreId,
        /// The new length.
        length: u64,
        /// The fork.
        fork: u64,
    },
    /// The core was truncated (locally, or by adopting a peer's new fork).
    Truncate {
        /// The core.
        core: CoreId,
        /// Blocks kept.
        length: u64,
        /// The new fork.
        fork: u64,
    },
    /// A block received from a peer was verified and stored.
    Verified {
        /// The core.
        core: CoreId,
        /// The block index.
        index: u64,
    },
    /// A [`get`](super::Endpoint::get) ended.
    Get {
        /// The request.
        request: RequestId,
        /// The core.
        core: CoreId,
        /// The block index.
        index: u64,
        /// The block (decrypted), or why not.
        result: Result<Bytes, RequestError>,
    },
    /// A [`download`](super::Endpoint::download) ended.
    Download {
        /// The request.
        request: RequestId,
        /// The core.
        core: CoreId,
        /// Every block of the range is stored, or why not.
        result: Result<(), RequestError>,
    },
    /// An [`update`](super::Endpoint::update) ended with the length it found.
    Update {
        /// The request.
        request: RequestId,
        /// The core.
        core: CoreId,
        /// The length after the update, or why not.
        result: Result<u64, RequestError>,
    },
    /// An extension message arrived on a core's channel.
    Extension {
        /// The session.
        session: SessionId,
        /// The core.
        core: CoreId,
        /// The extension name.
        name: String,
        /// The message.
        message: Bytes,
    },
    /// Local storage failed while applying or serving data of a core; the data in question
    /// was not stored (and not acknowledged).
    StorageFailed {
        /// The core.
        core: CoreId,
        /// The failure.
        error: crate::Error,
    },
}
