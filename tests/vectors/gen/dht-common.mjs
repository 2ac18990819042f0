// Shared by the DHT vector generators (gen-dht.mjs, dht-rpc.mjs): deterministic bytes,
// the deterministic randomness installed into the modules, sample addresses and values.
//
// Importing this module replaces sodium.randombytes_buf and noise-curve-ed's
// generateKeyPair (at runtime; nothing in node_modules is modified) with functions drawing
// from a BLAKE2b stream of a label (see reseed).

import { createRequire } from 'module'
import { hex } from './common.mjs'

const require = createRequire(import.meta.url)
const b4a = require('b4a')
const sodium = require('sodium-universal')
const hcrypto = require('hypercore-crypto')
const curve = require('noise-curve-ed')


// `n` deterministic bytes: BLAKE2b-256(label ‖ ':' ‖ i) blocks.
export function det(label, n) {
  const out = b4a.alloc(n)
  for (let i = 0; i * 32 < n; i++) {
    const h = hcrypto.hash(b4a.from(label + ':' + i))
    out.set(h.subarray(0, Math.min(32, n - i * 32)), i * 32)
  }
  return out
}

// Deterministic randomness for the modules: sodium.randombytes_buf and Noise ephemerals.
let rngLabel = 'rng'
let rngCount = 0
export const reseed = (label) => {
  rngLabel = label
  rngCount = 0
}
sodium.randombytes_buf = (buf) => buf.set(det(rngLabel + '#' + rngCount++, buf.byteLength))
const realGenerateKeyPair = curve.generateKeyPair
curve.generateKeyPair = (priv) =>
  realGenerateKeyPair(priv || det(rngLabel + '#e' + rngCount++, 32))

export const keyPairOf = (label) => hcrypto.keyPair(det('seed ' + label, 32))

// JSON form of a decoded value: byte strings as hex, everything else as it is.
export function norm(v) {
  if (v === null || v === undefined) return null
  if (b4a.isBuffer(v) || v instanceof Uint8Array) return hex(v)
  if (Array.isArray(v)) return v.map(norm)
  if (typeof v === 'object') {
    const o = {}
    for (const k of Object.keys(v)) o[k] = norm(v[k])
    return o
  }
  return v
}

// An address as dht-rpc hands it up ({ id, host, port }), without the id.
export const addrJ = (a) => (a ? { host: a.host, port: a.port } : null)

export const V4 = [
  { host: '1.2.3.4', port: 1 },
  { host: '255.255.255.255', port: 65535 },
  { host: '0.0.0.0', port: 0 },
  { host: '127.0.0.1', port: 49737 },
  { host: '10.0.0.1', port: 256 },
  { host: '88.99.3.86', port: 49737 }
]
export const V6 = [
  { host: '::1', port: 1 },
  { host: '2001:db8::ff00:42:8329', port: 65535 },
  { host: 'fe80:0:0:0:0:0:0:1', port: 0 },
  { host: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 443 },
  { host: '::', port: 7 }
]
export const MAX = Number.MAX_SAFE_INTEGER
export const UINTS = [0, 1, 252, 253, 65535, 65536, 2 ** 32 - 1, 2 ** 32, MAX]
export const v4s = (n, off = 0) => Array.from({ length: n }, (_, i) => V4[(i + off) % V4.length])
export const v6s = (n, off = 0) => Array.from({ length: n }, (_, i) => V6[(i + off) % V6.length])
export const VALUES = [
  b4a.alloc(0),
  b4a.from([0]),
  b4a.from('hello world'),
  b4a.from('ünïcødé ✓ 🚀 値'),
  det('value 252', 252),
  det('value 253', 253),
  det('value 300', 300)
]
