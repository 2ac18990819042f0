//! The protomux *state machine* against the JS reference conversation of
//! `protomux-frames.json` (schema [`Schema::ProtomuxFrames`]).
//!
//! `wire_vectors.rs` already checks every recorded frame as a codec (decode, re-encode,
//! through a batch). This test replays the conversation itself: two [`Mux`] instances, `A`
//! and `B`, perform what each recorded step did (open, send, cork/uncork around a batch,
//! close), and every frame they emit must equal the recorded one byte for byte, in order.
//! Frames no application call produces (a `reject` of an open nobody listens to) must be
//! emitted by the receiving mux on its own, at the recorded point. Each frame is then
//! delivered to the other mux, whose events are checked: requests, pairings (with the
//! peer's handshake), messages, rejections and closes.
//!
//! The actions are derived from each frame's `decoded` fields (the `step` text is only
//! used in messages): a new vector file of this schema is replayed with no code change. A
//! side listens to a protocol if both sides open it somewhere in the conversation (in JS,
//! the answering side had a `pair` handler for it; the other protocols are refused).

use std::collections::BTreeMap;

use bytes::Bytes;
use ferrocore_tests::{files, hex, name, u64_of, Cases, Schema};
use ferrocore_wire::mux::{ChannelId, CloseReason, Mux, MuxConfig, MuxEvent};
use serde_json::Value;

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
}

fn string(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// `null` or a hex string.
fn opt_hex(v: &Value) -> Option<Vec<u8>> {
    if v.is_null() {
        None
    } else {
        Some(hex(v))
    }
}

/// A pending remote open as the test saw it in an `OpenRequest`.
#[derive(Debug, Clone)]
struct Request {
    remote_id: u64,
    protocol: String,
    id: Option<Bytes>,
    handshake: Bytes,
}

/// One side of the conversation.
struct Side {
    name: &'static str,
    mux: Mux,
    /// Our channels by local id.
    channels: BTreeMap<u64, ChannelId>,
    /// Our channels not yet paired, in opening order (they pair first-in, first-out).
    unpaired: Vec<ChannelId>,
    /// Remote opens waiting for us, in arrival order.
    requests: Vec<Request>,
    /// Protocols we listen to.
    listens: Vec<String>,
    /// Peer's local id → our channel, for paired channels.
    pairs: BTreeMap<u64, ChannelId>,
}

impl Side {
    fn new(name: &'static str) -> Self {
        Side {
            name,
            mux: Mux::new(MuxConfig::default()),
            channels: BTreeMap::new(),
            unpaired: Vec::new(),
            requests: Vec::new(),
            listens: Vec::new(),
            pairs: BTreeMap::new(),
        }
    }

    fn channel(&self, local_id: u64, what: &str) -> ChannelId {
        *self
            .channels
            .get(&local_id)
            .unwrap_or_else(|| panic!("{what}: {} has no channel {local_id}", self.name))
    }

    /// Our channel paired with the peer's `remote_id` (as the test tracked it), checked
    /// against the mux.
    fn paired_with(&self, remote_id: u64, what: &str) -> ChannelId {
        let c = *self.pairs.get(&remote_id).unwrap_or_else(|| {
            panic!(
                "{what}: {} has no channel paired with {remote_id}",
                self.name
            )
        });
        assert_eq!(self.mux.remote_id(c), Some(remote_id), "{what}: pairing");
        c
    }

    fn events(&mut self) -> Vec<MuxEvent> {
        std::iter::from_fn(|| self.mux.poll_event()).collect()
    }

    /// Performs the application call that emits one recorded frame (or batch item) and
    /// returns the events it must raise on this side.
    fn act(&mut self, what: &str, d: &Value) -> Vec<MuxEvent> {
        match string(&d["kind"]) {
            "open" => {
                let protocol = string(&d["protocol"]);
                let id = opt_hex(&d["id"]);
                let handshake = hex(&d["handshakeHex"]);
                let pairs_with = self
                    .requests
                    .iter()
                    .position(|r| r.protocol == protocol && r.id.as_deref() == id.as_deref());
                let c = self
                    .mux
                    .open(protocol, id.as_deref(), &handshake)
                    .unwrap_or_else(|e| panic!("{what}: open: {e}"));
                assert_eq!(c.get(), u64_of(&d["localId"]), "{what}: local id");
                self.channels.insert(c.get(), c);
                match pairs_with {
                    Some(i) => {
                        let r = self.requests.remove(i);
                        self.pairs.insert(r.remote_id, c);
                        vec![MuxEvent::Opened {
                            channel: c,
                            protocol: r.protocol,
                            id: r.id,
                            handshake: r.handshake,
                        }]
                    }
                    None => {
                        self.unpaired.push(c);
                        Vec::new()
                    }
                }
            }
            "message" => {
                let c = self.channel(u64_of(&d["channel"]), what);
                let payload = hex(&d["payloadHex"]);
                self.mux
                    .send(c, u64_of(&d["type"]), &payload)
                    .unwrap_or_else(|e| panic!("{what}: send: {e}"));
                Vec::new()
            }
            "close" => {
                let c = self.channel(u64_of(&d["localId"]), what);
                self.mux
                    .close(c)
                    .unwrap_or_else(|e| panic!("{what}: close: {e}"));
                self.unpaired.retain(|&x| x != c);
                self.pairs.retain(|_, &mut x| x != c);
                vec![MuxEvent::Closed {
                    channel: c,
                    reason: CloseReason::Local,
                }]
            }
            kind => panic!("{what}: no application call emits a {kind} frame"),
        }
    }

    /// The events receiving one recorded frame (or batch item) from the peer must raise.
    fn expect_receipt(&mut self, what: &str, d: &Value) -> Vec<MuxEvent> {
        match string(&d["kind"]) {
            "open" => {
                let protocol = string(&d["protocol"]).to_owned();
                let id = opt_hex(&d["id"]).map(Bytes::from);
                let handshake = Bytes::from(hex(&d["handshakeHex"]));
                let waiting = self.unpaired.iter().position(|&c| {
                    self.mux.channel_key(c) == Some((protocol.as_str(), id.as_ref()))
                });
                if let Some(i) = waiting {
                    let channel = self.unpaired.remove(i);
                    self.pairs.insert(u64_of(&d["localId"]), channel);
                    return vec![MuxEvent::Opened {
                        channel,
                        protocol,
                        id,
                        handshake,
                    }];
                }
                if !self.listens.contains(&protocol) {
                    return Vec::new(); // refused: the reject is this side's next frame
                }
                self.requests.push(Request {
                    remote_id: u64_of(&d["localId"]),
                    protocol: protocol.clone(),
                    id: id.clone(),
                    handshake: handshake.clone(),
                });
                vec![MuxEvent::OpenRequest {
                    protocol,
                    id,
                    handshake,
                    remote_id: u64_of(&d["localId"]),
                }]
            }
            "message" => vec![MuxEvent::Message {
                channel: self.paired_with(u64_of(&d["channel"]), what),
                message_type: u64_of(&d["type"]),
                payload: Bytes::from(hex(&d["payloadHex"])),
            }],
            "reject" => {
                let c = self.channel(u64_of(&d["remoteId"]), what);
                self.unpaired.retain(|&x| x != c);
                vec![MuxEvent::Closed {
                    channel: c,
                    reason: CloseReason::Rejected,
                }]
            }
            "close" => {
                let remote_id = u64_of(&d["localId"]);
                let channel = self.paired_with(remote_id, what);
                self.pairs.remove(&remote_id);
                vec![MuxEvent::Closed {
                    channel,
                    reason: CloseReason::Remote,
                }]
            }
            kind => panic!("{what}: unexpected frame kind {kind}"),
        }
    }
}

/// Protocols opened by both sides: each side listens to them.
fn shared_protocols(frames: &[Value]) -> Vec<String> {
    let opens = |side: &str| -> Vec<String> {
        let mut out = Vec::new();
        for f in frames.iter().filter(|f| f["from"] == side) {
            let d = &f["decoded"];
            let items = if d["kind"] == "batch" {
                arr(&d["items"]).clone()
            } else {
                vec![d.clone()]
            };
            for i in items.iter().filter(|i| i["kind"] == "open") {
                out.push(string(&i["protocol"]).to_owned());
            }
        }
        out
    };
    let b = opens("B");
    let mut shared: Vec<String> = opens("A").into_iter().filter(|p| b.contains(p)).collect();
    shared.sort();
    shared.dedup();
    shared
}

#[test]
fn protomux_conversation_replays_byte_for_byte() {
    let mut cases = Cases::new("wire: protomux conversation replayed by two muxes");
    for (path, file) in files(Schema::ProtomuxFrames) {
        let fname = name(&path);
        let frames = arr(&file["frames"]);
        let mut sides = [Side::new("A"), Side::new("B")];
        let shared = shared_protocols(frames);
        for side in &mut sides {
            for p in &shared {
                side.mux.listen(p);
            }
            side.listens.clone_from(&shared);
        }

        for f in frames {
            let what = format!("{fname} frame {} ({})", f["seq"], string(&f["step"]));
            let from = match string(&f["from"]) {
                "A" => 0,
                "B" => 1,
                other => panic!("{what}: from {other}"),
            };
            let d = &f["decoded"];
            let kind = string(&d["kind"]);
            let [a, b] = &mut sides;
            let (sender, receiver) = if from == 0 { (a, b) } else { (b, a) };

            // 1. The sender emits the frame: by itself (a reject), or from the step's calls.
            let mut own_events = Vec::new();
            if kind == "reject" {
                // Emitted while handling the previous frame; no application call.
            } else {
                assert!(
                    sender.mux.poll_transmit().is_none(),
                    "{what}: {} sent an unrecorded frame before this one",
                    sender.name
                );
                if kind == "batch" {
                    sender.mux.cork();
                    for (i, item) in arr(&d["items"]).iter().enumerate() {
                        own_events.extend(sender.act(&format!("{what} item {i}"), item));
                    }
                    sender.mux.uncork();
                } else {
                    own_events = sender.act(&what, d);
                }
            }
            let got = sender
                .mux
                .poll_transmit()
                .unwrap_or_else(|| panic!("{what}: {} sent nothing", sender.name));
            assert_eq!(
                ::hex::encode(&got),
                string(&f["hex"]),
                "{what}: frame bytes"
            );
            assert_eq!(sender.events(), own_events, "{what}: sender's events");

            // 2. The receiver handles it (expectations first: they read the state before).
            let want: Vec<MuxEvent> = if kind == "batch" {
                arr(&d["items"])
                    .iter()
                    .enumerate()
                    .flat_map(|(i, item)| {
                        receiver.expect_receipt(&format!("{what} item {i}"), item)
                    })
                    .collect()
            } else {
                receiver.expect_receipt(&what, d)
            };
            receiver
                .mux
                .handle_frame(Bytes::from(got))
                .unwrap_or_else(|e| panic!("{what}: {} refused the frame: {e}", receiver.name));
            assert_eq!(receiver.events(), want, "{what}: receiver's events");
            cases.pass();
        }
        for side in &mut sides {
            assert!(
                side.mux.poll_transmit().is_none(),
                "{fname}: {} has an unrecorded frame left",
                side.name
            );
        }
        // Ending the stream closes every channel still open, on both sides.
        for side in &mut sides {
            let open: Vec<ChannelId> = side
                .channels
                .values()
                .copied()
                .filter(|&c| side.mux.is_open(c))
                .collect();
            side.mux.handle_end();
            let want: Vec<MuxEvent> = open
                .into_iter()
                .map(|channel| MuxEvent::Closed {
                    channel,
                    reason: CloseReason::Ended,
                })
                .collect();
            assert_eq!(side.events(), want, "{fname}: {} at end", side.name);
        }
    }
    cases.report();
}
