//! A connected secret-stream fed a mix of genuine sealed records (in arbitrary pieces),
//! raw garbage, tampered records and time. No panic; until the first garbage or tampering,
//! every genuine message arrives whole and in order; tampering is always detected (at once,
//! or at the end for a tampered length prefix); a failure is sticky.
#![no_main]

use core::time::Duration;
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::stream::{Entropy, SecretStream, StreamConfig, StreamEvent};

fn pair() -> (SecretStream, SecretStream) {
    let config = StreamConfig {
        max_record_len: 1 << 16,
        ..StreamConfig::default()
    };
    let e = |b| Entropy {
        ephemeral_seed: [b; 32],
        header: [b; 24],
    };
    let mut a = SecretStream::initiator(config, KeyPair::from_seed([1; 32]), e(3), Duration::ZERO);
    let mut b = SecretStream::responder(config, KeyPair::from_seed([2; 32]), e(4), Duration::ZERO);
    for _ in 0..3 {
        while let Some(x) = a.poll_transmit() {
            b.handle_input(Duration::ZERO, &x).unwrap();
        }
        while let Some(x) = b.poll_transmit() {
            a.handle_input(Duration::ZERO, &x).unwrap();
        }
    }
    while b.poll_event().is_some() {}
    (a, b)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (mut a, mut b) = pair();
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut clean = true;
    let mut tampered = false;
    let mut now = Duration::ZERO;
    let mut rest = data;
    while rest.len() >= 2 {
        let (op, n) = (rest[0], usize::from(rest[1]));
        rest = &rest[2..];
        let take = n.min(rest.len());
        let (arg, tail) = rest.split_at(take);
        rest = tail;
        let result = match op % 4 {
            0 | 2 => {
                a.send(arg).unwrap();
                if !arg.is_empty() {
                    sent.push(arg.to_vec());
                }
                let mut bytes = a.poll_transmit().map(|b| b.to_vec()).unwrap_or_default();
                if op % 4 == 2 && !bytes.is_empty() {
                    let bit = (usize::from(op) * 7 + n) % (bytes.len() * 8);
                    bytes[bit / 8] ^= 1 << (bit % 8);
                    tampered = true;
                }
                let step = usize::from(op >> 2).max(1);
                bytes.chunks(step).try_for_each(|p| b.handle_input(now, p))
            }
            1 => {
                clean = false;
                b.handle_input(now, arg)
            }
            _ => {
                now += Duration::from_millis(n as u64 * 100);
                b.handle_timeout(now)
            }
        };
        while let Some(ev) = b.poll_event() {
            if let StreamEvent::Message(m) = ev {
                got.push(m.to_vec());
            }
        }
        if clean && !tampered {
            assert_eq!(got[..], sent[..got.len()]);
        }
        assert!(b.buffered_input() <= 3 + (1 << 16));
        if let Err(e) = result {
            assert_eq!(b.handle_input(now, &[0]), Err(e));
            assert!(b.poll_transmit().is_none());
            return;
        }
    }
    let end = b.handle_end();
    if clean && !tampered {
        assert!(end.is_ok());
        assert_eq!(got, sent, "every genuine message arrived");
    } else if tampered && clean {
        assert!(end.is_err(), "tampering is detected by the end");
    }
});
