// Regenerates the DHT codec vectors (tests/vectors/dht/*.json) by running the JavaScript
// reference (dht-rpc 6.27.0, hyperdht 6.34.0 on compact-encoding 3.5.2, pinned by
// package.json and package-lock.json next to this script).
//
// Usage (from this folder):   npm ci && node gen-dht.mjs [outDir]
// (rpc.json is written by dht-rpc.mjs; dht-common.mjs holds the shared samples.)
// Default outDir: tests/vectors/dht. scripts/gen-vectors passes a temporary folder instead and
// compares it with tests/vectors/dht.
//
// Every byte string comes from the real modules:
//  - rpc.json: dht-rpc's own IO and Request classes (lib/io.js) encode requests and replies
//    (their `_encodeRequest` / `_sendReply`, the bytes captured from a stand-in socket's
//    trySend) and decode them (`Request.decode`, and `IO.onmessage` for replies, whose
//    decoder is not exported); node ids from lib/peer.js, tokens from `IO.token`.
//  - messages.json: every codec of hyperdht/lib/messages.js, through c.encode / c.decode.
//  - payloads.json: real NoiseWrap IK handshakes (lib/noise-wrap.js) give the handshake hash
//    and holepunch secret; lib/secure-payload.js seals and opens the holepunch payloads.
//  - signables.json: lib/persistent.js signs announces, unannounces and mutable puts; the
//    signable is what it hands a key pair's `sign` function.
//
// Deterministic: key pairs come from fixed seeds; noise-curve-ed's generateKeyPair (Noise
// ephemeral keys) and sodium's randombytes_buf (secrets, nonces) are replaced at runtime by
// functions drawing from a BLAKE2b stream of a label; dht-rpc's token secrets are set.
// Nothing in node_modules is modified.

import fs from 'fs'
import path from 'path'
import { fileURLToPath } from 'url'
import { createRequire } from 'module'
import { assert, hex, pkgVersion, writer } from './common.mjs'
import { det, reseed, keyPairOf, norm, V4, V6, MAX, UINTS, v4s, v6s, VALUES } from './dht-common.mjs'
import { rpc } from './dht-rpc.mjs'

const require = createRequire(import.meta.url)
const here = path.dirname(fileURLToPath(import.meta.url))
const OUT = path.resolve(process.argv[2] || path.join(here, '..', 'dht'))
fs.mkdirSync(OUT, { recursive: true })

const b4a = require('b4a')
const c = require('compact-encoding')
const sodium = require('sodium-universal')
const hcrypto = require('hypercore-crypto')

const rpcPeer = require('dht-rpc/lib/peer.js')
const m = require('hyperdht/lib/messages.js')
const constants = require('hyperdht/lib/constants.js')
const NoiseWrap = require('hyperdht/lib/noise-wrap.js')
const SecurePayload = require('hyperdht/lib/secure-payload.js')
const Persistent = require('hyperdht/lib/persistent.js')

const GENERATOR = {
  script: 'tests/vectors/gen/gen-dht.mjs',
  packages: Object.fromEntries(
    [
      'hyperdht',
      'dht-rpc',
      'compact-encoding',
      'compact-encoding-net',
      'noise-handshake',
      'noise-curve-ed',
      'hypercore-crypto',
      'sodium-universal'
    ].map((n) => [n, pkgVersion(n)])
  )
}

const write = writer(OUT, GENERATOR)

// ---------------------------------------------------------------------------------------
// messages.json: every hyperdht message codec.

const CODECS = {
  handshake: m.handshake,
  holepunch: m.holepunch,
  noisePayload: m.noisePayload,
  holepunchPayload: m.holepunchPayload,
  peer: m.peer,
  peers: m.peers,
  announce: m.announce,
  lookupRawReply: m.lookupRawReply,
  mutableSignable: m.mutableSignable,
  mutablePutRequest: m.mutablePutRequest,
  mutableGetResponse: m.mutableGetResponse,
  mutableGetRequest: c.uint,
  pluginRequest: m.pluginRequest
}

function decodeJ(type, buf) {
  try {
    return { value: norm(c.decode(CODECS[type], buf)) }
  } catch (err) {
    return { error: err.message }
  }
}

function messages() {
  const cases = []
  const add = (type, name, value) => {
    const buf = c.encode(CODECS[type], value)
    const d = decodeJ(type, buf)
    assert(!d.error, `${type} ${name} decodes: ${d.error}`)
    cases.push({ type, name, hex: hex(buf), value: d.value, encode: true })
  }
  const addRaw = (type, name, bytes) => {
    const d = decodeJ(type, bytes)
    cases.push({ type, name, hex: hex(bytes), value: d.value ?? null, error: d.error ?? null, encode: false })
  }

  // handshake
  for (let mode = 0; mode <= 4; mode++) {
    for (let flags = 0; flags < 4; flags++) {
      for (const noise of [VALUES[0], det('noise ' + mode, 96), VALUES[5]]) {
        add('handshake', `mode=${mode} flags=${flags} noise=${noise.byteLength}`, {
          mode,
          noise,
          peerAddress: flags & 1 ? V4[(mode + flags) % V4.length] : null,
          relayAddress: flags & 2 ? V4[(mode + flags + 1) % V4.length] : null
        })
      }
    }
  }
  add('handshake', 'mode=252', { mode: 252, noise: VALUES[1], peerAddress: null, relayAddress: null })

  // holepunch
  for (let mode = 0; mode <= 4; mode++) {
    for (const id of UINTS) {
      for (const withAddr of [false, true]) {
        add('holepunch', `mode=${mode} id=${id} peerAddress=${withAddr}`, {
          mode,
          id,
          payload: id % 2 ? det('hp payload ' + id, 80) : VALUES[0],
          peerAddress: withAddr ? V4[mode] : null
        })
      }
    }
  }

  // noisePayload: all 128 flag combinations
  for (let flags = 0; flags < 128; flags++) {
    const k = flags % 5
    add('noisePayload', `flags=${flags}`, {
      error: [0, 1, 2, 3, 16][k],
      firewall: k % 4,
      holepunch: flags & 1 ? { id: UINTS[k * 2], relays: Array.from({ length: k % 3 }, (_, i) => ({ relayAddress: V4[i], peerAddress: V4[i + 1] })) } : null,
      addresses4: flags & 2 ? v4s(1 + k, k) : [],
      addresses6: flags & 4 ? v6s(1 + (k % 4), k) : [],
      udx: flags & 8 ? { reusableSocket: k % 2 === 1, id: UINTS[8 - k], seq: UINTS[k + 3] } : null,
      secretStream: flags & 16 ? {} : null,
      relayThrough: flags & 32 ? { publicKey: det('relay pk ' + flags, 32), token: det('relay token ' + flags, 32) } : null,
      relayAddresses: flags & 64 ? v4s(k % 3, k + 1) : null
    })
  }
  add('noisePayload', 'empty address lists', { error: 0, firewall: 0, holepunch: null, addresses4: [], addresses6: [], udx: null, secretStream: null, relayThrough: null, relayAddresses: null })

  // holepunchPayload: all 64 flag combinations
  for (let flags = 0; flags < 64; flags++) {
    const k = flags % 4
    add('holepunchPayload', `flags=${flags}`, {
      connected: (flags & 1) !== 0,
      punching: (flags & 2) !== 0,
      error: k,
      firewall: 3 - k,
      round: [0, 1, 100, 252][k],
      addresses: flags & 4 ? v4s(k, flags) : null,
      remoteAddress: flags & 8 ? V4[k] : null,
      token: flags & 16 ? det('hp token ' + flags, 32) : null,
      remoteToken: flags & 32 ? det('hp remote token ' + flags, 32) : null
    })
  }

  // peer, peers
  const peerOf = (i, relays) => ({ publicKey: keyPairOf('peer ' + i).publicKey, relayAddresses: v4s(relays, i) })
  for (const relays of [0, 1, 3, 5]) add('peer', `relays=${relays}`, peerOf(relays, relays))
  for (const count of [0, 1, 3, 20]) {
    add('peers', `count=${count}`, Array.from({ length: count }, (_, i) => peerOf(i, i % 4)))
  }

  // announce: all 16 flag combinations
  for (let flags = 0; flags < 16; flags++) {
    for (const bump of [1, 1733580000000, MAX]) {
      if (!(flags & 8) && bump !== 1) continue
      add('announce', `flags=${flags} bump=${flags & 8 ? bump : 0}`, {
        peer: flags & 1 ? peerOf(flags, flags % 4) : null,
        refresh: flags & 2 ? det('refresh ' + flags, 32) : null,
        signature: flags & 4 ? det('signature ' + flags, 64) : null,
        bump: flags & 8 ? bump : 0
      })
    }
  }

  // lookupRawReply (encoded from raw peer records, decoded into peers)
  for (const [count, bump] of [[0, 0], [1, 0], [3, 5], [20, MAX], [2, 1733580000000]]) {
    const records = Array.from({ length: count }, (_, i) => c.encode(m.peer, peerOf(i, i % 4)))
    add('lookupRawReply', `peers=${count} bump=${bump}`, { peers: records, bump })
  }

  // mutable records
  for (const seq of UINTS) {
    for (const value of [VALUES[0], VALUES[3], VALUES[6]]) {
      const signature = det('mutable sig ' + seq, 64)
      add('mutableSignable', `seq=${seq} value=${value.byteLength}`, { seq, value })
      add('mutablePutRequest', `seq=${seq} value=${value.byteLength}`, { publicKey: keyPairOf('mutable').publicKey, seq, value, signature })
      add('mutableGetResponse', `seq=${seq} value=${value.byteLength}`, { seq, value, signature })
    }
    add('mutableGetRequest', `seq=${seq}`, seq)
  }

  // pluginRequest
  for (const plugin of ['', 'x', 'ünïcødé ✓ 🚀', 'p'.repeat(300)]) {
    for (const value of [null, VALUES[0], VALUES[2], VALUES[6]]) {
      add('pluginRequest', `plugin=${plugin.length} value=${value ? value.byteLength : null}`, { plugin, version: plugin.length, command: value ? MAX : 0, value })
    }
  }

  // Bytes no encoder writes: the decoders' view.
  const B = (...a) => b4a.from(a.flat())
  const ip = [9, 8, 7, 6, 0x10, 0x27]
  addRaw('handshake', 'flags as a 3-byte uint', B(0xfd, 0x01, 0x00, 0x02, 0x01, 0xaa, ip))
  addRaw('handshake', 'unknown flag bits', B(0xfc, 0x02, 0x00))
  addRaw('handshake', 'mode 65535', B(0x00, 0xfd, 0xff, 0xff, 0x00))
  addRaw('handshake', 'peerAddress flag without address', B(0x01, 0x00, 0x00, 1, 2, 3))
  addRaw('holepunch', 'unknown flag bits', B(0x06, 0x04, 0x05, 0x01, 0xbb))
  addRaw('holepunch', 'payload past the end', B(0x00, 0x00, 0x00, 0x05, 1, 2))
  addRaw('noisePayload', 'version 0', B(0x00, 0xff, 0xff))
  addRaw('noisePayload', 'version 2 with fields', B(0x02, 0x7f, 0x01, 0x01))
  addRaw('noisePayload', 'version 1000', B(0xfd, 0xe8, 0x03))
  addRaw('noisePayload', 'version 1, no flags', B(0x01))
  addRaw('noisePayload', 'unknown flag bits', B(0x01, 0x80, 0x01, 0x00, 0x01, 0x02))
  addRaw('noisePayload', 'udx version 2 features 3', B(0x01, 0x08, 0x00, 0x00, 0x02, 0x03, 0x05, 0x06))
  addRaw('noisePayload', 'udx features 2', B(0x01, 0x08, 0x00, 0x00, 0x01, 0x02, 0x05, 0x06))
  addRaw('noisePayload', 'secretStream version 9', B(0x01, 0x10, 0x00, 0x00, 0x09))
  addRaw('noisePayload', 'relayThrough version 5 flags 7', B(0x01, 0x20, 0x00, 0x00, 0x05, 0x07, Array(32).fill(1), Array(32).fill(2)))
  addRaw('noisePayload', 'addresses4 flag with none', B(0x01, 0x02, 0x00, 0x00, 0x00))
  addRaw('noisePayload', 'addresses6 count above 0x100000', B(0x01, 0x04, 0x00, 0x00, 0xfe, 0x01, 0x00, 0x10, 0x00))
  addRaw('noisePayload', 'holepunch relays past the end', B(0x01, 0x01, 0x00, 0x00, 0x05, 0x02, Array(12).fill(3)))
  addRaw('noisePayload', 'trailing bytes', B(0x01, 0x00, 0x00, 0x00, 0x99, 0x98))
  addRaw('holepunchPayload', 'unknown flag bits', B(0xc0, 0x00, 0x00, 0x00))
  addRaw('holepunchPayload', 'round 2^53-1', B(0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00))
  addRaw('holepunchPayload', 'round 2^53', B(0x00, 0x00, 0x00, 0xff, 0, 0, 0, 0, 0, 0, 0x20, 0))
  addRaw('peer', 'relay count past the end', B(Array(32).fill(4), 0x02, ip))
  addRaw('peers', 'count above 0x100000', B(0xfe, 0x01, 0x00, 0x10, 0x00))
  addRaw('peers', 'count 0x100000 past the end', B(0xfe, 0x00, 0x00, 0x10, 0x00))
  addRaw('announce', 'bump flag with bump 0', B(0x08, 0x00))
  addRaw('announce', 'unknown flag bits', B(0xf0))
  addRaw('lookupRawReply', 'no bump', B(0x00))
  addRaw('lookupRawReply', 'empty', B())
  addRaw('mutableGetRequest', 'uint64 form of 1', B(0xff, 1, 0, 0, 0, 0, 0, 0, 0))
  addRaw('pluginRequest', 'invalid utf-8 name', B(0x03, 0xff, 0xc3, 0x28, 0x01, 0x02, 0x00))
  addRaw('pluginRequest', 'value flag 3', B(0x00, 0x01, 0x02, 0x03, 0x02, 0xaa, 0xbb))
  // Every prefix of some encodings.
  const sources = cases.filter((x) => x.encode).filter((_, i) => i % 7 === 0)
  for (const s of sources) {
    const bytes = b4a.from(s.hex, 'hex')
    for (const cut of new Set([0, 1, 2, Math.floor(bytes.byteLength / 2), bytes.byteLength - 1])) {
      if (cut >= 0 && cut < bytes.byteLength) addRaw(s.type, `${s.name} cut at ${cut}`, bytes.subarray(0, cut))
    }
  }

  write('messages.json', {
    description:
      'hyperdht 6.34.0 lib/messages.js codecs (and c.uint for the mutable get request). encode: true cases are c.encode(type, value) (the value shown is what c.decode gives back); encode: false cases are bytes no encoder writes, with what c.decode makes of them (value) or its error.',
    dhtConstants: {
      commands: constants.COMMANDS,
      firewall: constants.FIREWALL,
      errors: constants.ERROR,
      modes: routerModes(),
      namespaces: Object.fromEntries(Object.entries(constants.NS).map(([k, v]) => [k, hex(v)]))
    },
    dhtMessages: cases
  })
  return cases.length
}

// The handshake/holepunch modes are module-local constants of hyperdht/lib/router.js.
function routerModes() {
  const src = fs.readFileSync(require.resolve('hyperdht/lib/router.js'), 'utf8')
  const modes = {}
  for (const [, k, v] of src.matchAll(/^const (FROM_[A-Z_]+|REPLY) = (\d+)$/gm)) modes[k] = Number(v)
  assert(Object.keys(modes).length === 5, 'five modes in router.js')
  return modes
}

// ---------------------------------------------------------------------------------------
// payloads.json: holepunch secrets from real handshakes; sealed holepunch payloads.

function payloads() {
  const handshakes = []
  const sealed = []
  const unsealable = []
  for (let i = 0; i < 4; i++) {
    reseed('handshake ' + i)
    const server = keyPairOf('server ' + i)
    const client = keyPairOf('client ' + i)
    const initiator = new NoiseWrap(client, server.publicKey)
    const responder = new NoiseWrap(server, null)
    const p1 = { error: 0, firewall: 1, holepunch: null, addresses4: [V4[i]], addresses6: [], udx: { reusableSocket: false, id: i, seq: 0 }, secretStream: {}, relayThrough: null, relayAddresses: null }
    const m1 = initiator.send(p1)
    responder.recv(m1)
    const m2 = responder.send({ ...p1, firewall: 2 })
    initiator.recv(m2)
    const a = initiator.final()
    const b = responder.final()
    assert(b4a.equals(a.holepunchSecret, b.holepunchSecret), 'both sides derive one secret')
    handshakes.push({ handshakeHash: hex(a.hash), holepunchSecret: hex(a.holepunchSecret) })

    const sp = new SecurePayload(a.holepunchSecret)
    const other = new SecurePayload(b.holepunchSecret)
    const bodies = [
      { connected: false, punching: false, error: 0, firewall: 0, round: 0, addresses: null, remoteAddress: null, token: null, remoteToken: null },
      { connected: true, punching: true, error: 3, firewall: 2, round: 7 + i, addresses: v4s(2, i), remoteAddress: V4[i], token: sp.token(V4[i]), remoteToken: det('remote token ' + i, 32) },
      { connected: false, punching: true, error: 0, firewall: 3, round: 252, addresses: [], remoteAddress: V4[5], token: det('t' + i, 32), remoteToken: null }
    ]
    for (const [j, body] of bodies.entries()) {
      reseed(`seal ${i} ${j}`)
      const nonce = det(`seal ${i} ${j}#0`, 24)
      const box = b4a.from(sp.encrypt(body))
      assert(b4a.equals(box.subarray(0, 24), nonce), 'the nonce is the one drawn')
      // decrypt opens in place (the plaintext overwrites the box), so it gets a copy.
      const opened = other.decrypt(b4a.from(box))
      assert(opened !== null, 'opens')
      sealed.push({
        holepunchSecret: hex(a.holepunchSecret),
        nonce: hex(nonce),
        plain: hex(c.encode(m.holepunchPayload, body)),
        payload: norm(opened),
        sealed: hex(box)
      })
      // Tampering anywhere makes the box unopenable.
      for (const at of [0, 23, 24, box.byteLength - 1]) {
        const t = b4a.from(box)
        t[at] ^= 1
        assert(other.decrypt(t) === null, 'tampered box fails')
        unsealable.push({ name: `tampered at ${at}`, reason: 'unauthenticated', holepunchSecret: hex(a.holepunchSecret), sealed: hex(t) })
      }
      const wrong = new SecurePayload(det('wrong key ' + i, 32))
      assert(wrong.decrypt(b4a.from(box)) === null, 'wrong key fails')
      unsealable.push({ name: 'wrong key', reason: 'unauthenticated', holepunchSecret: hex(det('wrong key ' + i, 32)), sealed: hex(box) })
    }
    // Authentic boxes whose plaintext is no holepunch payload, too short or just long enough.
    for (const [name, len, reason] of [
      ['40 bytes (empty plaintext)', 0, 'tooShort'],
      ['41 bytes, plaintext 00', 1, 'malformed'],
      ['43 bytes, plaintext 00 01 02', 3, 'malformed'],
      ['16 bytes', -24, 'tooShort'],
      ['0 bytes', -40, 'tooShort']
    ]) {
      let box
      if (len >= 0) {
        const msg = det('bad plain ' + name, len)
        for (let k = 0; k < len; k++) msg[k] = k // flags 0, then error / firewall / round cut short
        const nonce = det('bad nonce ' + name, 24)
        box = b4a.alloc(24 + 16 + len)
        box.set(nonce)
        sodium.crypto_secretbox_easy(box.subarray(24), msg, nonce, a.holepunchSecret)
      } else {
        box = det('short ' + name, 40 + len)
      }
      assert(sp.decrypt(b4a.from(box)) === null, name + ' does not open')
      unsealable.push({ name, reason, holepunchSecret: hex(a.holepunchSecret), sealed: hex(box) })
    }
  }
  write('payloads.json', {
    description:
      'hyperdht 6.34.0: holepunchSecret = BLAKE2b-256(NS_PEER_HOLEPUNCH, key = Noise IK handshake hash) from real NoiseWrap handshakes (lib/noise-wrap.js); sealed holepunch payloads = nonce(24) ‖ crypto_secretbox(holepunchPayload, nonce, holepunchSecret) as lib/secure-payload.js encrypts and decrypts them; unsealable: boxes its decrypt rejects, and why (tooShort: 40 bytes or fewer; unauthenticated; malformed: authentic, but the plaintext does not decode).',
    handshakes,
    sealed,
    unsealable
  })
  return { handshakes: handshakes.length, sealed: sealed.length, unsealable: unsealable.length }
}

// ---------------------------------------------------------------------------------------
// signables.json: what persistent.js signs.

function signables() {
  const announces = []
  const mutables = []
  let n = 0
  for (const ns of ['announce', 'unannounce']) {
    for (const relays of [0, 1, 3]) {
      for (const withRefresh of [false, true]) {
        const kp = keyPairOf('announcer ' + n)
        const target = n % 3 === 0 ? hcrypto.hash(kp.publicKey) : det('topic ' + n, 32)
        const token = det('token ' + n, 32)
        const nodeId = rpcPeer.id(V4[n % V4.length].host, V4[n % V4.length].port)
        const ann = {
          peer: { publicKey: kp.publicKey, relayAddresses: v4s(relays, n) },
          refresh: withRefresh ? det('refresh ' + n, 32) : null,
          signature: null,
          bump: n % 2 ? 1733580000000 + n : 0
        }
        let signable = null
        const signer = {
          sign(s) {
            signable = b4a.from(s)
            return hcrypto.sign(s, kp.secretKey)
          }
        }
        const signature = ns === 'announce'
          ? Persistent.signAnnounce(target, token, nodeId, ann, signer)
          : Persistent.signUnannounce(target, token, nodeId, ann, signer)
        assert(hcrypto.verify(signable, signature, kp.publicKey), 'verifies')
        ann.signature = signature
        announces.push({
          kind: ns,
          target: hex(target),
          token: hex(token),
          nodeId: hex(nodeId),
          publicKey: hex(kp.publicKey),
          peer: hex(c.encode(m.peer, ann.peer)),
          refresh: hex(ann.refresh),
          signable: hex(signable),
          signature: hex(signature),
          announce: hex(c.encode(m.announce, ann))
        })
        n++
      }
    }
  }
  for (const seq of [0, 1, 253, 2 ** 32, MAX]) {
    for (const value of [VALUES[0], VALUES[3], VALUES[6]]) {
      const kp = keyPairOf('mutable ' + seq)
      let signable = null
      const signer = {
        sign(s) {
          signable = b4a.from(s)
          return hcrypto.sign(s, kp.secretKey)
        }
      }
      const signature = Persistent.signMutable(seq, value, signer)
      assert(Persistent.verifyMutable(signature, seq, value, kp.publicKey), 'verifies')
      mutables.push({
        seq,
        value: hex(value),
        publicKey: hex(kp.publicKey),
        target: hex(hcrypto.hash(kp.publicKey)),
        signable: hex(signable),
        signature: hex(signature),
        putRequest: hex(c.encode(m.mutablePutRequest, { publicKey: kp.publicKey, seq, value, signature }))
      })
    }
  }
  const immutables = VALUES.map((v) => ({ value: hex(v), target: hex(hcrypto.hash(v)) }))
  write('signables.json', {
    description:
      'hyperdht 6.34.0 lib/persistent.js: the 64-byte messages signed for announce / unannounce (NS ‖ BLAKE2b-256(target ‖ node id ‖ token ‖ peer ‖ refresh)) and mutable puts (NS_MUTABLE_PUT ‖ BLAKE2b-256(mutableSignable)), with Ed25519 signatures; mutable targets BLAKE2b-256(public key), immutable targets BLAKE2b-256(value).',
    dhtNamespaces: Object.fromEntries(Object.entries(constants.NS).map(([k, v]) => [k, hex(v)])),
    announceSignables: announces,
    mutableSignables: mutables,
    immutableTargets: immutables
  })
  return { announces: announces.length, mutables: mutables.length, immutables: immutables.length }
}

console.log('rpc', rpc(write))
console.log('messages', messages())
console.log('payloads', payloads())
console.log('signables', signables())