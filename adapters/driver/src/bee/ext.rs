//! The `hyperbee` extension in the driver: the responder registered on a bee's core when
//! the bee opens (as JS registers it for every open Hyperbee), the downloads a `Cache`
//! reply names, and the requests a read broadcasts when it waits for a remote block (see
//! `ferrocore_hyperbee::ext` for both sides' logic).

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::{CoreId, Endpoint, SessionId};
use ferrocore::storage::Storage;
use ferrocore::wire::bee::Extension;
use ferrocore_hyperbee::ext::{self, Responder, MAX_ACTIVE_BATCH, NAME};
use ferrocore_hyperbee::{Diff, Get, GetBySeq, History, Range, Write};

use super::run::Shared;

/// Largest extension message handled (a key, bounds and a checkpoint fit many times over;
/// bigger ones are dropped unread).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Messages a bee handles at once before the rate applies ([`MESSAGES_PER_SECOND`]);
/// the rest are dropped unread.
pub const MESSAGE_BURST: u32 = 256;

/// Messages a bee handles per second, sustained, from all its peers together (each
/// request may cost [`MAX_ACTIVE_BATCH`] block reads, each `Cache` a download).
pub const MESSAGES_PER_SECOND: u32 = 128;

/// How long the download of the blocks a `Cache` reply names may take.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// What a read broadcasts on the `hyperbee` extension when it waits for a remote block.
pub trait ExtensionHint {
    /// Blocks the read must ask between two requests (`u64::MAX`: one request only).
    const EVERY: u64 = u64::MAX;

    /// The request for the read's current state, if it has one.
    fn request(&self) -> Option<Extension> {
        None
    }
}

impl ExtensionHint for Get {
    fn request(&self) -> Option<Extension> {
        Some(self.extension_request())
    }
}

impl ExtensionHint for Range {
    const EVERY: u64 = ext::MAX_PASSIVE_BATCH;

    fn request(&self) -> Option<Extension> {
        ext::iterator_request(self)
    }
}

impl ExtensionHint for Write {}
impl ExtensionHint for GetBySeq {}
impl ExtensionHint for History {}
impl ExtensionHint for Diff {}
impl ExtensionHint for ferrocore_hyperbee::linked::Linked {}

/// Sends `message` to every peer replicating `core`.
pub(crate) fn broadcast<S: Storage>(ep: &mut Endpoint<S>, core: CoreId, message: &Extension) {
    let bytes = ext::encode_message(message);
    for session in ep.peers(core) {
        let _ = ep.send_extension(session, core, NAME, &bytes);
    }
}

/// The handler registered for a bee's core: live while the bee is.
pub(crate) fn handler<S: Storage>(
    core: CoreId,
    shared: &Arc<Shared>,
) -> impl FnMut(&mut Endpoint<S>, SessionId, &Bytes, Duration) -> bool + Send + 'static {
    let bee: Weak<Shared> = Arc::downgrade(shared);
    let mut bucket = Bucket::default();
    move |ep, session, message, now| {
        if bee.strong_count() == 0 {
            return false;
        }
        if bucket.take(now) {
            on_message(ep, core, session, message, now);
        }
        true
    }
}

/// A token bucket: [`MESSAGE_BURST`] tokens, refilled at [`MESSAGES_PER_SECOND`].
#[derive(Debug, Default)]
struct Bucket {
    /// The time the tokens spent pay off, plus a burst's worth: the bucket is empty when
    /// this is a burst ahead of now.
    busy: Option<Duration>,
}

impl Bucket {
    fn take(&mut self, now: Duration) -> bool {
        let per = Duration::from_secs(1) / MESSAGES_PER_SECOND;
        let busy = self.busy.map_or(now, |b| b.max(now));
        if busy >= now + per * MESSAGE_BURST {
            return false;
        }
        self.busy = Some(busy + per);
        true
    }
}

/// One message of a peer: a `Cache` reply is downloaded, requests are answered to the
/// sender. Garbage and oversized messages are dropped; a request costs at most
/// [`MAX_ACTIVE_BATCH`] (and a few) local block reads.
pub(crate) fn on_message<S: Storage>(
    ep: &mut Endpoint<S>,
    core: CoreId,
    session: SessionId,
    message: &Bytes,
    now: Duration,
) {
    if message.len() > MAX_MESSAGE {
        return;
    }
    let Some(m) = ext::decode_message(message) else {
        return;
    };
    let Some(log) = ep.log(core) else { return };
    let length = log.length();
    if let Some(cache) = &m.cache {
        let blocks = ext::blocks_to_download(cache, length, MAX_ACTIVE_BATCH, |s| log.has_block(s));
        if !blocks.is_empty() {
            let _ = ep.download_blocks(core, &blocks, Some(now + DOWNLOAD_TIMEOUT));
        }
    }
    for r in Responder::for_message(&m, length) {
        let Some(log) = ep.log(core) else { return };
        let replies = r.run(|seq| log.get(seq).ok().flatten());
        for cache in replies {
            let reply = Extension {
                cache: Some(cache),
                ..Extension::default()
            };
            let _ = ep.send_extension(session, core, NAME, &ext::encode_message(&reply));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_lets_a_burst_through_then_the_rate() {
        let mut b = Bucket::default();
        let t0 = Duration::from_millis(5);
        let burst = (0..1000).filter(|_| b.take(t0)).count();
        assert_eq!(burst, MESSAGE_BURST as usize);
        // One more per 1/128 s (a token under way counts: 12.8 is 13).
        let t1 = t0 + Duration::from_millis(100);
        let more = (0..1000).filter(|_| b.take(t1)).count();
        assert_eq!(more, 13);
        // Idle for long: a full burst again, no more.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!(
            (0..1000).filter(|_| b.take(t2)).count(),
            MESSAGE_BURST as usize
        );
    }
}
