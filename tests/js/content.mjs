// Deterministic test content shared by peer.mjs (and reproduced by the Rust side).
//
// The byte stream sent by a peer on message type 0 is a sequence of 32-bit words,
// each serialised little-endian; byte k (k = 0, 1, 2, ... counted over the WHOLE
// stream that peer sends, across message boundaries) is
//
//     word(j) = fmix32((j + base) mod 2^32)        j = floor(k / 4)
//     byte(k) = (word(j) >> (8 * (k mod 4))) & 0xff
//
//     base = 0x00000000 for the stream sent by the Noise INITIATOR
//     base = 0x80000000 for the stream sent by the Noise RESPONDER
//
// where fmix32 is MurmurHash3's 32-bit finaliser (a bijection on u32; all
// arithmetic is mod 2^32, >> is a logical shift):
//
//     h ^= h >> 16;  h = h * 0x85ebca6b;  h ^= h >> 13;  h = h * 0xc2b2ae35;  h ^= h >> 16
//
// Rust:
//     fn fmix32(mut h: u32) -> u32 {
//         h ^= h >> 16; h = h.wrapping_mul(0x85eb_ca6b);
//         h ^= h >> 13; h = h.wrapping_mul(0xc2b2_ae35);
//         h ^ (h >> 16)
//     }
//     fn byte(k: u64, base: u32) -> u8 {
//         let w = fmix32(((k / 4) as u32).wrapping_add(base));
//         (w >> (8 * (k % 4))) as u8
//     }
//
// Check values (cross-checked with an independent Python implementation):
//   initiator stream bytes 0..16:  00000000 b7284e51 06c3f430 27b4f085
//   responder stream bytes 0..16:  a0653c6d 6a7a7f8b fdd9ab4e 39d2cab7
//   SHA-256 of the first 1 MiB, initiator:
//     dd079504cf480f66fc8c3f4d7dfd46e449e419038daabe348932a5d45e062103
//   SHA-256 of the first 1 MiB, responder:
//     bba5154af823126bd68b151681c01455e187f581196ef426803e1df5f655cb9f
//   SHA-256 of the first 64 MiB (67108864 bytes), initiator:
//     c69ba7c89876fa31c2d28483cf59263d816111bd9943c83f1ae9273075fe45b1
//   SHA-256 of the first 64 MiB, responder:
//     d895a6574ac2e68320911c06bd118273bc90f78c4d2c1e1eff27330945ef4dd3
// `node content.mjs` prints the 1 MiB values and more. The message boundaries (--chunk) do
// not affect the content: only the offset in the stream does.

export const BASE_INITIATOR = 0x00000000
export const BASE_RESPONDER = 0x80000000

export function fmix32(h) {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

export function baseFor(isInitiator) {
  return isInitiator ? BASE_INITIATOR : BASE_RESPONDER
}

// Fill buf with stream bytes [offset, offset + buf.length) for the given base.
export function fill(buf, offset, base) {
  const n = buf.length
  let i = 0
  let k = offset
  // leading unaligned bytes
  while (i < n && k % 4 !== 0) {
    buf[i++] = byteAt(k++, base)
  }
  // whole words
  let j = (Math.floor(k / 4) + base) >>> 0
  while (i + 4 <= n) {
    const w = fmix32(j)
    buf[i] = w & 0xff
    buf[i + 1] = (w >>> 8) & 0xff
    buf[i + 2] = (w >>> 16) & 0xff
    buf[i + 3] = w >>> 24
    i += 4
    j = (j + 1) >>> 0
  }
  k = offset + i
  // trailing bytes
  while (i < n) buf[i++] = byteAt(k++, base)
  return buf
}

export function byteAt(k, base) {
  const w = fmix32((Math.floor(k / 4) + base) >>> 0)
  return (w >>> (8 * (k % 4))) & 0xff
}

// Index of the first byte of buf that differs from the stream at offset, or -1.
// scratch: optional reusable Buffer of at least buf.length bytes.
export function firstMismatch(buf, offset, base, scratch = null) {
  const exp = fill(scratch && scratch.length >= buf.length ? scratch.subarray(0, buf.length) : Buffer.allocUnsafe(buf.length), offset, base)
  if (exp.equals(buf)) return -1
  for (let i = 0; i < buf.length; i++) if (buf[i] !== exp[i]) return i
  return -1
}

// `node content.mjs` prints check values for the Rust side.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { createHash } = await import('node:crypto')
  for (const [name, base] of [['initiator', BASE_INITIATOR], ['responder', BASE_RESPONDER]]) {
    const first = fill(Buffer.alloc(32), 0, base)
    const at = fill(Buffer.alloc(16), 1000003, base)
    const mib = fill(Buffer.alloc(1 << 20), 0, base)
    console.log(JSON.stringify({
      stream: name,
      base: '0x' + base.toString(16).padStart(8, '0'),
      first32: first.toString('hex'),
      bytes1000003to1000019: at.toString('hex'),
      sha256First1MiB: createHash('sha256').update(mib).digest('hex'),
      sha256Empty: createHash('sha256').digest('hex')
    }))
  }
}
