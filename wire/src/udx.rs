//! The UDX packet, byte for byte as libudx (`udx-native@1.21.3`) writes and reads it.
//!
//! Every UDX datagram starts with a 20-byte little-endian header:
//!
//! ```text
//! 0xFF | 0x01 | flags | data_offset | stream id u32 | rwnd u32 | seq u32 | ack u32
//! ```
//!
//! * `flags` combines [`flags::DATA`], [`flags::END`], [`flags::SACK`], [`flags::MESSAGE`],
//!   [`flags::DESTROY`] and [`flags::HEARTBEAT`]; a pure acknowledgement has no flag at all.
//! * `stream id` is the *receiver's* stream id (the packet is routed by it).
//! * `rwnd` is the sender's receive window in bytes, `seq` counts packets (not bytes) and
//!   `ack` is the cumulative acknowledgement (the next sequence number expected).
//! * `data_offset` is the length of an area between the header and the payload: MTU
//!   probes pad their payload with `data_offset` zero bytes. SACK blocks follow the header
//!   as `(start, end)` u32 pairs (`end` exclusive); libudx writes them with `data_offset`
//!   0 and a receiver then reads the whole rest of the datagram as blocks (when
//!   `data_offset` is non-zero and shorter than the rest, only that area).
//!
//! [`decode`] borrows everything from the datagram, never allocates and never panics;
//! [`Packet::write`] reproduces the decoded datagram exactly. [`classify`] sorts the
//! datagrams of a socket shared with dht-rpc and holepunch probes.

use alloc::vec::Vec;

/// First byte of every UDX datagram.
pub const MAGIC: u8 = 0xff;
/// Second byte of every UDX datagram (the protocol version).
pub const VERSION: u8 = 1;
/// Length of the fixed header.
pub const HEADER_LEN: usize = 20;
/// The most SACK blocks libudx puts in one acknowledgement (`UDX_MAX_SACKS`).
pub const MAX_SACKS: usize = 50;
/// Length of one SACK block (two little-endian u32).
pub const SACK_BLOCK_LEN: usize = 8;

/// The header's packet-type bits (`UDX_HEADER_*`); a packet may combine several.
pub mod flags {
    /// The packet carries stream data (it consumes a sequence number).
    pub const DATA: u8 = 1;
    /// The sender's last packet: its stream ends here (it consumes a sequence number).
    pub const END: u8 = 2;
    /// Selective acknowledgement blocks follow the header.
    pub const SACK: u8 = 4;
    /// An unordered, unreliable datagram for the stream.
    pub const MESSAGE: u8 = 8;
    /// The sender reset the stream.
    pub const DESTROY: u8 = 16;
    /// A keep-alive / zero-window probe: the receiver answers with an acknowledgement.
    pub const HEARTBEAT: u8 = 32;
}

/// Why a datagram is not a UDX packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdxPacketError {
    /// Shorter than the 20-byte header.
    #[error("UDX datagram of {len} byte(s) is shorter than the 20-byte header")]
    TooShort {
        /// The datagram's length.
        len: usize,
    },
    /// The first byte is not [`MAGIC`].
    #[error("not a UDX datagram (first byte {0:#04x})")]
    BadMagic(u8),
    /// The second byte is not [`VERSION`].
    #[error("unsupported UDX version {0}")]
    UnsupportedVersion(u8),
    /// `data_offset` points past the end of the datagram (libudx drops such packets).
    #[error("data offset {data_offset} exceeds the {available} byte(s) after the header")]
    DataOffsetOutOfRange {
        /// The header's `data_offset`.
        data_offset: u8,
        /// Bytes after the header.
        available: usize,
    },
}

/// The fixed 20-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Combination of [`flags`] bits.
    pub flags: u8,
    /// Length of the padding / SACK area between header and payload.
    pub data_offset: u8,
    /// The receiver's stream id.
    pub stream_id: u32,
    /// The sender's receive window in bytes.
    pub rwnd: u32,
    /// Packet sequence number.
    pub seq: u32,
    /// Cumulative acknowledgement: the next sequence number the sender expects.
    pub ack: u32,
}

impl Header {
    /// Whether the header has all bits of `flag` set.
    #[must_use]
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag == flag
    }

    /// The header as its 20 bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        encode_header(self, &mut out);
        out
    }

    /// Appends the 20 header bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// Reads the header of `datagram` (the rest is not looked at).
    pub fn read(datagram: &[u8]) -> Result<Header, UdxPacketError> {
        let Some(h) = datagram.get(..HEADER_LEN) else {
            return Err(UdxPacketError::TooShort {
                len: datagram.len(),
            });
        };
        if h[0] != MAGIC {
            return Err(UdxPacketError::BadMagic(h[0]));
        }
        if h[1] != VERSION {
            return Err(UdxPacketError::UnsupportedVersion(h[1]));
        }
        Ok(Header {
            flags: h[2],
            data_offset: h[3],
            stream_id: le32(&h[4..8]),
            rwnd: le32(&h[8..12]),
            seq: le32(&h[12..16]),
            ack: le32(&h[16..20]),
        })
    }
}

fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

/// Writes `h` into `out` as libudx's `udx_write_header` does.
pub fn encode_header(h: &Header, out: &mut [u8; HEADER_LEN]) {
    out[0] = MAGIC;
    out[1] = VERSION;
    out[2] = h.flags;
    out[3] = h.data_offset;
    out[4..8].copy_from_slice(&h.stream_id.to_le_bytes());
    out[8..12].copy_from_slice(&h.rwnd.to_le_bytes());
    out[12..16].copy_from_slice(&h.seq.to_le_bytes());
    out[16..20].copy_from_slice(&h.ack.to_le_bytes());
}

/// The SACK blocks of a packet, read lazily from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sacks<'a> {
    bytes: &'a [u8],
}

impl<'a> Sacks<'a> {
    /// How many blocks there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len() / SACK_BLOCK_LEN
    }

    /// Whether there is no block.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `(start, end)` blocks, `end` exclusive, in datagram order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + 'a {
        self.bytes
            .chunks_exact(SACK_BLOCK_LEN)
            .map(|c| (le32(&c[..4]), le32(&c[4..8])))
    }
}

/// A decoded UDX datagram, borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The fixed header.
    pub header: Header,
    /// The SACK blocks (empty unless the header has [`flags::SACK`]).
    pub sacks: Sacks<'a>,
    /// The `data_offset` bytes after the header (MTU-probe padding, or SACK blocks when
    /// the sender set `data_offset` for them).
    pub padding: &'a [u8],
    /// Everything after the `data_offset` area. For a SACK packet written by libudx
    /// (`data_offset` 0) these are the SACK bytes themselves; libudx uses the payload only
    /// for [`flags::DATA`], [`flags::END`] and [`flags::MESSAGE`] packets.
    pub payload: &'a [u8],
}

impl Packet<'_> {
    /// Appends the datagram to `out`: header, `data_offset` area, payload. For a packet
    /// from [`decode`] this is the decoded datagram, byte for byte.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.header.write(out);
        out.extend_from_slice(self.padding);
        out.extend_from_slice(self.payload);
    }
}

/// Decodes one UDX datagram. Never panics, never allocates.
pub fn decode(datagram: &[u8]) -> Result<Packet<'_>, UdxPacketError> {
    let header = Header::read(datagram)?;
    let rest = &datagram[HEADER_LEN..];
    let off = usize::from(header.data_offset);
    if off > rest.len() {
        return Err(UdxPacketError::DataOffsetOutOfRange {
            data_offset: header.data_offset,
            available: rest.len(),
        });
    }
    let (padding, payload) = rest.split_at(off);
    let sacks = if header.has(flags::SACK) {
        // libudx `process_packet`: the data_offset area when it is non-zero and shorter
        // than the rest, else the whole rest.
        let area = if off > 0 && off < rest.len() {
            padding
        } else {
            rest
        };
        let whole = area.len() - area.len() % SACK_BLOCK_LEN;
        Sacks {
            bytes: &area[..whole],
        }
    } else {
        Sacks::default()
    };
    Ok(Packet {
        header,
        sacks,
        padding,
        payload,
    })
}

/// Appends an acknowledgement as libudx's `send_ack` writes it: the header (its flags
/// get [`flags::SACK`] when there are blocks, its `data_offset` is 0) followed by at most
/// [`MAX_SACKS`] blocks. Returns how many blocks were written.
pub fn write_ack(header: &Header, sacks: &[(u32, u32)], out: &mut Vec<u8>) -> usize {
    let n = sacks.len().min(MAX_SACKS);
    let mut h = *header;
    h.data_offset = 0;
    if n > 0 {
        h.flags |= flags::SACK;
    } else {
        h.flags &= !flags::SACK;
    }
    h.write(out);
    for &(start, end) in &sacks[..n] {
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&end.to_le_bytes());
    }
    n
}

/// Appends a packet with `padding` zero bytes between header and payload (an MTU probe
/// when `padding > 0`); the header's `data_offset` is set to `padding`.
pub fn write_padded(header: &Header, padding: u8, payload: &[u8], out: &mut Vec<u8>) {
    let mut h = *header;
    h.data_offset = padding;
    h.write(out);
    out.resize(out.len() + usize::from(padding), 0);
    out.extend_from_slice(payload);
}

/// The stream id a UDX datagram is addressed to, without decoding the rest.
#[must_use]
pub fn stream_id_of(datagram: &[u8]) -> Option<u32> {
    Header::read(datagram).ok().map(|h| h.stream_id)
}

/// What a datagram on a socket shared by UDX, dht-rpc and holepunching is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramKind {
    /// `0xFF 0x01` and at least a full header: a UDX packet.
    Udx,
    /// `0x03`: a dht-rpc request (`type << 4 | VERSION`, VERSION 3).
    RpcRequest,
    /// `0x13`: a dht-rpc response.
    RpcResponse,
    /// A single byte: a hyperdht holepunch probe.
    HolepunchProbe,
    /// Anything else (JS peers ignore it).
    Unknown,
}

/// Sorts a datagram by its first bytes (libudx `process_packet`, dht-rpc `io.js`,
/// hyperdht `socket-pool.js`).
#[must_use]
pub fn classify(datagram: &[u8]) -> DatagramKind {
    match datagram {
        [_] => DatagramKind::HolepunchProbe,
        [MAGIC, VERSION, ..] if datagram.len() >= HEADER_LEN => DatagramKind::Udx,
        [0x03, _, ..] => DatagramKind::RpcRequest,
        [0x13, _, ..] => DatagramKind::RpcResponse,
        _ => DatagramKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn header(flags: u8) -> Header {
        Header {
            flags,
            data_offset: 0,
            stream_id: 0x0403_0201,
            rwnd: 4 * 1024 * 1024,
            seq: 7,
            ack: 0xdead_beef,
        }
    }

    #[test]
    fn header_layout_is_little_endian() {
        let b = header(flags::DATA | flags::END).to_bytes();
        assert_eq!(
            b,
            [0xff, 0x01, 3, 0, 1, 2, 3, 4, 0, 0, 0x40, 0, 7, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde]
        );
        assert_eq!(Header::read(&b), Ok(header(3)));
    }

    #[test]
    fn ack_with_sacks_roundtrips() {
        let mut out = Vec::new();
        let n = write_ack(&header(0), &[(9, 11), (13, 20)], &mut out);
        assert_eq!(n, 2);
        assert_eq!(out.len(), HEADER_LEN + 16);
        let p = decode(&out).unwrap();
        assert!(p.header.has(flags::SACK));
        assert_eq!(p.header.data_offset, 0);
        assert_eq!(p.sacks.iter().collect::<Vec<_>>(), vec![(9, 11), (13, 20)]);
        let mut again = Vec::new();
        p.write(&mut again);
        assert_eq!(again, out);
    }

    #[test]
    fn ack_keeps_at_most_max_sacks() {
        let blocks: Vec<(u32, u32)> = (0..80).map(|i| (i * 3, i * 3 + 1)).collect();
        let mut out = Vec::new();
        assert_eq!(write_ack(&header(0), &blocks, &mut out), MAX_SACKS);
        assert_eq!(decode(&out).unwrap().sacks.len(), MAX_SACKS);
        let mut plain = Vec::new();
        write_ack(&header(flags::SACK), &[], &mut plain);
        assert!(!decode(&plain).unwrap().header.has(flags::SACK));
    }

    #[test]
    fn sack_area_is_data_offset_when_shorter_than_the_rest() {
        let mut h = header(flags::SACK);
        h.data_offset = 8;
        let mut out = Vec::new();
        h.write(&mut out);
        out.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0, 0xaa, 0xbb]);
        let p = decode(&out).unwrap();
        assert_eq!(p.sacks.iter().collect::<Vec<_>>(), vec![(1, 2)]);
        assert_eq!(p.payload, &[0xaa, 0xbb]);
        // A ragged tail is not a block.
        let mut h = header(flags::SACK);
        h.data_offset = 0;
        let mut out = Vec::new();
        h.write(&mut out);
        out.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0, 9]);
        assert_eq!(decode(&out).unwrap().sacks.len(), 1);
    }

    #[test]
    fn probe_padding_sits_before_the_payload() {
        let mut out = Vec::new();
        write_padded(&header(flags::DATA), 32, b"hello", &mut out);
        assert_eq!(out.len(), HEADER_LEN + 32 + 5);
        let p = decode(&out).unwrap();
        assert_eq!(p.padding, &[0u8; 32][..]);
        assert_eq!(p.payload, b"hello");
        assert!(p.sacks.is_empty());
    }

    #[test]
    fn malformed_datagrams_are_typed_errors() {
        assert_eq!(decode(&[]), Err(UdxPacketError::TooShort { len: 0 }));
        assert_eq!(
            decode(&[0xff; 19]),
            Err(UdxPacketError::TooShort { len: 19 })
        );
        let mut b = header(0).to_bytes();
        b[0] = 0xfe;
        assert_eq!(decode(&b), Err(UdxPacketError::BadMagic(0xfe)));
        b[0] = 0xff;
        b[1] = 2;
        assert_eq!(decode(&b), Err(UdxPacketError::UnsupportedVersion(2)));
        b[1] = 1;
        b[3] = 1;
        assert_eq!(
            decode(&b),
            Err(UdxPacketError::DataOffsetOutOfRange {
                data_offset: 1,
                available: 0
            })
        );
    }

    #[test]
    fn classify_sorts_the_shared_socket() {
        assert_eq!(classify(&[0]), DatagramKind::HolepunchProbe);
        assert_eq!(classify(&[0xff]), DatagramKind::HolepunchProbe);
        assert_eq!(classify(&header(0).to_bytes()), DatagramKind::Udx);
        assert_eq!(classify(&[0xff, 1, 0]), DatagramKind::Unknown);
        assert_eq!(classify(&[0x03, 0]), DatagramKind::RpcRequest);
        assert_eq!(classify(&[0x13, 5, 6]), DatagramKind::RpcResponse);
        assert_eq!(classify(&[0x23, 0]), DatagramKind::Unknown);
        assert_eq!(classify(&[]), DatagramKind::Unknown);
        assert_eq!(stream_id_of(&header(0).to_bytes()), Some(0x0403_0201));
        assert_eq!(stream_id_of(&[0xff, 1]), None);
    }

    proptest! {
        #[test]
        fn any_datagram_decodes_or_errs_and_rewrites_exactly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = decode(&bytes) {
                let mut out = Vec::new();
                p.write(&mut out);
                prop_assert_eq!(out, bytes);
            }
        }

        #[test]
        fn headers_roundtrip(flags in any::<u8>(), off in any::<u8>(), id in any::<u32>(), rwnd in any::<u32>(), seq in any::<u32>(), ack in any::<u32>(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let h = Header { flags: flags & !flags::SACK, data_offset: 0, stream_id: id, rwnd, seq, ack };
            let mut out = Vec::new();
            write_padded(&h, off, &payload, &mut out);
            let p = decode(&out).unwrap();
            prop_assert_eq!(p.header, Header { data_offset: off, ..h });
            prop_assert_eq!(p.payload, &payload[..]);
            prop_assert_eq!(p.padding.len(), usize::from(off));
        }

        #[test]
        fn acks_roundtrip(blocks in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..60), seq in any::<u32>(), ack in any::<u32>()) {
            let h = Header { seq, ack, ..Header::default() };
            let mut out = Vec::new();
            let n = write_ack(&h, &blocks, &mut out);
            let p = decode(&out).unwrap();
            prop_assert_eq!(p.sacks.iter().collect::<Vec<_>>(), blocks[..n].to_vec());
            prop_assert_eq!(p.header.seq, seq);
            prop_assert_eq!(p.header.ack, ack);
        }
    }
}
