//! The protomux state machine on arbitrary peer frames, interleaved with application
//! calls: it never panics, its bounds hold after every step, every frame it emits decodes,
//! and its events are consistent (a message or a close only for a channel that is open,
//! an `Opened` only for an unpaired channel of ours, nothing after a failure but closes).
//!
//! The input is a sequence of steps, each an op byte then its arguments:
//! * `op % 10` in 0..=4: a frame, `u16 LE length ‖ bytes`, fed to `handle_frame`;
//! * 5: answer the oldest open request (open with its protocol and id);
//! * 6: reject the oldest open request;
//! * 7: send on an open channel (`u8 pick ‖ u8 type ‖ u8 len`, payload of that length);
//! * 8: close an open channel (`u8 pick`);
//! * 9: cork, or uncork if corked; op 255: the stream ends.
#![no_main]

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use ferrocore_wire::mux::{ChannelId, CloseReason, Misuse, Mux, MuxConfig, MuxError, MuxEvent};
use ferrocore_wire::protomux::Frame;
use ferrocore_wire::Decode;

const CONFIG: MuxConfig = MuxConfig {
    max_channels: 8,
    max_buffered_bytes: 4096,
    max_pending_opens: 4,
    max_batch_entries: 64,
};

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

struct State {
    mux: Mux,
    /// Our channels that are open → paired?
    open: BTreeMap<ChannelId, bool>,
    /// Pending open requests as (protocol, id), oldest first.
    requests: VecDeque<(String, Option<Bytes>)>,
    corked: bool,
}

impl State {
    fn open(&mut self, protocol: &str, id: Option<&[u8]>, handshake: &[u8]) {
        match self.mux.open(protocol, id, handshake) {
            Ok(c) => {
                assert!(self.open.insert(c, false).is_none(), "channel id in use");
            }
            Err(MuxError::ApiMisuse(Misuse::Ended)) => assert!(self.mux.is_ended()),
            Err(MuxError::ApiMisuse(Misuse::TooManyChannels)) => {
                assert!(
                    self.mux.channel_count() + self.mux.pending_open_count() <= CONFIG.max_channels
                );
            }
            Err(e) => panic!("open: {e}"),
        }
    }

    /// Drains events and frames, checking both, and the bounds.
    fn drain(&mut self) {
        while let Some(e) = self.mux.poll_event() {
            match e {
                MuxEvent::OpenRequest { protocol, id, .. } => {
                    self.requests.push_back((protocol, id));
                }
                MuxEvent::OpenWithdrawn { protocol, id, .. } => {
                    let i = self
                        .requests
                        .iter()
                        .position(|(p, x)| *p == protocol && *x == id)
                        .expect("withdrawn request was requested");
                    self.requests.remove(i);
                }
                MuxEvent::Opened { channel, .. } => {
                    let paired = self.open.get_mut(&channel).expect("Opened of our channel");
                    assert!(!*paired, "Opened twice");
                    *paired = true;
                }
                MuxEvent::Message { channel, .. } => {
                    assert_eq!(
                        self.open.get(&channel),
                        Some(&true),
                        "message on a paired channel"
                    );
                }
                MuxEvent::Closed { channel, reason } => {
                    let paired = self
                        .open
                        .remove(&channel)
                        .expect("Closed of an open channel");
                    if reason == CloseReason::Rejected {
                        assert!(!paired, "only unpaired channels are rejected");
                    }
                }
                _ => {}
            }
        }
        while let Some(f) = self.mux.poll_transmit() {
            Frame::decode_exact(&f).expect("emitted frames decode");
        }
        let m = &self.mux;
        assert!(m.buffered_bytes() <= CONFIG.max_buffered_bytes);
        assert!(m.pending_open_count() <= CONFIG.max_pending_opens);
        assert!(m.channel_count() + m.pending_open_count() <= CONFIG.max_channels);
        assert_eq!(m.channel_count(), self.open.len());
        if m.is_ended() {
            assert!(self.open.is_empty() && m.pending_open_count() == 0);
            assert_eq!(m.buffered_bytes(), 0);
            self.requests.clear();
        } else {
            assert_eq!(m.pending_open_count(), self.requests.len());
        }
    }

    fn pick(&self, input: &mut Input<'_>) -> Option<ChannelId> {
        let i = usize::from(input.u8()?);
        let n = self.open.len();
        (n > 0).then(|| *self.open.keys().nth(i % n).expect("in range"))
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut s = State {
        mux: Mux::new(CONFIG),
        open: BTreeMap::new(),
        requests: VecDeque::new(),
        corked: false,
    };
    s.mux.listen("example/v1");
    s.mux.listen("hypercore/alpha");
    s.open("example/v1", None, b"\x05hello");
    s.open("hypercore/alpha", Some(&[7; 32]), b"");
    s.drain();

    let mut input = Input(data);
    while let Some(op) = input.u8() {
        if op == 255 {
            s.mux.handle_end();
        } else {
            match op % 10 {
                0..=4 => {
                    let Some(lo) = input.u8() else { break };
                    let hi = input.u8().unwrap_or(0);
                    let frame = input.take(usize::from(u16::from_le_bytes([lo, hi])));
                    if s.mux.handle_frame(Bytes::copy_from_slice(frame)).is_err() {
                        assert!(s.mux.is_ended(), "an error ends the mux");
                    }
                }
                5 => {
                    if let Some((p, id)) = s.requests.pop_front() {
                        let pending = s.mux.pending_open_count();
                        s.open(&p, id.as_deref(), b"answer");
                        assert_eq!(s.mux.pending_open_count() + 1, pending, "answer pairs");
                    }
                }
                6 => {
                    if let Some((p, id)) = s.requests.pop_front() {
                        assert!(s.mux.reject(&p, id.as_deref()));
                    }
                }
                7 => {
                    let c = s.pick(&mut input);
                    let ty = u64::from(input.u8().unwrap_or(0));
                    let len = usize::from(input.u8().unwrap_or(0));
                    let payload = input.take(len).to_vec();
                    if let Some(c) = c {
                        s.mux
                            .send(c, ty, &payload)
                            .expect("send on an open channel");
                    }
                }
                8 => {
                    if let Some(c) = s.pick(&mut input) {
                        s.mux.close(c).expect("close an open channel");
                    }
                }
                _ => {
                    if s.corked {
                        s.mux.uncork();
                    } else {
                        s.mux.cork();
                    }
                    s.corked = !s.corked;
                }
            }
        }
        s.drain();
        if s.mux.error().is_some() {
            assert!(s.mux.is_ended(), "a fault found while polling ends the mux");
        }
    }
    if s.corked {
        s.mux.uncork();
    }
    s.drain();
    assert!(!s.mux.is_corked(), "no cork held once events are drained");
});
