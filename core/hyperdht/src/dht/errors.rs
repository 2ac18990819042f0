//! HyperDHT's typed errors with the JavaScript error codes (`hyperdht@6.34.0`
//! `lib/errors.js`, plus the `dht-rpc@6.27.0` ones its operations surface). Callers that key
//! on codes (Hyperswarm does, e.g. to decide to force relaying) use [`DhtError::code`];
//! [`Display`](core::fmt::Display) prints `CODE: message` as JS's `DHTError` does.

/// An error of a HyperDHT operation or connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DhtError {
    /// `BAD_HANDSHAKE_REPLY`: a routed handshake's reply was malformed or came from elsewhere.
    #[error("BAD_HANDSHAKE_REPLY: Bad handshake reply")]
    BadHandshakeReply,
    /// `BAD_HOLEPUNCH_REPLY`: a routed holepunch's reply was malformed or came from elsewhere.
    #[error("BAD_HOLEPUNCH_REPLY: Bad holepunch reply")]
    BadHolepunchReply,
    /// `HOLEPUNCH_ABORTED`.
    #[error("HOLEPUNCH_ABORTED: Holepunch aborted")]
    HolepunchAborted,
    /// `HOLEPUNCH_INVALID`: a holepunch payload did not open or decode.
    #[error("HOLEPUNCH_INVALID: Invalid holepunch payload")]
    HolepunchInvalid,
    /// `HOLEPUNCH_PROBE_TIMEOUT`.
    #[error("HOLEPUNCH_PROBE_TIMEOUT: Holepunching probe did not finish in time")]
    HolepunchProbeTimeout,
    /// `HOLEPUNCH_DOUBLE_RANDOMIZED_NATS`.
    #[error("HOLEPUNCH_DOUBLE_RANDOMIZED_NATS: Both remote and local NATs are randomized")]
    HolepunchDoubleRandomizedNats,
    /// `CANNOT_HOLEPUNCH`.
    #[error("CANNOT_HOLEPUNCH: Cannot holepunch to remote")]
    CannotHolepunch,
    /// `REMOTE_NOT_HOLEPUNCHING`.
    #[error("REMOTE_NOT_HOLEPUNCHING: Remote is not holepunching")]
    RemoteNotHolepunching,
    /// `REMOTE_NOT_HOLEPUNCHABLE`.
    #[error("REMOTE_NOT_HOLEPUNCHABLE: Remote is not holepunchable")]
    RemoteNotHolepunchable,
    /// `REMOTE_ABORTED`.
    #[error("REMOTE_ABORTED: Remote aborted")]
    RemoteAborted,
    /// `HANDSHAKE_UNFINISHED`.
    #[error("HANDSHAKE_UNFINISHED: Handshake did not finish")]
    HandshakeUnfinished,
    /// `HANDSHAKE_INVALID`.
    #[error("HANDSHAKE_INVALID: Received invalid handshake")]
    HandshakeInvalid,
    /// `ALREADY_LISTENING`.
    #[error("ALREADY_LISTENING: Already listening")]
    AlreadyListening,
    /// `KEYPAIR_ALREADY_USED`.
    #[error("KEYPAIR_ALREADY_USED: Keypair already used")]
    KeypairAlreadyUsed,
    /// `NODE_DESTROYED`: the node was destroyed while the operation ran.
    #[error("NODE_DESTROYED: Node destroyed")]
    NodeDestroyed,
    /// `PEER_CONNECTION_FAILED`.
    #[error("PEER_CONNECTION_FAILED: Could not connect to peer")]
    PeerConnectionFailed,
    /// `PEER_NOT_FOUND`.
    #[error("PEER_NOT_FOUND: Peer not found")]
    PeerNotFound,
    /// `STREAM_NOT_CONNECTED`.
    #[error("STREAM_NOT_CONNECTED: Stream is not connected")]
    StreamNotConnected,
    /// `SERVER_INCOMPATIBLE`.
    #[error("SERVER_INCOMPATIBLE: Server is using an incompatible version")]
    ServerIncompatible,
    /// `SERVER_ERROR`.
    #[error("SERVER_ERROR: Server returned an error")]
    ServerError,
    /// `DUPLICATE_CONNECTION`.
    #[error("DUPLICATE_CONNECTION: Duplicate connection")]
    DuplicateConnection,
    /// `RELAY_ABORTED`.
    #[error("RELAY_ABORTED: Relay aborted")]
    RelayAborted,
    /// `SUSPENDED`.
    #[error("SUSPENDED: Suspended")]
    Suspended,
    /// dht-rpc `REQUEST_TIMEOUT`: a request got no reply after its resends (a committing
    /// operation whose every commit request timed out ends with it, as JS's does).
    #[error("REQUEST_TIMEOUT: Request timed out")]
    RequestTimeout,
    /// dht-rpc `REQUEST_DESTROYED`: a request was cancelled.
    #[error("REQUEST_DESTROYED: Request destroyed")]
    RequestDestroyed,
    /// dht-rpc `IO_SUSPENDED`.
    #[error("IO_SUSPENDED: I/O suspended")]
    IoSuspended,
    /// A committing query ended without any node to commit to (JS throws a plain
    /// `Error('Too few nodes responded')`, code [`TOO_FEW_NODES`]).
    #[error("Too few nodes responded")]
    TooFewNodes,
    /// A commit's closest node handed out no token (JS's plain `Error('No token received
    /// for closest node')`, code [`NO_TOKEN`]).
    #[error("No token received for closest node")]
    NoToken,
    /// The operation's deadline passed before it ended (ferrocore's own; JS operations
    /// have none). Code [`OPERATION_TIMEOUT`].
    #[error("OPERATION_TIMEOUT: Operation did not finish before its deadline")]
    OperationTimeout,
}

/// The code of [`DhtError::TooFewNodes`] (JS's error has no code; this is ours).
pub const TOO_FEW_NODES: &str = "TOO_FEW_NODES";
/// The code of [`DhtError::NoToken`] (JS's error has no code; this is ours).
pub const NO_TOKEN: &str = "NO_TOKEN";
/// The code of [`DhtError::OperationTimeout`] (ours; JS operations have no deadline).
pub const OPERATION_TIMEOUT: &str = "OPERATION_TIMEOUT";

impl DhtError {
    /// The error's code: JS's `err.code` for the errors JS has.
    #[must_use]
    pub fn code(&self) -> &'static str {
        use DhtError::*;
        match self {
            BadHandshakeReply => "BAD_HANDSHAKE_REPLY",
            BadHolepunchReply => "BAD_HOLEPUNCH_REPLY",
            HolepunchAborted => "HOLEPUNCH_ABORTED",
            HolepunchInvalid => "HOLEPUNCH_INVALID",
            HolepunchProbeTimeout => "HOLEPUNCH_PROBE_TIMEOUT",
            HolepunchDoubleRandomizedNats => "HOLEPUNCH_DOUBLE_RANDOMIZED_NATS",
            CannotHolepunch => "CANNOT_HOLEPUNCH",
            RemoteNotHolepunching => "REMOTE_NOT_HOLEPUNCHING",
            RemoteNotHolepunchable => "REMOTE_NOT_HOLEPUNCHABLE",
            RemoteAborted => "REMOTE_ABORTED",
            HandshakeUnfinished => "HANDSHAKE_UNFINISHED",
            HandshakeInvalid => "HANDSHAKE_INVALID",
            AlreadyListening => "ALREADY_LISTENING",
            KeypairAlreadyUsed => "KEYPAIR_ALREADY_USED",
            NodeDestroyed => "NODE_DESTROYED",
            PeerConnectionFailed => "PEER_CONNECTION_FAILED",
            PeerNotFound => "PEER_NOT_FOUND",
            StreamNotConnected => "STREAM_NOT_CONNECTED",
            ServerIncompatible => "SERVER_INCOMPATIBLE",
            ServerError => "SERVER_ERROR",
            DuplicateConnection => "DUPLICATE_CONNECTION",
            RelayAborted => "RELAY_ABORTED",
            Suspended => "SUSPENDED",
            RequestTimeout => "REQUEST_TIMEOUT",
            RequestDestroyed => "REQUEST_DESTROYED",
            IoSuspended => "IO_SUSPENDED",
            TooFewNodes => TOO_FEW_NODES,
            NoToken => NO_TOKEN,
            OperationTimeout => OPERATION_TIMEOUT,
        }
    }

    /// Whether Hyperswarm retries a connection that failed with this error through a relay
    /// (`shouldForceRelaying` in `hyperswarm@4.17.2`).
    #[must_use]
    pub fn forces_relaying(&self) -> bool {
        matches!(
            self,
            DhtError::HolepunchAborted
                | DhtError::HolepunchDoubleRandomizedNats
                | DhtError::CannotHolepunch
                | DhtError::RemoteNotHolepunchable
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn display_is_code_colon_message_as_js() {
        assert_eq!(DhtError::PeerNotFound.code(), "PEER_NOT_FOUND");
        assert_eq!(
            DhtError::PeerNotFound.to_string(),
            "PEER_NOT_FOUND: Peer not found"
        );
        assert_eq!(
            DhtError::RequestTimeout.to_string(),
            "REQUEST_TIMEOUT: Request timed out"
        );
        // every JS-coded error's message starts with its code
        for e in [
            DhtError::BadHandshakeReply,
            DhtError::HolepunchDoubleRandomizedNats,
            DhtError::Suspended,
            DhtError::NodeDestroyed,
            DhtError::OperationTimeout,
        ] {
            assert!(e.to_string().starts_with(e.code()));
        }
        assert!(DhtError::CannotHolepunch.forces_relaying());
        assert!(!DhtError::PeerNotFound.forces_relaying());
    }
}
