// Regenerates the wire-protocol test vectors (tests/vectors/wire/*.json) by
// running the JavaScript reference stack (hypercore 11, protomux,
// @hyperswarm/secret-stream, noise-handshake, compact-encoding).
//
// Usage (from this folder):   npm ci && node gen-wire.mjs [outdir]
// Default outdir: tests/vectors/wire (../wire from this script). scripts/gen-vectors
// passes a temporary folder instead and compares it with tests/vectors/wire.
//
// Nothing in node_modules is modified. Every run writes byte-identical files, because
//  - the static key pairs come from fixed ed25519 seeds,
//  - noise-curve-ed's generateKeyPair is replaced at runtime (fixed ephemeral keys),
//  - the hypercore writer key pair and block contents are fixed,
//  - Math.random (which hypercore's replicator uses to pick which block to request
//    next) is a seeded generator, re-seeded from the scenario name before each session,
//  - the reader's tree-node look-ups for its requests (MerkleTree.missingNodes) complete
//    in the order they were called, so concurrent requests are written in a fixed order,
//  - libsodium's crypto_secretstream_xchacha20poly1305_init_push, which draws the 24-byte
//    secretstream header from libsodium's own RNG, is replaced at runtime by one that
//    takes the header from a BLAKE2b hash of a label and a counter and then sets the state
//    with init_pull on that header. libsodium's init_push and init_pull compute the same
//    state from (key, header); checkInitPushEquivalence() below asserts that on this
//    libsodium before anything is generated.

import { createRequire } from 'module'
import fs from 'fs'
import os from 'os'
import path from 'path'
import { fileURLToPath } from 'url'

const require = createRequire(import.meta.url)
const here = path.dirname(fileURLToPath(import.meta.url))
const OUT = path.resolve(process.argv[2] || path.join(here, '..', 'wire'))

// A seeded Math.random, installed before hypercore is loaded (its replicator reads
// Math.random at load time too). splitmix32-style: a Weyl sequence through a 32-bit mixer.
let randomState = 0
function seedRandom (text) {
  randomState = 0x811c9dc5
  for (const ch of text) randomState = Math.imul(randomState ^ ch.charCodeAt(0), 0x01000193) >>> 0
}
Math.random = function seededRandom () {
  randomState = (randomState + 0x9e3779b9) >>> 0
  let z = randomState
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  z = (z ^ (z >>> 16)) >>> 0
  return z / 4294967296
}
seedRandom('gen-wire')

const c = require('compact-encoding')
const b4a = require('b4a')
const sodium = require('sodium-universal')

// Deterministic secretstream headers (see the header comment). The label is the scenario
// name; the counter counts the push states opened in that scenario.
const libsodiumInitPush = sodium.crypto_secretstream_xchacha20poly1305_init_push
let headerLabel = 'gen-wire'
let headerCount = 0
function checkInitPushEquivalence () {
  const key = b4a.alloc(sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES)
  sodium.randombytes_buf(key)
  const header = b4a.alloc(sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES)
  const pushed = b4a.alloc(sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES)
  const pulled = b4a.alloc(sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES)
  libsodiumInitPush(pushed, header, key)
  sodium.crypto_secretstream_xchacha20poly1305_init_pull(pulled, header, key)
  if (!b4a.equals(pushed, pulled)) throw new Error('init_pull does not reproduce init_push on this libsodium')
}
checkInitPushEquivalence()
sodium.crypto_secretstream_xchacha20poly1305_init_push = function seededInitPush (state, header, key) {
  sodium.crypto_generichash(header, b4a.from(`ferrocore vectors secretstream header ${headerLabel} ${headerCount++}`))
  sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
}
const { Duplex } = require('streamx')
const Hypercore = require('hypercore')
const hcrypto = require('hypercore-crypto')
const Protomux = require('protomux')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const requireFromHypercore = createRequire(require.resolve('hypercore'))
const messages = requireFromHypercore('./lib/messages.js')
const caps = requireFromHypercore('./lib/caps.js')
// A reader's replicator looks up the tree nodes a block request needs
// (MerkleTree.missingNodes, a storage read) before it writes the request, so two requests
// made in one tick reach the wire in whichever order their reads complete. Chaining the
// lookups in call order keeps the values and makes that order the order of the calls.
const { MerkleTree } = requireFromHypercore('./lib/merkle-tree.js')
const libMissingNodes = MerkleTree.missingNodes
let missingNodesTail = Promise.resolve()
MerkleTree.missingNodes = function missingNodesInCallOrder (...args) {
  const result = missingNodesTail.then(() => libMissingNodes.apply(MerkleTree, args))
  missingNodesTail = result.catch(() => {})
  return result
}
const requireFromSS = createRequire(require.resolve('@hyperswarm/secret-stream'))
const curve = requireFromSS('noise-curve-ed')
const NoiseState = requireFromSS('noise-handshake')
const { Pull, ABYTES, HEADERBYTES } = requireFromSS('sodium-secretstream')

const wire = messages.wire
const HC_TYPES = ['sync', 'request', 'cancel', 'data', 'noData', 'want', 'unwant', 'bitfield', 'range', 'extension']

function versions () {
  const names = ['hypercore', 'protomux', '@hyperswarm/secret-stream', 'noise-handshake', 'noise-curve-ed',
    'sodium-secretstream', 'sodium-universal', 'sodium-native', 'compact-encoding', 'hypercore-crypto', 'b4a', 'streamx']
  const out = {}
  for (const n of names) {
    try {
      // package.json of a dependency, resolved from node_modules next to this script
      let dir = path.dirname(require.resolve(n))
      while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'))).name !== n) dir = path.dirname(dir)
      out[n] = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'))).version
    } catch { out[n] = null }
  }
  return out
}

const hex = (b) => b4a.toString(b, 'hex')
const fromHex = (s) => b4a.from(s, 'hex')
const seed = (byte) => b4a.alloc(32, byte)

function jsonable (v) {
  if (v === null || v === undefined) return null
  if (v instanceof Uint32Array) return { uint32array: Array.from(v), hex: hex(b4a.from(v.buffer, v.byteOffset, v.byteLength)) }
  if (b4a.isBuffer(v) || v instanceof Uint8Array) return hex(v)
  if (Array.isArray(v)) return v.map(jsonable)
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'object') {
    const o = {}
    for (const k of Object.keys(v)) o[k] = jsonable(v[k])
    return o
  }
  return v
}

function write (name, obj) {
  fs.mkdirSync(OUT, { recursive: true })
  fs.writeFileSync(path.join(OUT, name), JSON.stringify(obj, null, 2) + '\n')
  console.log('wrote', name)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------
// 1. compact-encoding primitives
// ---------------------------------------------------------------------------

function encVectors () {
  const cases = []
  const add = (type, enc, value, note) => {
    const buf = c.encode(enc, value)
    const dec = c.decode(enc, buf)
    cases.push({ type, value: jsonable(value), hex: hex(buf), decoded: jsonable(dec), ...(note ? { note } : {}) })
  }
  for (const n of [0, 1, 0x7f, 0x80, 0xfc, 0xfd, 0xfe, 0xff, 0x100, 0x1234, 0xffff, 0x10000, 0x12345678, 0xffffffff, 0x100000000, 0x123456789abc, Number.MAX_SAFE_INTEGER]) add('uint', c.uint, n)
  for (const n of [0, 1, 0xff]) add('uint8', c.uint8, n)
  for (const n of [0, 1, 0x1234, 0xffff]) add('uint16', c.uint16, n)
  for (const n of [0, 0x123456, 0xffffff]) add('uint24', c.uint24, n)
  for (const n of [0, 0x12345678, 0xffffffff]) add('uint32', c.uint32, n)
  for (const n of [0, 0x12345678, 0x100000000, 0x123456789abc, Number.MAX_SAFE_INTEGER]) add('uint64', c.uint64, n)
  for (const n of [0, -1, 1, -2, 2, 63, -64, 126, 127, -127, 1000, -1000]) add('int', c.int, n, 'zig-zag then varint uint')
  add('bool', c.bool, true)
  add('bool', c.bool, false)
  add('fixed32', c.fixed32, b4a.from(Array.from({ length: 32 }, (_, i) => i)))
  add('fixed64', c.fixed64, b4a.from(Array.from({ length: 64 }, (_, i) => 255 - i)))
  add('buffer', c.buffer, b4a.alloc(0))
  add('buffer', c.buffer, b4a.from('hello'))
  add('buffer', c.buffer, b4a.alloc(300, 0xaa))
  add('optionalBuffer', c.optionalBuffer, null, 'null encodes as a single 0x00 length byte; an empty buffer also decodes as null')
  add('optionalBuffer', c.optionalBuffer, b4a.from('hi'))
  add('raw', c.raw, b4a.from('raw bytes, no length'), 'raw consumes the rest of the current state/frame')
  add('string', c.string, '')
  add('string', c.string, 'hypercore/alpha')
  add('string', c.string, 'héllo ✓', 'utf-8, length prefix is the byte length')
  add('array(uint)', c.array(c.uint), [1, 300, 70000])
  add('array(fixed32)', c.array(c.fixed32), [b4a.alloc(32, 1), b4a.alloc(32, 2)])
  add('uint32array', c.uint32array, new Uint32Array([0x1f, 0xffffffff, 0x80000001]), 'length prefix counts 32-bit elements; elements little-endian')
  add('frame(string)', c.frame(c.string), 'abc', 'frame = uint byte length of the inner encoding, then the inner encoding')

  const decodeOnly = []
  const tryDecode = (type, enc, h, note) => {
    let result
    try { result = { decoded: jsonable(c.decode(enc, fromHex(h))) } } catch (err) { result = { error: err.message } }
    decodeOnly.push({ type, hex: h, ...result, note })
  }
  tryDecode('uint', c.uint, 'fd0100', 'non-canonical (1 in the 3-byte form) is ACCEPTED by the JS decoder')
  tryDecode('uint', c.uint, 'fe01000000', 'non-canonical accepted')
  tryDecode('uint', c.uint, 'ff0000000000002000', '2^53 > MAX_SAFE_INTEGER is rejected')
  tryDecode('uint', c.uint, 'fd01', 'truncated')
  tryDecode('bool', c.bool, '02', 'any byte other than 0x01 decodes as false')
  tryDecode('buffer', c.buffer, '05616263', 'declared length longer than data')
  tryDecode('optionalBuffer', c.optionalBuffer, '00', 'zero length -> null')
  return { cases, decodeOnly }
}

// ---------------------------------------------------------------------------
// 2. hypercore wire messages
// ---------------------------------------------------------------------------

function node (index, size, fill) { return { index, size, hash: b4a.alloc(32, fill) } }

function messageVectors () {
  const cap = b4a.from(Array.from({ length: 32 }, (_, i) => 0xa0 + (i & 0x0f)))
  const sig = b4a.alloc(64, 0x5a)
  const samples = {
    handshake: [
      { seeks: true, capability: cap },
      { seeks: false, capability: cap }
    ],
    sync: [
      { fork: 0, length: 5, remoteLength: 0, canUpgrade: true, uploading: true, downloading: true, hasManifest: true, allowPush: false },
      { fork: 2, length: 300, remoteLength: 300, canUpgrade: false, uploading: true, downloading: false, hasManifest: false, allowPush: true }
    ],
    request: [
      { id: 1, fork: 0, block: { index: 3, nodes: 2 }, hash: null, seek: null, upgrade: null, manifest: false, priority: 0 },
      { id: 2, fork: 0, block: null, hash: null, seek: null, upgrade: { start: 0, length: 5 }, manifest: true, priority: 0 },
      { id: 3, fork: 1, block: { index: 6, nodes: 0 }, hash: null, seek: null, upgrade: { start: 5, length: 2 }, manifest: false, priority: 0 },
      { id: 4, fork: 0, block: null, hash: { index: 10, nodes: 3 }, seek: { bytes: 1000, padding: 0 }, upgrade: null, manifest: false, priority: 2 },
      { id: 300, fork: 0, block: { index: 70000, nodes: 1 }, hash: null, seek: null, upgrade: null, manifest: false, priority: 0 }
    ],
    cancel: [{ request: 1 }, { request: 1000 }],
    data: [
      { request: 1, fork: 0, block: { index: 3, value: b4a.from('block-3'), nodes: [node(4, 14, 0x11), node(1, 14, 0x22)] }, hash: null, seek: null, upgrade: null, manifest: null },
      { request: 2, fork: 0, block: null, hash: null, seek: null, upgrade: { start: 0, length: 5, nodes: [node(3, 28, 0x33), node(8, 7, 0x44)], additionalNodes: [], signature: sig }, manifest: null },
      { request: 3, fork: 0, block: { index: 0, value: b4a.from('a'), nodes: [] }, hash: null, seek: null, upgrade: { start: 0, length: 1, nodes: [], additionalNodes: [node(2, 2, 0x55)], signature: sig }, manifest: null },
      { request: 4, fork: 0, block: null, hash: { index: 10, nodes: [node(8, 7, 0x66)] }, seek: { bytes: 1000, nodes: [node(1, 14, 0x77)] }, upgrade: null, manifest: null },
      {
        request: 5,
        fork: 0,
        block: null,
        hash: null,
        seek: null,
        upgrade: null,
        manifest: { version: 1, hash: 'blake2b', allowPatch: false, quorum: 1, signers: [{ signature: 'ed25519', namespace: caps.DEFAULT_NAMESPACE, publicKey: b4a.alloc(32, 0x99) }], prologue: null, linked: null, userData: null }
      }
    ],
    noData: [{ request: 7, reason: 0 }, { request: 7, reason: 1 }, { request: 7, reason: 2 }],
    want: [{ start: 0, length: 2097152, any: false }, { start: 4194304, length: 2097152, any: true }],
    unwant: [{ start: 0, length: 2097152, any: false }, { start: 0, length: 64, any: true }],
    bitfield: [{ start: 0, bitfield: new Uint32Array([0x1f]) }, { start: 32768, bitfield: new Uint32Array([0xffffffff, 0x00000001]) }],
    range: [{ drop: false, start: 0, length: 5 }, { drop: false, start: 6, length: 1 }, { drop: true, start: 10, length: 20 }, { drop: true, start: 3, length: 1 }],
    extension: [{ name: 'my-ext', message: b4a.from('payload') }, { name: '', message: b4a.from('same ext as last time') }],
    reorgHint: [{ from: 5, to: 3, ancestors: 2 }]
  }
  const out = {}
  for (const [name, list] of Object.entries(samples)) {
    out[name] = list.map((value) => {
      const buf = c.encode(wire[name], value)
      return { value: jsonable(value), hex: hex(buf), decoded: jsonable(c.decode(wire[name], buf)) }
    })
  }
  // decode-side leniency
  const lenient = [
    { type: 'noData', hex: '07', decoded: jsonable(c.decode(wire.noData, fromHex('07'))), note: 'older peers omit the flags byte; a missing trailing flags uint decodes as 0' },
    { type: 'want', hex: '0080', decoded: jsonable(c.decode(wire.want, fromHex('0080'))), note: 'flags omitted when any=false' }
  ]
  const manifests = {
    v1_single_signer: { value: jsonable(samples.data[4].manifest), hex: hex(c.encode(messages.manifest, samples.data[4].manifest)) }
  }
  return { types: HC_TYPES.map((n, i) => ({ id: i, name: n })), messages: out, lenientDecoding: lenient, manifests }
}

// ---------------------------------------------------------------------------
// helpers: in-memory duplex pair, protomux frame decoding
// ---------------------------------------------------------------------------

class Pipe extends Duplex {
  constructor () { super(); this.other = null; this.log = null; this.side = null }
  write (data) {
    if (this.log) this.log(this.side, data) // log synchronously, in call order
    return super.write(data)
  }

  _write (data, cb) {
    this.other.push(data)
    cb(null)
  }

  _final (cb) { this.other.push(null); cb(null) }
}

function pipePair (log) {
  const a = new Pipe()
  const b = new Pipe()
  a.other = b
  b.other = a
  a.side = 'A'
  b.side = 'B'
  a.log = b.log = log
  return [a, b]
}

// channel table: per sender, localId -> { protocol, id }
function makeFrameDecoder () {
  const opened = { initiator: new Map(), responder: new Map(), A: new Map(), B: new Map() }
  const decodeChannelMessage = (from, channel, type, buf, start, end) => {
    const info = opened[from].get(channel)
    const payload = buf.subarray(start, end)
    if (!info) return { channel, type, payloadHex: hex(payload), meaning: 'message on unknown channel' }
    if (info.protocol === 'hypercore/alpha' || info.protocol === 'hypercore') {
      const name = HC_TYPES[type]
      let value = null
      try { value = jsonable(c.decode(wire[name], payload)) } catch (err) { value = { error: err.message } }
      return { channel, type, name, payloadHex: hex(payload), value }
    }
    if (info.decode) {
      let value
      try { value = info.decode(type, payload) } catch (err) { value = { error: err.message } }
      return { channel, type, protocol: info.protocol, payloadHex: hex(payload), value }
    }
    return { channel, type, protocol: info.protocol, payloadHex: hex(payload) }
  }

  function decode (from, buf, userDecoders = {}) {
    if (buf.byteLength === 0) return { kind: 'empty', meaning: 'zero-length frame (keep-alive); ignored by protomux' }
    const state = { start: 0, end: buf.byteLength, buffer: buf }
    const channel = c.uint.decode(state)
    const type = c.uint.decode(state)
    if (channel !== 0) return { kind: 'message', ...decodeChannelMessage(from, channel, type, buf, state.start, state.end) }
    if (type === 1) {
      const localId = c.uint.decode(state)
      const protocol = c.string.decode(state)
      const id = c.optionalBuffer.decode(state)
      const hsBytes = buf.subarray(state.start)
      let handshake = null
      if (protocol === 'hypercore/alpha') handshake = jsonable(c.decode(wire.handshake, hsBytes))
      else if (userDecoders[protocol]) handshake = userDecoders[protocol].handshake(hsBytes)
      opened[from].set(localId, { protocol, id, decode: userDecoders[protocol] ? userDecoders[protocol].message : null })
      return { kind: 'open', localId, protocol, id: id && hex(id), handshakeHex: hex(hsBytes), handshake }
    }
    if (type === 2) return { kind: 'reject', remoteId: c.uint.decode(state), meaning: 'rejects the open that the receiver of this frame sent with this (its own local) id' }
    if (type === 3) return { kind: 'close', localId: c.uint.decode(state) }
    if (type === 0) {
      const items = []
      let ch = c.uint.decode(state)
      const end = state.end
      while (state.start < end) {
        const len = c.uint.decode(state)
        if (len === 0) { ch = c.uint.decode(state); continue }
        const sub = buf.subarray(state.start, state.start + len)
        state.start += len
        if (ch === 0) {
          // control message inside a batch: the entry is "type, payload" (no leading channel 0)
          const inner = decode(from, b4a.concat([b4a.from([0]), sub]), userDecoders)
          items.push({ channel: 0, entryHex: hex(sub), ...inner })
        } else {
          const s2 = { start: 0, end: sub.byteLength, buffer: sub }
          const t = c.uint.decode(s2)
          items.push({ entryHex: hex(sub), kind: 'message', ...decodeChannelMessage(from, ch, t, sub, s2.start, s2.end) })
        }
      }
      return { kind: 'batch', items }
    }
    return { kind: 'unknown-control', type }
  }
  return decode
}

// ---------------------------------------------------------------------------
// 3. protomux frames (plain in-memory pipe, no encryption)
// ---------------------------------------------------------------------------

async function protomuxVectors () {
  const frames = []
  const decode = makeFrameDecoder()
  const userDecoders = {
    'example/v1': {
      handshake: (b) => c.decode(c.string, b),
      message: (type, b) => (type === 0 ? c.decode(c.string, b) : c.decode(c.uint, b))
    }
  }
  let step = ''
  const [sa, sb] = pipePair((side, data) => {
    frames.push({ seq: frames.length, from: side, step, hex: hex(data), decoded: decode(side, data, userDecoders) })
  })
  const ma = new Protomux(sa)
  const mb = new Protomux(sb)
  const id = b4a.from('channel-id-bytes')
  const opts = (label) => ({
    protocol: 'example/v1',
    id,
    handshake: c.string,
    messages: [{ encoding: c.string, onmessage: () => {} }, { encoding: c.uint, onmessage: () => {} }],
    onopen: () => {}
  })
  // B answers incoming opens of example/v1 (any id) by creating and opening its own channel
  const bChannels = []
  mb.pair({ protocol: 'example/v1' }, (remoteId) => {
    const ch = mb.createChannel({ ...opts('B'), id: remoteId })
    ch.open(remoteId ? 'world' : 'second-reply')
    bChannels.push(ch)
  })
  step = 'A opens channel example/v1 with id, handshake string "hello"'
  const ca = ma.createChannel(opts('A'))
  ca.open('hello')
  step = 'B (paired on example/v1) answers with its own open, handshake "world"'
  await sleep(20)
  const cb = bChannels[0]
  step = 'A sends message type 0 (string "hi")'
  ca.messages[0].send('hi')
  step = 'A sends message type 1 (uint 300)'
  ca.messages[1].send(300)
  await sleep(20)
  step = 'A opens a second channel example/v1 without id; B answers'
  const ca2 = ma.createChannel({ ...opts('A2'), id: null })
  ca2.open('second')
  await sleep(20)
  step = 'B sends type 0 "from-b" on its channel for the first pairing'
  cb.messages[0].send('from-b')
  await sleep(20)
  step = 'A corks, sends 2 messages on channel 1 and 1 on channel 2, uncorks -> one batch frame'
  ma.cork()
  ca.messages[0].send('one')
  ca.messages[1].send(1)
  ca2.messages[0].send('two')
  ma.uncork()
  await sleep(20)
  step = 'A opens protocol "nobody/listens"; B has no channel or pair for it and rejects'
  const cx = ma.createChannel({ protocol: 'nobody/listens', onclose: () => {} })
  cx.open()
  await sleep(50)
  step = 'A closes its first channel'
  ca.close()
  await sleep(20)
  step = 'B tries to close the first channel too: nothing is sent, it was already closed by the remote close'
  cb.close()
  await sleep(20)
  sa.destroy()
  sb.destroy()
  return { note: 'Frames exchanged between two Protomux instances over a plain in-memory pipe (no secret-stream). Each entry is exactly one stream write = one frame.', frames }
}

// ---------------------------------------------------------------------------
// 4. Noise XX handshake (deterministic) with intermediate state
// ---------------------------------------------------------------------------

const STATIC_I_SEED = seed(0x01)
const STATIC_R_SEED = seed(0x02)
const EPH_I_SEED = seed(0x03)
const EPH_R_SEED = seed(0x04)

function kp (s) { return NoiseSecretStream.keyPair(s) }

function noiseVectors () {
  const sI = kp(STATIC_I_SEED)
  const sR = kp(STATIC_R_SEED)
  const eI = curve.generateKeyPair(EPH_I_SEED)
  const eR = curve.generateKeyPair(EPH_R_SEED)
  const ini = new NoiseState('XX', true, sI, { curve })
  const res = new NoiseState('XX', false, sR, { curve })
  // pre-seed the ephemeral keys (send() only generates one if e is null). Copies are
  // handed over because noise-handshake zero-fills e after the handshake.
  ini.e = curve.generateKeyPair(EPH_I_SEED)
  res.e = curve.generateKeyPair(EPH_R_SEED)
  const snap = (n) => ({ h: hex(n.digest), ck: hex(n.chainingKey), k: n.key ? hex(n.key) : null, n: n.nonce })
  const hookFinal = (n, label, out) => {
    const orig = n.final.bind(n)
    n.final = () => { out[label] = { h: hex(n.digest), ck: hex(n.chainingKey) }; orig() }
  }
  const beforeSplit = {}
  hookFinal(ini, 'initiator', beforeSplit)
  hookFinal(res, 'responder', beforeSplit)
  ini.initialise(b4a.alloc(0))
  res.initialise(b4a.alloc(0))
  const init = { initiator: snap(ini), responder: snap(res) }
  // hex() immediately: the receiver keeps a view of the remote ephemeral key inside the
  // message buffer and zero-fills it when the handshake completes
  const msg1 = ini.send()
  const msg1hex = hex(msg1)
  const after1send = snap(ini)
  res.recv(b4a.from(msg1))
  const after1recv = snap(res)
  const msg2 = res.send()
  const msg2hex = hex(msg2)
  const after2send = snap(res)
  ini.recv(b4a.from(msg2))
  const after2recv = snap(ini)
  const msg3 = ini.send()
  const msg3hex = hex(msg3)
  res.recv(b4a.from(msg3))
  // DH values as computed by noise-curve-ed
  const dh = {
    ee: hex(curve.dh(eR.publicKey, eI)),
    es_initiator_e_x_responder_s: hex(curve.dh(sR.publicKey, eI)),
    es_responder_s_x_initiator_e: hex(curve.dh(eI.publicKey, sR)),
    se_initiator_s_x_responder_e: hex(curve.dh(eR.publicKey, sI)),
    se_responder_e_x_initiator_s: hex(curve.dh(sI.publicKey, eR))
  }
  // the scalar actually used for a libsodium ed25519 secret key
  const scalarOf = (secretKey) => {
    const h = b4a.alloc(64)
    sodium.crypto_hash_sha512(h, secretKey.subarray(0, 32))
    h[0] &= 248; h[31] &= 127; h[31] |= 64
    return hex(h.subarray(0, 32))
  }
  return {
    protocolName: 'Noise_XX_Ed25519_ChaChaPoly_BLAKE2b',
    protocolNameHex: hex(b4a.from('Noise_XX_Ed25519_ChaChaPoly_BLAKE2b')),
    prologueHex: '',
    keys: {
      initiatorStatic: { seed: hex(STATIC_I_SEED), publicKey: hex(sI.publicKey), secretKey: hex(sI.secretKey), scalar: scalarOf(sI.secretKey) },
      responderStatic: { seed: hex(STATIC_R_SEED), publicKey: hex(sR.publicKey), secretKey: hex(sR.secretKey), scalar: scalarOf(sR.secretKey) },
      initiatorEphemeral: { seed: hex(EPH_I_SEED), publicKey: hex(eI.publicKey), secretKey: hex(eI.secretKey), scalar: scalarOf(eI.secretKey) },
      responderEphemeral: { seed: hex(EPH_R_SEED), publicKey: hex(eR.publicKey), secretKey: hex(eR.secretKey), scalar: scalarOf(eR.secretKey) }
    },
    dh,
    states: { afterInitialise: init, initiatorAfterSendMsg1: after1send, responderAfterRecvMsg1: after1recv, responderAfterSendMsg2: after2send, initiatorAfterRecvMsg2: after2recv, beforeSplit },
    messages: { msg1: msg1hex, msg2: msg2hex, msg3: msg3hex },
    result: {
      handshakeHash: hex(ini.hash),
      handshakeHashResponderView: hex(res.hash),
      initiatorTx: hex(ini.tx),
      initiatorRx: hex(ini.rx),
      responderTx: hex(res.tx),
      responderRx: hex(res.rx),
      initiatorRemoteStatic: hex(ini.rs),
      responderRemoteStatic: hex(res.rs)
    },
    eph: { eI, eR, sI, sR }
  }
}

// ---------------------------------------------------------------------------
// 5. full sessions: secret-stream + protomux + hypercore, deterministic handshake
// ---------------------------------------------------------------------------

const origGenerate = curve.generateKeyPair
let ephQueue = []
curve.generateKeyPair = function (priv) {
  if (!priv && ephQueue.length) return origGenerate(ephQueue.shift())
  return origGenerate(priv)
}

async function waitFor (fn, ms = 5000) {
  const start = Date.now()
  while (!(await fn())) {
    if (Date.now() - start > ms) throw new Error('timeout waiting')
    await sleep(5)
  }
}

async function runSession ({ name, description, blocks, live, scenario }) {
  seedRandom(name)
  headerLabel = name
  headerCount = 0
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gen-wire-'))
  const writerKeyPair = hcrypto.keyPair(seed(0x10))
  const writer = new Hypercore(path.join(tmp, 'writer'), { keyPair: writerKeyPair })
  await writer.ready()
  if (blocks.length) await writer.append(blocks.map((b) => b4a.from(b)))
  const reader = new Hypercore(path.join(tmp, 'reader'), writer.key)
  await reader.ready()

  ephQueue = [EPH_I_SEED, EPH_R_SEED]
  const sI = kp(STATIC_I_SEED)
  const sR = kp(STATIC_R_SEED)
  // writer is the Noise initiator, reader the responder
  const s1 = writer.replicate(true, { keyPair: sI, keepAlive: false })
  const s2 = reader.replicate(false, { keyPair: sR, keepAlive: false })

  const raw = []
  const plain = []
  const decode = makeFrameDecoder()
  let step = 'open'
  s1.on('data', (d) => raw.push({ seq: raw.length, from: 'initiator', hex: hex(d) }))
  s2.on('data', (d) => raw.push({ seq: raw.length, from: 'responder', hex: hex(d) }))
  for (const [ns, from, role] of [[s1.noiseStream, 'initiator', 'writer'], [s2.noiseStream, 'responder', 'reader']]) {
    const origWrite = ns.write.bind(ns)
    ns.write = (buf) => {
      const copy = b4a.from(buf) // the buffer is encrypted in place later
      plain.push({ seq: plain.length, from, role, step, hex: hex(copy), decoded: decode(from, copy) })
      return origWrite(buf)
    }
  }
  s1.pipe(s2).pipe(s1)

  await scenario({ writer, reader, setStep: (s) => { step = s } })
  await sleep(100)

  const n1 = s1.noiseStream
  const n2 = s2.noiseStream
  const transport = {
    handshakeHash: hex(n1.handshakeHash),
    initiatorPublicKey: hex(n1.publicKey),
    responderPublicKey: hex(n2.publicKey),
    initiatorTxKey: hex(n1._encrypt.key),
    initiatorRxKey: hex(n1._decrypt.key),
    responderTxKey: hex(n2._encrypt.key),
    responderRxKey: hex(n2._decrypt.key),
    initiatorStreamId: hex(NoiseSecretStream.id(n1.handshakeHash, true)),
    responderStreamId: hex(NoiseSecretStream.id(n1.handshakeHash, false)),
    initiatorSecretstreamHeader: hex(n1._encrypt.header),
    responderSecretstreamHeader: hex(n2._encrypt.header)
  }
  const hcKeys = {
    writerPublicKey: hex(writerKeyPair.publicKey),
    writerSecretKey: hex(writerKeyPair.secretKey),
    coreKey: hex(writer.key),
    discoveryKey: hex(writer.discoveryKey),
    manifest: jsonable(writer.core.header.manifest),
    manifestEncodedHex: hex(c.encode(messages.manifest, writer.core.header.manifest)),
    capabilityInitiatorSends: hex(caps.replicate(true, writer.key, n1.handshakeHash)),
    capabilityResponderSends: hex(caps.replicate(false, writer.key, n1.handshakeHash))
  }

  // Annotate the raw stream: handshake, id-header, then encrypted frames that we decrypt
  // again here with fresh Pull states to prove the mapping raw -> plaintext.
  const pulls = {
    initiator: { key: n2._decrypt.key, state: null, setup: 0, hs: 0 }, // frames FROM initiator are decrypted with responder rx
    responder: { key: n1._decrypt.key, state: null, setup: 0, hs: 0 }
  }
  const hsCount = { initiator: 2, responder: 1 } // initiator sends msg1+msg3, responder msg2
  let hsIndex = 0
  const hsNames = ['msg1', 'msg2', 'msg3']
  for (const r of raw) {
    const buf = fromHex(r.hex)
    const len = buf[0] | (buf[1] << 8) | (buf[2] << 16)
    r.lengthPrefix = len
    const body = buf.subarray(3)
    const p = pulls[r.from]
    if (body.byteLength !== len) r.warning = 'chunk does not contain exactly one length-prefixed message'
    if (p.hs < hsCount[r.from]) {
      p.hs++
      r.kind = 'noise-handshake'
      r.noiseMessage = hsNames[hsIndex++]
      continue
    }
    if (p.state === null) {
      r.kind = 'stream-id-and-secretstream-header'
      r.streamId = hex(body.subarray(0, 32))
      r.secretstreamHeader = hex(body.subarray(32))
      p.state = new Pull(p.key)
      p.state.init(body.subarray(32))
      continue
    }
    r.kind = 'secretstream-message'
    const pt = p.state.next(body)
    r.tagByte = p.state.final ? 'final' : 'message'
    r.plaintextHex = hex(pt)
  }
  // cross-check ordering: n-th transport message from a side == n-th plaintext write of that side
  for (const from of ['initiator', 'responder']) {
    const a = raw.filter((r) => r.from === from && r.kind === 'secretstream-message').map((r) => r.plaintextHex)
    const b = plain.filter((p) => p.from === from).map((p) => p.hex)
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error('raw/plaintext mismatch for ' + from)
  }

  const summary = { writerLength: writer.length, readerLength: reader.length, readerContiguousLength: reader.contiguousLength }
  await writer.close()
  await reader.close()
  s1.destroy()
  s2.destroy()
  fs.rmSync(tmp, { recursive: true, force: true })
  return {
    name,
    description,
    roles: { initiator: 'writer (has the blocks, Noise initiator)', responder: 'reader (Noise responder)' },
    noiseStatic: { initiatorSeed: hex(STATIC_I_SEED), responderSeed: hex(STATIC_R_SEED) },
    noiseEphemeral: { initiatorSeed: hex(EPH_I_SEED), responderSeed: hex(EPH_R_SEED) },
    blocks: blocks.map((b) => ({ utf8: b, hex: hex(b4a.from(b)) })),
    liveAppends: (live || []).map((b) => ({ utf8: b, hex: hex(b4a.from(b)) })),
    hypercore: hcKeys,
    transport,
    result: summary,
    plaintextFrames: plain,
    rawChunks: raw
  }
}

async function main () {
  const meta = { generatedBy: 'tests/vectors/gen/gen-wire.mjs', versions: versions() }

  const enc = encVectors()
  write('compact-encoding.json', { ...meta, ...enc })

  const msgs = messageVectors()
  write('hypercore-messages.json', { ...meta, ...msgs })

  const pm = await protomuxVectors()
  write('protomux-frames.json', { ...meta, ...pm })

  const nv = noiseVectors()
  const { eph, ...noiseOut } = nv

  const constants = {
    ...meta,
    hypercoreNamespace: Object.fromEntries(['TREE', 'REPLICATE_INITIATOR', 'REPLICATE_RESPONDER', 'MANIFEST', 'DEFAULT_NAMESPACE', 'DEFAULT_ENCRYPTION']
      .map((k, i) => [k, hex(hcrypto.namespace('hypercore', 6)[i])])),
    secretStreamNamespace: Object.fromEntries(['NS_INITIATOR', 'NS_RESPONDER', 'NS_SEND']
      .map((k, i) => [k, hex(hcrypto.namespace('hyperswarm/secret-stream', 3)[i])])),
    blake2b256_of_hypercore_ascii: hex(hcrypto.hash(b4a.from('hypercore'))),
    discoveryKeyExample: { key: hex(b4a.alloc(32, 0x42)), discoveryKey: hex(hcrypto.discoveryKey(b4a.alloc(32, 0x42))) },
    capabilityExample: {
      key: hex(b4a.alloc(32, 0x42)),
      handshakeHash: hex(b4a.alloc(64, 0x24)),
      initiator: hex(caps.replicate(true, b4a.alloc(32, 0x42), b4a.alloc(64, 0x24))),
      responder: hex(caps.replicate(false, b4a.alloc(32, 0x42), b4a.alloc(64, 0x24)))
    },
    secretstream: { ABYTES, HEADERBYTES, idHeaderBytes: 32 + HEADERBYTES }
  }
  write('constants.json', constants)

  const sessions = []
  const s1 = await runSession({
    name: 'download-all-then-live',
    description: 'Writer (initiator) has 5 blocks; reader (responder) runs a live download of range [0, -1) and gets all 5, then the writer appends 2 more which the reader receives live.',
    blocks: ['block-0', 'block-1', 'block-2', 'block-3', 'block-4'],
    live: ['live-5', 'live-6'],
    scenario: async ({ writer, reader, setStep }) => {
      setStep('reader starts live download [0,-1)')
      const dl = reader.download({ start: 0, end: -1 })
      await waitFor(() => reader.contiguousLength === 5)
      await sleep(100)
      setStep('writer appends live-5, live-6')
      await writer.append([b4a.from('live-5'), b4a.from('live-6')])
      await waitFor(() => reader.contiguousLength === 7)
      await sleep(100)
      setStep('after live appends')
      dl.destroy()
    }
  })
  sessions.push(s1)

  const s2 = await runSession({
    name: 'sparse-get',
    description: 'Writer (initiator) has 5 blocks; reader (responder) only calls get(3) (sparse, no download range).',
    blocks: ['block-0', 'block-1', 'block-2', 'block-3', 'block-4'],
    live: [],
    scenario: async ({ reader, setStep }) => {
      setStep('reader get(3)')
      const v = await reader.get(3)
      if (b4a.toString(v) !== 'block-3') throw new Error('bad block')
      await sleep(100)
      setStep('idle')
    }
  })
  sessions.push(s2)

  // The secret-stream handshake bytes must equal the standalone Noise vectors.
  const hsFromSession = s1.rawChunks.filter((r) => r.kind === 'noise-handshake').map((r) => r.hex.slice(6))
  if (hsFromSession.join() !== [noiseOut.messages.msg1, noiseOut.messages.msg2, noiseOut.messages.msg3].join()) {
    throw new Error('session handshake differs from standalone noise vector')
  }
  noiseOut.secretStream = {
    framing: 'each handshake message is sent as uint24le(length) || message on the raw stream',
    framedMessages: s1.rawChunks.filter((r) => r.kind === 'noise-handshake').map((r) => ({ from: r.from, name: r.noiseMessage, hex: r.hex })),
    transport: s1.transport,
    firstTransportChunks: s1.rawChunks.filter((r) => r.kind !== 'noise-handshake').slice(0, 8)
  }
  write('noise-handshake.json', { ...meta, ...noiseOut })

  for (const s of sessions) write('session-' + s.name + '.json', { ...meta, ...s })
}

main().then(() => { process.exit(0) }, (err) => { console.error(err); process.exit(1) })
