// Regenerates tests/vectors/wire/noise-ik.json: the Noise IK handshake as hyperdht runs it
// (lib/noise-wrap.js: noise-handshake 'IK' with noise-curve-ed, prologue NS.PEER_HANDSHAKE,
// a compact-encoded noisePayload on each message), what a finished handshake gives
// (tx, rx, hash, remote key, holepunch secret, stream ids), and the first bytes
// @hyperswarm/secret-stream writes when it is started from that handshake
// (`new NoiseSecretStream(isInitiator, raw, { handshake })`): the uint24le(56) header
// record, then one sealed message.
//
// Usage (from this folder):   npm ci && node gen-noise-ik.mjs [outdir]
// Default outdir: tests/vectors/wire. Deterministic: static and ephemeral key pairs come
// from fixed seeds (the ephemeral one is set on the handshake state before its first
// send, which is when noise-handshake would otherwise generate it), and the 24-byte
// secretstream headers are fixed: libsodium's init_push (which draws the header from its
// RNG) is replaced by one that writes the scenario's header and sets the state with
// init_pull, which computes the same state from (key, header) (checked below first).
// hyperdht itself is not installed here; its noisePayload layout (lib/messages.js:
// version, flags, error, firewall, then the optional parts the flags announce) is encoded
// with compact-encoding's own types.

import { createRequire } from 'module'
import fs from 'fs'
import path from 'path'
import { fileURLToPath } from 'url'
import { hex, pkgVersion } from './common.mjs'

const require = createRequire(import.meta.url)
const here = path.dirname(fileURLToPath(import.meta.url))
const OUT = path.resolve(process.argv[2] || path.join(here, '..', 'wire'))

const b4a = require('b4a')
const c = require('compact-encoding')
const sodium = require('sodium-universal')
const crypto = require('hypercore-crypto')
const NoiseHandshake = require('noise-handshake')
const curve = require('noise-curve-ed')
const { Duplex } = require('streamx')

// Fixed secretstream headers: the next init_push writes `nextHeader`.
const libsodiumInitPush = sodium.crypto_secretstream_xchacha20poly1305_init_push
{
  const key = b4a.alloc(32, 7)
  const header = b4a.alloc(24)
  const pushed = b4a.alloc(sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES)
  const pulled = b4a.alloc(sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES)
  libsodiumInitPush(pushed, header, key)
  sodium.crypto_secretstream_xchacha20poly1305_init_pull(pulled, header, key)
  if (!b4a.equals(pushed, pulled)) throw new Error('init_pull does not reproduce init_push on this libsodium')
}
let nextHeader = null
sodium.crypto_secretstream_xchacha20poly1305_init_push = function fixedInitPush (state, header, key) {
  if (nextHeader === null) throw new Error('unexpected init_push')
  header.set(nextHeader)
  nextHeader = null
  sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
}
const NoiseSecretStream = require('@hyperswarm/secret-stream')

// hyperdht lib/constants.js: namespace('hyperswarm/dht', [ANNOUNCE, UNANNOUNCE,
// MUTABLE_PUT, PEER_HANDSHAKE, PEER_HOLEPUNCH, PLUGIN]) with those commands 4, 5, 6, 0, 1, 10.
const [, , , NS_PEER_HANDSHAKE, NS_PEER_HOLEPUNCH] = crypto.namespace('hyperswarm/dht', [4, 5, 6, 0, 1, 10])

// hyperdht lib/messages.js noisePayload (version 1), for the parts used here.
const ipv4Array = c.array(c.ipv4Address)
function noisePayload (m) {
  const flags = (m.addresses4.length ? 2 : 0) | (m.udx ? 8 : 0) | (m.secretStream ? 16 : 0)
  const parts = [c.encode(c.uint, 1), c.encode(c.uint, flags), c.encode(c.uint, m.error), c.encode(c.uint, m.firewall)]
  if (m.addresses4.length) parts.push(c.encode(ipv4Array, m.addresses4))
  if (m.udx) {
    parts.push(c.encode(c.uint, 1), c.encode(c.uint, m.udx.reusableSocket ? 1 : 0))
    parts.push(c.encode(c.uint, m.udx.id), c.encode(c.uint, m.udx.seq))
  }
  if (m.secretStream) parts.push(c.encode(c.uint, 1))
  return b4a.concat(parts)
}

const seed = (byte) => b4a.alloc(32, byte)
const fill = (n, byte) => {
  const b = b4a.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (byte + i * 7) & 0xff
  return b
}

const CASES = [
  {
    name: 'hyperdht-peer-handshake',
    prologue: NS_PEER_HANDSHAKE,
    seeds: { initiatorStatic: 1, responderStatic: 2, initiatorEphemeral: 3, responderEphemeral: 4 },
    initiatorPayload: {
      error: 0, firewall: 1, addresses4: [{ host: '127.0.0.1', port: 49737 }], udx: { reusableSocket: false, id: 7, seq: 0 }, secretStream: {}
    },
    responderPayload: {
      error: 0, firewall: 2, addresses4: [{ host: '192.168.1.20', port: 40001 }, { host: '10.0.0.5', port: 40002 }], udx: { reusableSocket: true, id: 300, seq: 0 }, secretStream: {}
    },
    headers: { initiator: fill(24, 0x11), responder: fill(24, 0x22) },
    messages: { initiator: 'hello from the initiator', responder: 'hello from the responder' }
  },
  {
    name: 'empty-payloads',
    prologue: NS_PEER_HANDSHAKE,
    seeds: { initiatorStatic: 5, responderStatic: 6, initiatorEphemeral: 7, responderEphemeral: 8 },
    initiatorPayload: null,
    responderPayload: null,
    headers: { initiator: fill(24, 0x33), responder: fill(24, 0x44) },
    messages: { initiator: '', responder: 'x' }
  },
  {
    name: 'other-prologue-long-payloads',
    prologue: b4a.from('ferrocore ik vectors'),
    seeds: { initiatorStatic: 9, responderStatic: 10, initiatorEphemeral: 11, responderEphemeral: 12 },
    initiatorPayload: fill(1000, 1),
    responderPayload: fill(300, 2),
    headers: { initiator: fill(24, 0x55), responder: fill(24, 0x66) },
    messages: { initiator: 'a'.repeat(200), responder: 'b' }
  }
]

function payloadBytes (p) {
  if (p === null) return b4a.alloc(0)
  if (b4a.isBuffer(p)) return p
  return noisePayload(p)
}

function keyPairJ (kp, s) {
  return { seed: hex(s), publicKey: hex(kp.publicKey) }
}

// The bytes a secret-stream started from `handshake` writes first, then after one message.
async function secretStreamStart (isInitiator, handshake, header, message) {
  const writes = []
  const raw = new Duplex({
    write (data, cb) { writes.push(b4a.from(data)); cb(null) }
  })
  nextHeader = header
  const stream = new NoiseSecretStream(isInitiator, raw, { handshake })
  stream.on('error', () => {})
  await new Promise((resolve) => setImmediate(resolve))
  const first = b4a.concat(writes.splice(0))
  stream.write(b4a.from(message))
  await new Promise((resolve) => setImmediate(resolve))
  const second = b4a.concat(writes.splice(0))
  stream.destroy()
  return { headerFrame: first, messageFrame: second }
}

async function runCase (tc) {
  const kp = (byte) => curve.generateKeyPair(seed(byte))
  const is = kp(tc.seeds.initiatorStatic)
  const rs = kp(tc.seeds.responderStatic)
  const ie = kp(tc.seeds.initiatorEphemeral)
  const re = kp(tc.seeds.responderEphemeral)

  const ini = new NoiseHandshake('IK', true, is, { curve })
  const res = new NoiseHandshake('IK', false, rs, { curve })
  ini.initialise(tc.prologue, rs.publicKey)
  res.initialise(tc.prologue)
  const hashAfterInitialise = hex(ini.digest)
  if (hex(res.digest) !== hashAfterInitialise) throw new Error('initialise differs')
  ini.e = ie
  res.e = re

  const p1 = payloadBytes(tc.initiatorPayload)
  const p2 = payloadBytes(tc.responderPayload)
  // Hex taken at once: completing zero-fills the ephemeral keys, the remote ones in place
  // inside the received messages.
  const ephemerals = [keyPairJ(ie, seed(tc.seeds.initiatorEphemeral)), keyPairJ(re, seed(tc.seeds.responderEphemeral))]
  const msg1 = ini.send(p1)
  const message1 = hex(msg1)
  const hashAfterMessage1 = hex(ini.digest)
  const got1 = res.recv(msg1)
  if (!b4a.equals(got1, p1)) throw new Error('payload 1 differs')
  const msg2 = res.send(p2)
  const message2 = hex(msg2)
  const got2 = ini.recv(msg2)
  if (!b4a.equals(got2, p2)) throw new Error('payload 2 differs')
  if (!ini.complete || !res.complete) throw new Error('not complete')
  if (!b4a.equals(ini.hash, res.hash) || !b4a.equals(ini.tx, res.rx) || !b4a.equals(ini.rx, res.tx)) throw new Error('split differs')

  const holepunchSecret = b4a.alloc(32)
  sodium.crypto_generichash(holepunchSecret, NS_PEER_HOLEPUNCH, ini.hash)

  const side = async (hs, isInitiator, own, remote, header, message) => {
    const handshake = { tx: hs.tx, rx: hs.rx, hash: hs.hash, publicKey: own.publicKey, remotePublicKey: remote.publicKey }
    const { headerFrame, messageFrame } = await secretStreamStart(isInitiator, handshake, header, message)
    return {
      tx: hex(hs.tx),
      rx: hex(hs.rx),
      remotePublicKey: hex(hs.rs),
      streamId: hex(NoiseSecretStream.id(hs.hash, isInitiator)),
      remoteId: hex(NoiseSecretStream.id(hs.hash, !isInitiator)),
      secretstreamHeader: hex(header),
      headerFrame: hex(headerFrame),
      message: hex(b4a.from(message)),
      messageFrame: hex(messageFrame)
    }
  }

  return {
    name: tc.name,
    prologue: hex(tc.prologue),
    initiatorStatic: keyPairJ(is, seed(tc.seeds.initiatorStatic)),
    responderStatic: keyPairJ(rs, seed(tc.seeds.responderStatic)),
    initiatorEphemeral: ephemerals[0],
    responderEphemeral: ephemerals[1],
    initiatorPayload: hex(p1),
    initiatorPayloadFields: tc.initiatorPayload && !b4a.isBuffer(tc.initiatorPayload) ? tc.initiatorPayload : null,
    responderPayload: hex(p2),
    responderPayloadFields: tc.responderPayload && !b4a.isBuffer(tc.responderPayload) ? tc.responderPayload : null,
    hashAfterInitialise,
    hashAfterMessage1,
    message1,
    message2,
    hash: hex(ini.hash),
    holepunchSecret: hex(holepunchSecret),
    initiator: await side(ini, true, is, rs, tc.headers.initiator, tc.messages.initiator),
    responder: await side(res, false, rs, is, tc.headers.responder, tc.messages.responder)
  }
}

const names = ['noise-handshake', 'noise-curve-ed', '@hyperswarm/secret-stream', 'hypercore-crypto', 'compact-encoding', 'sodium-universal', 'sodium-native', 'b4a']
const versions = Object.fromEntries(names.map((n) => [n, pkgVersion(n)]))
const cases = []
for (const tc of CASES) cases.push(await runCase(tc))

const out = {
  generatedBy: 'tests/vectors/gen/gen-noise-ik.mjs',
  versions,
  protocolName: 'Noise_IK_Ed25519_ChaChaPoly_BLAKE2b',
  nsPeerHandshake: hex(NS_PEER_HANDSHAKE),
  nsPeerHolepunch: hex(NS_PEER_HOLEPUNCH),
  framing: 'headerFrame is the first write of a secret-stream started from the handshake: uint24le(56) || streamId || secretstream header; messageFrame is uint24le(len) || sealed(message)',
  cases
}
fs.mkdirSync(OUT, { recursive: true })
fs.writeFileSync(path.join(OUT, 'noise-ik.json'), JSON.stringify(out, null, 2) + '\n')
console.log(`wrote ${cases.length} IK cases to ${path.join(OUT, 'noise-ik.json')}`)
