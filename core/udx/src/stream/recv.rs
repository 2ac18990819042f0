//! The receive side of a stream: in-order bytes for the reader, out-of-order packets
//! within the window, and the SACK blocks that describe them.
//!
//! Unlike libudx (whose out-of-order buffer grows with whatever the peer sends), what is
//! kept is bounded by the receive window: out-of-order packets are kept only while unread
//! and out-of-order bytes together fit the window (plus one packet of slack), and only
//! within `span` sequence numbers of the next expected one; the next expected packet only
//! needs the unread bytes to fit. So at most twice the window is held. What does not fit
//! is dropped unacknowledged and the sender retransmits it; nothing acknowledged (SACKed)
//! is ever dropped, since libudx senders never send a SACKed packet again.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use ferrocore_wire::udx::{flags, MAX_SACKS};

/// Bytes accepted beyond the advertised window: a libudx sender keeps one packet in
/// flight whenever the window is not zero, even if it is smaller than a packet.
const SLACK: usize = 4096;

/// A packet received ahead of a gap.
#[derive(Debug)]
struct Ahead {
    flags: u8,
    payload: Box<[u8]>,
}

/// What became of a DATA/END packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Accepted {
    /// The packet was kept (in order or ahead).
    pub kept: bool,
    /// In-order bytes became available.
    pub readable: bool,
    /// The packet carried END (and was kept).
    pub end: bool,
    /// The END was reached in order: the peer's stream is complete.
    pub end_reached: bool,
}

/// The receive state.
#[derive(Debug)]
pub(crate) struct Receiver {
    /// Next sequence number expected (libudx `stream->ack`).
    pub ack: u32,
    /// In-order bytes not read yet.
    pub readable: VecDeque<u8>,
    /// `ahead[i]` holds sequence `ack + i` if it arrived; `ahead[0]` is always empty.
    ahead: VecDeque<Option<Ahead>>,
    ahead_bytes: usize,
    ahead_count: u32,
    window: u32,
    span: u32,
}

impl Receiver {
    /// An empty receiver advertising `window` bytes.
    pub fn new(window: u32) -> Self {
        Receiver {
            ack: 0,
            readable: VecDeque::new(),
            ahead: VecDeque::new(),
            ahead_bytes: 0,
            ahead_count: 0,
            window,
            // One sequence number per 1 KiB of window, like libudx's 4 MiB ≈ 3.6k packets.
            span: (window / 1024).clamp(64, 16_384),
        }
    }

    /// The receive window to advertise: what the reader's buffer still has room for
    /// (libudx `get_recv_rwnd`).
    pub fn rwnd(&self) -> u32 {
        let used = u32::try_from(self.readable.len()).unwrap_or(u32::MAX);
        self.window.saturating_sub(used)
    }

    /// The most bytes held for the reader.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// Bytes held: in order and ahead of gaps.
    pub fn held(&self) -> usize {
        self.readable.len() + self.ahead_bytes
    }

    /// Whether packets are held ahead of a gap.
    pub fn has_gaps(&self) -> bool {
        self.ahead_count > 0
    }

    fn room_for(&self, len: usize) -> bool {
        self.readable.len() + self.ahead_bytes + len <= self.window as usize + SLACK
    }

    /// A DATA and/or END packet with sequence `seq` (not before `ack`).
    pub fn on_data(&mut self, seq: u32, pflags: u8, payload: &[u8]) -> Accepted {
        let mut out = Accepted::default();
        let d = seq.wrapping_sub(self.ack);
        let is_data = pflags & flags::DATA != 0;
        let len = if is_data { payload.len() } else { 0 };
        if d == 0 {
            // The packet the reader waits for counts against the reader's bytes only:
            // packets held ahead were acknowledged (SACK) and libudx senders never send
            // those again, so they are never dropped to make room (no reneging).
            if self.readable.len() + len > self.window as usize + SLACK {
                return out;
            }
            self.consume(pflags, payload, &mut out);
            self.drain(&mut out);
            return out;
        }
        if d >= self.span || !self.room_for(len) {
            return out;
        }
        let i = d as usize;
        if self.ahead.len() <= i {
            self.ahead.resize_with(i + 1, || None);
        }
        if self.ahead[i].is_some() {
            return out;
        }
        self.ahead[i] = Some(Ahead {
            flags: pflags,
            payload: if is_data {
                payload.into()
            } else {
                Box::default()
            },
        });
        self.ahead_bytes += len;
        self.ahead_count += 1;
        out.kept = true;
        out.end = pflags & flags::END != 0;
        out
    }

    /// Whether `seq` is already held ahead of the gap.
    pub fn holds(&self, seq: u32) -> bool {
        let d = seq.wrapping_sub(self.ack) as usize;
        matches!(self.ahead.get(d), Some(Some(_)))
    }

    fn consume(&mut self, pflags: u8, payload: &[u8], out: &mut Accepted) {
        out.kept = true;
        if pflags & flags::DATA != 0 && !payload.is_empty() {
            self.readable.extend(payload);
            out.readable = true;
        }
        if pflags & flags::END != 0 {
            out.end = true;
            out.end_reached = true;
        }
        self.ack = self.ack.wrapping_add(1);
        self.ahead.pop_front();
    }

    /// Moves packets that are now in order into the readable bytes.
    fn drain(&mut self, out: &mut Accepted) {
        while let Some(Some(_)) = self.ahead.front() {
            let Some(Some(a)) = self.ahead.pop_front() else {
                break;
            };
            // `consume` pops the next slot; put this one back as the slot it expects.
            self.ahead.push_front(None);
            self.ahead_bytes -= a.payload.len();
            self.ahead_count -= 1;
            let end_before = out.end_reached;
            self.consume(a.flags, &a.payload, out);
            if out.end_reached && !end_before {
                // Nothing follows an END.
                self.drop_ahead();
                break;
            }
        }
    }

    /// Forgets everything held ahead of the gap.
    pub fn drop_ahead(&mut self) {
        self.ahead.clear();
        self.ahead_bytes = 0;
        self.ahead_count = 0;
    }

    /// Copies up to `buf.len()` in-order bytes out.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.readable.len());
        let (a, b) = self.readable.as_slices();
        if n <= a.len() {
            buf[..n].copy_from_slice(&a[..n]);
        } else {
            buf[..a.len()].copy_from_slice(a);
            buf[a.len()..n].copy_from_slice(&b[..n - a.len()]);
        }
        self.readable.drain(..n);
        n
    }

    /// The SACK blocks of what is held ahead (at most [`MAX_SACKS`]); returns how many
    /// were written. With more holes than that, the lowest half and the highest half of
    /// the blocks are reported: a sender that only ever heard of the lowest ones (as
    /// libudx's `send_ack` writes them) would count everything above the 50th hole as in
    /// flight and stall its recovery until the RTO.
    pub fn sacks(&self, out: &mut [(u32, u32); MAX_SACKS]) -> usize {
        const LOW: usize = MAX_SACKS / 2;
        // The first LOW blocks go straight to `out`; after them, the latest blocks are
        // kept in a ring in `out[LOW..]` (no allocation per acknowledgement).
        let mut n = 0usize;
        let mut push = |block: (u32, u32)| {
            if n < MAX_SACKS {
                out[n] = block;
            } else {
                out[LOW + (n - LOW) % (MAX_SACKS - LOW)] = block;
            }
            n += 1;
        };
        let mut start: Option<u32> = None;
        for (i, slot) in self.ahead.iter().enumerate() {
            let seq = self.ack.wrapping_add(i as u32);
            match (slot.is_some(), start) {
                (true, None) => start = Some(seq),
                (false, Some(s)) => {
                    push((s, seq));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            push((s, self.ack.wrapping_add(self.ahead.len() as u32)));
        }
        if n > MAX_SACKS {
            // Put the ring of the latest blocks back in order.
            out[LOW..].rotate_left((n - LOW) % (MAX_SACKS - LOW));
        }
        n.min(MAX_SACKS)
    }

    /// Drops every byte held (the stream closed).
    pub fn clear(&mut self) {
        self.readable = VecDeque::new();
        self.drop_ahead();
        self.ahead = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const D: u8 = flags::DATA;

    #[test]
    fn gaps_fill_in_order_and_sacks_describe_them() {
        let mut r = Receiver::new(1 << 20);
        assert!(r.on_data(0, D, b"a").readable);
        assert!(r.on_data(2, D, b"c").kept);
        assert!(r.on_data(3, D, b"d").kept);
        assert!(r.on_data(5, D | flags::END, b"f").end);
        let mut s = [(0, 0); MAX_SACKS];
        let n = r.sacks(&mut s);
        assert_eq!(&s[..n], &[(2, 4), (5, 6)]);
        assert!(!r.on_data(2, D, b"c").kept, "duplicate");
        let a = r.on_data(1, D, b"b");
        assert!(a.readable && !a.end_reached);
        assert_eq!(r.ack, 4);
        let a = r.on_data(4, D, b"e");
        assert!(a.end_reached);
        assert_eq!(r.ack, 6);
        let mut buf = vec![0; 10];
        assert_eq!(r.read(&mut buf), 6);
        assert_eq!(&buf[..6], b"abcdef");
        assert!(!r.has_gaps());
    }

    #[test]
    fn nothing_beyond_the_window_or_span_is_kept() {
        let mut r = Receiver::new(64 * 1024);
        assert!(!r.on_data(64, D, b"x").kept, "beyond the span");
        assert!(!r.on_data(u32::MAX, D, b"x").kept, "a huge sequence number");
        let big = vec![7u8; 40 * 1024];
        assert!(r.on_data(1, D, &big).kept);
        assert!(!r.on_data(2, D, &big).kept, "window full");
        assert!(r.on_data(0, D, &big[..24 * 1024]).readable);
        assert_eq!(r.readable.len() + r.ahead_bytes, 64 * 1024);
        assert_eq!(r.rwnd(), 0);
        assert!(r.on_data(2, D, &big[..SLACK]).readable, "a packet of slack");
        assert!(!r.on_data(3, D, b"x").kept);
    }

    #[test]
    fn the_awaited_packet_is_taken_even_when_packets_ahead_fill_the_window() {
        let mut r = Receiver::new(64 * 1024);
        let chunk = vec![1u8; 20 * 1024];
        for seq in 1..4 {
            assert!(r.on_data(seq, D, &chunk).kept);
        }
        assert!(!r.on_data(4, D, &chunk).kept, "window full");
        let a = r.on_data(0, D, &chunk);
        assert!(a.readable);
        // Nothing acknowledged was dropped: 1, 2 and 3 followed 0 in order.
        assert_eq!(r.ack, 4);
        assert_eq!(r.readable.len(), 80 * 1024);
        assert!(!r.has_gaps());
        // The reader's bytes alone bound what is taken in order.
        assert!(!r.on_data(4, D, &chunk).kept);
    }

    proptest::proptest! {
        /// Whatever arrives in whatever order, a packet once reported in a SACK block is
        /// either delivered in order later or still held: never forgotten. Memory stays
        /// within twice the window plus slack.
        #[test]
        fn sacked_packets_are_never_forgotten(
            ops in proptest::collection::vec((0u32..200, 0usize..3000, proptest::bool::ANY), 1..400)
        ) {
            let mut r = Receiver::new(16 * 1024);
            let mut sacked = alloc::collections::BTreeSet::new();
            let mut buf = vec![0u8; 5000];
            for (off, len, read) in ops {
                let seq = r.ack.wrapping_add(off % 40);
                r.on_data(seq, D, &vec![0u8; len]);
                if read {
                    r.read(&mut buf);
                }
                let mut blocks = [(0, 0); MAX_SACKS];
                let n = r.sacks(&mut blocks);
                for &(a, b) in &blocks[..n] {
                    sacked.extend(a..b);
                }
                for &s in &sacked {
                    proptest::prop_assert!(crate::seq::lt(s, r.ack) || r.holds(s), "forgot {}", s);
                }
                proptest::prop_assert!(r.held() <= 2 * (16 * 1024 + SLACK));
            }
        }
    }

    #[test]
    fn at_most_fifty_sack_blocks() {
        let mut r = Receiver::new(1 << 20);
        for i in 0..200 {
            r.on_data(1 + 2 * i, D, b"x");
        }
        let mut s = [(0, 0); MAX_SACKS];
        assert_eq!(r.sacks(&mut s), MAX_SACKS);
        assert_eq!(s[0], (1, 2));
        assert_eq!(s[24], (49, 50), "the lowest 25 blocks");
        assert_eq!(s[25], (351, 352), "then the highest 25");
        assert_eq!(s[49], (399, 400));
        // Every count of blocks: the lowest 25 and the highest 25, in order.
        for holes in [49usize, 50, 51, 74, 75, 76, 123] {
            let mut r = Receiver::new(1 << 20);
            for i in 0..holes as u32 {
                r.on_data(1 + 2 * i, D, b"x");
            }
            let all: alloc::vec::Vec<(u32, u32)> =
                (0..holes as u32).map(|i| (1 + 2 * i, 2 + 2 * i)).collect();
            let n = r.sacks(&mut s);
            let want: alloc::vec::Vec<(u32, u32)> = if holes <= MAX_SACKS {
                all
            } else {
                all[..25]
                    .iter()
                    .chain(&all[holes - 25..])
                    .copied()
                    .collect()
            };
            assert_eq!(&s[..n], &want[..], "{holes} blocks");
        }
    }
}
