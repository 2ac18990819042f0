//! Codecs of the proof-carrying messages (data and its sections).

use super::*;

impl Proof {
    fn flags(&self) -> u64 {
        flag(self.block.is_some(), FLAG_BLOCK)
            | flag(self.hash.is_some(), FLAG_HASH)
            | flag(self.seek.is_some(), FLAG_SEEK)
            | flag(self.upgrade.is_some(), FLAG_UPGRADE)
            | flag(self.manifest.is_some(), FLAG_MANIFEST)
    }

    /// Encoded size of the sections after `flags ‖ request` (fork included).
    fn body_len(&self) -> usize {
        let mut n = uint_len(self.fork);
        if let Some(b) = &self.block {
            n += uint_len(b.index) + buffer_len(b.value.len()) + array_len(&b.nodes);
        }
        if let Some(h) = &self.hash {
            n += uint_len(h.index) + array_len(&h.nodes);
        }
        if let Some(s) = &self.seek {
            n += uint_len(s.bytes) + array_len(&s.nodes);
        }
        if let Some(u) = &self.upgrade {
            n += uint_len(u.start)
                + uint_len(u.length)
                + array_len(&u.nodes)
                + array_len(&u.additional_nodes)
                + buffer_len(u.signature.as_ref().map_or(0, Bytes::len));
        }
        if let Some(m) = &self.manifest {
            n += m.encoded_len();
        }
        n
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.uint(self.fork);
        if let Some(b) = &self.block {
            w.uint(b.index).buffer(&b.value).array(&b.nodes);
        }
        if let Some(h) = &self.hash {
            w.uint(h.index).array(&h.nodes);
        }
        if let Some(s) = &self.seek {
            w.uint(s.bytes).array(&s.nodes);
        }
        if let Some(u) = &self.upgrade {
            w.uint(u.start)
                .uint(u.length)
                .array(&u.nodes)
                .array(&u.additional_nodes)
                .optional_buffer(u.signature.as_deref());
        }
        if let Some(m) = &self.manifest {
            m.encode(w);
        }
    }

    fn decode_body(flags: u64, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let fork = r.uint()?;
        let block = if flags & FLAG_BLOCK != 0 {
            Some(DataBlock {
                index: r.uint()?,
                value: r.buffer_bytes()?,
                nodes: r.array(Node::MIN_ENCODED_LEN)?,
            })
        } else {
            None
        };
        let hash = if flags & FLAG_HASH != 0 {
            Some(DataHash {
                index: r.uint()?,
                nodes: r.array(Node::MIN_ENCODED_LEN)?,
            })
        } else {
            None
        };
        let seek = if flags & FLAG_SEEK != 0 {
            Some(DataSeek {
                bytes: r.uint()?,
                nodes: r.array(Node::MIN_ENCODED_LEN)?,
            })
        } else {
            None
        };
        let upgrade = if flags & FLAG_UPGRADE != 0 {
            Some(DataUpgrade {
                start: r.uint()?,
                length: r.uint()?,
                nodes: r.array(Node::MIN_ENCODED_LEN)?,
                additional_nodes: r.array(Node::MIN_ENCODED_LEN)?,
                signature: r.optional_buffer_bytes()?,
            })
        } else {
            None
        };
        let manifest = if flags & FLAG_MANIFEST != 0 {
            Some(Manifest::decode(r)?)
        } else {
            None
        };
        Ok(Self {
            fork,
            block,
            hash,
            seek,
            upgrade,
            manifest,
        })
    }
}

impl Encode for Data {
    fn encoded_len(&self) -> usize {
        uint_len(self.proof.flags()) + uint_len(self.request) + self.proof.body_len()
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.proof.flags()).uint(self.request);
        self.proof.encode_body(w);
    }
}

impl Decode for Data {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        let request = r.uint()?;
        let proof = Proof::decode_body(flags, r)?;
        Ok(Self { request, proof })
    }
}
