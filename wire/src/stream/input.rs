//! Input: units parsed from the socket's bytes in any chunking, whole records opened
//! straight from the input, handshake messages and header records.

use super::*;

impl SecretStream {
    /// Bytes from the socket, in any chunking. Complete units are processed at once; their
    /// results wait in [`poll_event`](Self::poll_event) and
    /// [`poll_transmit`](Self::poll_transmit). An error fails the stream for good: the
    /// caller should drop the connection (the reference destroys the socket, with no
    /// goodbye on the wire).
    pub fn handle_input(&mut self, now: Duration, mut bytes: &[u8]) -> Result<(), StreamError> {
        self.tick(now);
        if let Phase::Failed(e) = self.phase {
            return Err(e);
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if self.ended_remotely {
            return self.fail(StreamError::DataAfterEnd);
        }
        self.last_received = now;
        while !bytes.is_empty() {
            // The complete records at the front of `bytes`, once the stream is open, are
            // decrypted straight from `bytes` into one buffer their messages then share:
            // one allocation per input, and no copy of the ciphertext first.
            let run = self.complete_records(bytes);
            if run > 0 {
                if let Err(e) = self.open_records(&bytes[..run]) {
                    return self.fail(e);
                }
                bytes = &bytes[run..];
                continue;
            }
            // Otherwise take only what completes the current unit, so a bad prefix is
            // refused before its body is buffered and the buffer never holds more than
            // one unit.
            let want = match self.unit_len() {
                Ok(Some(body)) => PREFIX_LEN + body,
                Ok(None) => PREFIX_LEN,
                Err(e) => return self.fail(e),
            };
            let take = want
                .saturating_sub(self.input.len())
                .min(bytes.len())
                .max(1);
            // Room for what arrived, not for what the prefix announces: a 3-byte prefix must
            // not make us hold a 16 MiB buffer. The buffer grows by doubling as the unit
            // arrives (realloc, which for large buffers remaps rather than copies; the
            // capacity past what arrived is never touched, so it costs no memory).
            self.input.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if let Err(e) = self.drain_units() {
                return self.fail(e);
            }
        }
        Ok(())
    }

    /// How many bytes at the front of `bytes` are complete records of an open stream with
    /// valid lengths, when nothing is buffered; 0 otherwise (the unit-by-unit path then
    /// buffers, and refuses a bad prefix with its error).
    pub(super) fn complete_records(&self, bytes: &[u8]) -> usize {
        if !self.input.is_empty() || !matches!(self.phase, Phase::Open(_)) {
            return 0;
        }
        whole_records(bytes)
            .take_while(|record| self.check_record_len(record.len()).is_ok())
            .map(|record| PREFIX_LEN + record.len())
            .sum()
    }

    /// Opens `run`, whole records found by [`complete_records`](Self::complete_records),
    /// into one buffer of `u24 length ‖ plaintext` per non-empty record, in order (see
    /// [`Queued::Run`]).
    pub(super) fn open_records(&mut self, run: &[u8]) -> Result<(), StreamError> {
        let Phase::Open(pull) = &mut self.phase else {
            return Err(StreamError::Malformed("records before the stream is open"));
        };
        let total = whole_records(run)
            .map(|r| match r.len().saturating_sub(ABYTES) {
                0 => 0,
                len => PREFIX_LEN + len,
            })
            .sum();
        let mut plain = BytesMut::zeroed(total);
        let mut at = 0;
        let mut result = Ok(());
        for record in whole_records(run) {
            let len = record.len().saturating_sub(ABYTES);
            let opened = if len == 0 {
                // A keep-alive: opened (the pull state advances), nothing queued.
                pull.open_into(record, &mut [])
            } else {
                plain[at..at + PREFIX_LEN].copy_from_slice(&(len as u32).to_le_bytes()[..3]);
                pull.open_into(record, &mut plain[at + PREFIX_LEN..at + PREFIX_LEN + len])
            };
            if let Err(e) = opened {
                // The records before this one still count.
                result = Err(e.into());
                break;
            }
            if len > 0 {
                at += PREFIX_LEN + len;
            }
        }
        plain.truncate(at);
        if at > 0 {
            self.events.push_back(Queued::Run(plain.freeze()));
        }
        result
    }

    /// The body length of the unit at the front of the input, once its prefix is in;
    /// checked against what the current phase allows.
    pub(super) fn unit_len(&self) -> Result<Option<usize>, StreamError> {
        if self.input.len() < PREFIX_LEN {
            return Ok(None);
        }
        let len = get_u24(&self.input);
        match &self.phase {
            Phase::Handshake(h) => {
                let expected = h.expected_len();
                if expected == Some(len) {
                    Ok(Some(len))
                } else {
                    Err(StreamError::Handshake(NoiseError::BadLength {
                        message: h.expected_message(),
                        len,
                        expected: expected.unwrap_or(0),
                    }))
                }
            }
            Phase::AwaitHeader { .. } => {
                if len == HEADER_RECORD_LEN {
                    Ok(Some(len))
                } else {
                    Err(StreamError::Malformed("invalid header message received"))
                }
            }
            Phase::Open(_) => self.check_record_len(len).map(Some),
            Phase::Failed(e) => Err(*e),
        }
    }

    /// A record body length an open stream accepts: at least a tag and a MAC, at most
    /// the configured maximum.
    pub(super) fn check_record_len(&self, len: usize) -> Result<usize, StreamError> {
        if len < ABYTES {
            Err(StreamError::Malformed("record shorter than 17 bytes"))
        } else if len > self.config.max_record_len {
            Err(StreamError::Oversize {
                len,
                max: self.config.max_record_len,
            })
        } else {
            Ok(len)
        }
    }

    /// Processes every complete unit in the input.
    pub(super) fn drain_units(&mut self) -> Result<(), StreamError> {
        while let Some(body_len) = self.unit_len()? {
            if self.input.len() < PREFIX_LEN + body_len {
                return Ok(());
            }
            let mut unit = self.input.split_to(PREFIX_LEN + body_len);
            let _ = unit.split_to(PREFIX_LEN);
            self.handle_unit(unit)?;
        }
        Ok(())
    }

    pub(super) fn handle_unit(&mut self, mut body: BytesMut) -> Result<(), StreamError> {
        match &mut self.phase {
            Phase::Handshake(h) => {
                let reply = h.read_message(&body)?;
                let result = if h.is_done() { Some(h.finish()?) } else { None };
                if let Some(reply) = reply {
                    self.write_unit(&reply);
                }
                if let Some(result) = result {
                    self.complete(&result);
                }
                Ok(())
            }
            Phase::AwaitHeader {
                pull_key,
                remote_id,
            } => {
                if body[..STREAM_ID_LEN] != remote_id[..] {
                    return Err(StreamError::StreamIdMismatch);
                }
                let mut header = [0u8; HEADER_LEN];
                header.copy_from_slice(&body[STREAM_ID_LEN..]);
                let pull = Box::new(Pull::new(pull_key, &header));
                self.phase = Phase::Open(pull);
                Ok(())
            }
            Phase::Open(pull) => {
                let (_tag, plain) = pull.open(&mut body)?;
                let len = plain.len();
                if len > 0 {
                    let mut body = body.freeze();
                    body.truncate(1 + len);
                    self.events
                        .push_back(Queued::Event(StreamEvent::Message(body.slice(1..))));
                }
                Ok(())
            }
            Phase::Failed(e) => Err(*e),
        }
    }
}
