// Deterministic block contents for the hypercore interop tests and the replication
// benchmark (hypercore-peer.mjs, hypercore-selftest.mjs, bench-replicate.mjs; the Rust
// side reproduces it).
//
// Block `index` (0-based) of core `core` (0-based core number in the peer), for a block
// size of `size` bytes, is the first `size` bytes of
//
//     SHA-256("ferrocore <core> <index> 0") ‖ SHA-256("ferrocore <core> <index> 1") ‖ ...
//
// i.e. the concatenation of SHA-256(ASCII "ferrocore " + core + " " + index + " " + k)
// for k = 0, 1, 2, ... (decimal numbers without leading zeros, single spaces, no
// trailing newline), truncated to `size` bytes.
//
// Rust:
//     fn block_value(core: u64, index: u64, size: usize) -> Vec<u8> {
//         let mut out = Vec::with_capacity(size + 32);
//         let mut k = 0u64;
//         while out.len() < size {
//             out.extend_from_slice(&Sha256::digest(format!("ferrocore {core} {index} {k}")));
//             k += 1;
//         }
//         out.truncate(size);
//         out
//     }
//
// Check values (`node blocks.mjs` prints them; cross-checked with Python's hashlib):
//   blockValue(0, 0, 40)    = 46a669ad0fe8379f860bdee5386512834a6d9582b39c779cd26abaa22df7ac0a
//                             e2ad6948dc2bb5b6
//   blockValue(2, 7, 5)     = 1ec31bd2bc
//   SHA-256(blockValue(1, 199, 1000))  =
//       413edb350b58c5f36ef3240aeb860360e1e4275756df3483ed84becec31dc8d0
//   SHA-256(blockValue(0, 12345, 4096)) =
//       6accd90f19f2456edd78688aea1bb2df65ccb8a0a6e70abe69bc30bebc876dd3
//
// Uses sodium-native's SHA-256 (installed with hypercore; ~2.5x faster than node:crypto
// for these short inputs: ~0.1 ms per 4 KiB block), node:crypto if it is missing.

import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'

let sodium = null
try {
  sodium = createRequire(import.meta.url)('sodium-native')
} catch {}

const digest = Buffer.alloc(32)

export function blockValue(core, index, size) {
  const out = Buffer.allocUnsafe(Math.ceil(size / 32) * 32)
  const prefix = 'ferrocore ' + core + ' ' + index + ' '
  for (let k = 0, o = 0; o < size; k++, o += 32) {
    if (sodium) {
      sodium.crypto_hash_sha256(digest, Buffer.from(prefix + k, 'latin1'))
      out.set(digest, o)
    } else {
      createHash('sha256').update(prefix + k).digest().copy(out, o)
    }
  }
  return size === out.length ? out : out.subarray(0, size)
}

export function sha256hex(buf) {
  return createHash('sha256').update(buf).digest('hex')
}

if (import.meta.url === 'file://' + process.argv[1]) {
  console.log('blockValue(0, 0, 40) =', blockValue(0, 0, 40).toString('hex'))
  console.log('blockValue(2, 7, 5) =', blockValue(2, 7, 5).toString('hex'))
  console.log('SHA-256(blockValue(1, 199, 1000)) =', sha256hex(blockValue(1, 199, 1000)))
  console.log('SHA-256(blockValue(0, 12345, 4096)) =', sha256hex(blockValue(0, 12345, 4096)))
}
