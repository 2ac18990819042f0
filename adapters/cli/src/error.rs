//! The CLI's error type, and the exit code each kind of failure maps to.

/// Exit codes of the `ferrocore` binary (also listed under `ferrocore --help`).
pub mod exit {
    /// Success (also after SIGTERM/SIGINT for `serve` and `clone --live`).
    pub const OK: u8 = 0;
    /// Any error without a code of its own: no core in DIR, a core exists already, a
    /// read-only core, a wrong encryption key, a storage failure, ...
    pub const ERROR: u8 = 1;
    /// Bad arguments (clap's own code for usage errors).
    pub const USAGE: u8 = 2;
    /// The block is not stored locally (`get`, `bee`), the peer's core has no such block
    /// (`clone --blocks`), or the key is absent (`bee get`).
    pub const NOT_FOUND: u8 = 3;
    /// The peer misbehaved: data that failed verification, a wrong capability, malformed
    /// messages or a broken transport.
    pub const PEER: u8 = 4;
    /// Connecting or listening failed, or the connection was lost.
    pub const NETWORK: u8 = 5;
    /// `clone --timeout` passed.
    pub const TIMEOUT: u8 = 6;
    /// `bee`, `drive`: the core is not a hyperbee or drive (block 0 is not a hyperbee
    /// header), or its blocks are damaged.
    pub const NOT_A_BEE: u8 = 7;
    /// Added to the signal number when `clone` (without `--live`) is interrupted before
    /// it finished: 130 for SIGINT, 143 for SIGTERM.
    pub const SIGNAL_BASE: u8 = 128;
}

/// Why a command failed. Each variant has its exit code ([`Error::exit_code`]); the
/// message says what went wrong and, where it can, what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Exit 1: anything without a code of its own.
    #[error("{0}")]
    Failed(String),
    /// Exit 2: arguments that parse but make no sense together.
    #[error("{0}")]
    Usage(String),
    /// Exit 3: a block that is not there.
    #[error("{0}")]
    NotFound(String),
    /// Exit 4: the peer misbehaved.
    #[error("{0}")]
    Peer(String),
    /// Exit 5: a network failure.
    #[error("{0}")]
    Network(String),
    /// Exit 6: the time limit passed.
    #[error("{0}")]
    Timeout(String),
    /// Exit 7: the core is not a hyperbee (or drive), or its blocks are damaged.
    #[error("{0}")]
    NotABee(String),
    /// Exit 128 + the signal: interrupted before the command finished.
    #[error("interrupted by signal {0} before the command finished")]
    Interrupted(i32),
    /// Exit 1: reading stdin or writing stdout failed (a closed stdout is no error to
    /// report; see [`Error::is_broken_pipe`]).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The process exit code for this error.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Failed(_) | Error::Io(_) => exit::ERROR,
            Error::Usage(_) => exit::USAGE,
            Error::NotFound(_) => exit::NOT_FOUND,
            Error::Peer(_) => exit::PEER,
            Error::Network(_) => exit::NETWORK,
            Error::Timeout(_) => exit::TIMEOUT,
            Error::NotABee(_) => exit::NOT_A_BEE,
            Error::Interrupted(signal) => u8::try_from(*signal)
                .ok()
                .and_then(|s| exit::SIGNAL_BASE.checked_add(s))
                .unwrap_or(exit::ERROR),
        }
    }

    /// True if writing to stdout failed because its reader went away (`ferrocore cat |
    /// head`): the binary then exits quietly.
    #[must_use]
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}
