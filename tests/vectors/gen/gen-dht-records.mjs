// Regenerates tests/vectors/dht/records.json: what a persistent HyperDHT node (hyperdht
// 6.34.0 lib/persistent.js and lib/router.js, the real classes) does with a scripted
// sequence of requests: the reply (error, value, token and closer-nodes flags, address),
// the relayed request, or nothing.
//
// Usage (from this folder):   npm ci && node gen-dht-records.mjs [outDir]
// Default outDir: tests/vectors/dht (scripts/gen-vectors passes a temporary folder).
//
// The node is a stand-in `dht` ({ id, _router }) holding a real Router and Persistent built
// with the cache options index.js's defaultCacheOpts gives for `maxSize: 8` (small, so the
// size caps of xache and record-cache evict within the script). Requests are stand-ins of
// dht-rpc's Request whose reply / error / relay record what they were called with (reply
// and error apply dht-rpc's defaults for the token and closerNodes options). Only the
// `to`/`from` addresses are plain objects; every byte string comes from the real modules.
// Deterministic: keys from fixed seeds, Date.now fixed (announce bumps), Math.random a fixed
// LCG (which records a lookup returns first; checkers compare lookups as sets), and the
// caches' setInterval timers captured and fired by `advance` steps (scripted aging).

import path from 'path'
import fs from 'fs'
import { fileURLToPath } from 'url'
import { createRequire } from 'module'
import { assert, hex, pkgVersion, writer } from './common.mjs'
import { det, keyPairOf } from './dht-common.mjs'

const require = createRequire(import.meta.url)
const here = path.dirname(fileURLToPath(import.meta.url))
const OUT = path.resolve(process.argv[2] || path.join(here, '..', 'dht'))
fs.mkdirSync(OUT, { recursive: true })

const b4a = require('b4a')
const c = require('compact-encoding')
const hcrypto = require('hypercore-crypto')
const m = require('hyperdht/lib/messages')
const Persistent = require('hyperdht/lib/persistent')
const Router = require('hyperdht/lib/router')
const { COMMANDS: CMD } = require('hyperdht/lib/constants')

const NOW_MS = 1_700_000_000_000
Date.now = () => NOW_MS
let lcg = 1
Math.random = () => {
  lcg = (lcg * 1103515245 + 12345) % 2147483648
  return lcg / 2147483648
}

// The caches' age timers (xache and record-cache call setInterval at construction): kept
// here and fired by `advance` steps, so aging is scripted too.
const timers = []
globalThis.setInterval = (fn, ms) => {
  const t = { fn, ms, next: ms, unref() {} }
  timers.push(t)
  return t
}
globalThis.clearInterval = (t) => {
  const i = timers.indexOf(t)
  if (i !== -1) timers.splice(i, 1)
}

const MAX_SIZE = 8
const MAX_AGE = 20 * 60 * 1000
const cacheOpts = {
  router: { forwards: { maxSize: MAX_SIZE, maxAge: MAX_AGE } },
  persistent: {
    records: { maxSize: MAX_SIZE, maxAge: MAX_AGE },
    refreshes: { maxSize: MAX_SIZE, maxAge: MAX_AGE },
    mutables: { maxSize: (MAX_SIZE / 2) | 0, maxAge: 48 * 60 * 60 * 1000 },
    immutables: { maxSize: (MAX_SIZE / 2) | 0, maxAge: 48 * 60 * 60 * 1000 },
    bumps: { maxSize: MAX_SIZE, maxAge: MAX_AGE }
  }
}

const NODE_ID = det('records node id', 32)
const TOKEN = det('records token', 32)
const dht = { id: NODE_ID, plugins: new Map() }
dht._router = new Router(dht, cacheOpts.router)
const persistent = new Persistent(dht, cacheOpts.persistent)

const addr = (i) => ({ host: '10.0.' + (i >> 8) + '.' + (i & 255), port: 3000 + i })
const CLIENT = addr(1)
const SERVER = addr(2)
const RELAY = addr(3)
const RELAY2 = addr(4)
const MALLORY = addr(66)
const SERVER_NOISE = det('server noise', 48)
const SERVER_PAYLOAD = det('server holepunch payload', 40)

const steps = []
const j = (a) => (a ? { host: a.host, port: a.port } : null)

// Runs one request through the node as HyperDHT's onrequest dispatches it.
async function send(name, from, command, target, value, token = true) {
  let outcome = { kind: 'drop' }
  const req = {
    from: { id: null, ...from },
    command,
    target,
    token: token ? TOKEN : null,
    value,
    reply(v, opts = {}) {
      outcome = {
        kind: 'reply',
        to: j(opts.to || from),
        error: 0,
        value: hex(v || null),
        token: opts.token !== false,
        closerNodes: opts.closerNodes !== false
      }
    },
    error(code, opts = {}) {
      outcome = {
        kind: 'reply',
        to: j(opts.to || from),
        error: code,
        value: null,
        token: opts.token === true,
        closerNodes: opts.closerNodes !== false
      }
    },
    relay(v, to) {
      outcome = { kind: 'relay', to: j(to), value: hex(v) }
    }
  }
  const handlers = {
    [CMD.PEER_HANDSHAKE]: () => dht._router.onpeerhandshake(req),
    [CMD.PEER_HOLEPUNCH]: () => dht._router.onpeerholepunch(req),
    [CMD.FIND_PEER]: () => persistent.onfindpeer(req),
    [CMD.LOOKUP]: () => persistent.onlookup(req),
    [CMD.ANNOUNCE]: () => persistent.onannounce(req),
    [CMD.UNANNOUNCE]: () => persistent.onunannounce(req),
    [CMD.MUTABLE_PUT]: () => persistent.onmutableput(req),
    [CMD.MUTABLE_GET]: () => persistent.onmutableget(req),
    [CMD.IMMUTABLE_PUT]: () => persistent.onimmutableput(req),
    [CMD.IMMUTABLE_GET]: () => persistent.onimmutableget(req),
    [CMD.PLUGIN]: () => persistent.onplugin(req)
  }
  if (handlers[command]) {
    await handlers[command]()
  } else {
    // dht-rpc's answer when onrequest returns false.
    outcome = { kind: 'reply', to: j(from), error: 1, value: null, token: false, closerNodes: target !== null }
  }
  steps.push({
    name,
    from: j(from),
    command,
    target: hex(target),
    token: token ? hex(TOKEN) : null,
    value: hex(value),
    outcome
  })
  return outcome
}

// Moves the clock to `ms` (since the node was made), firing the timers due by then.
function advance(ms) {
  for (const t of timers) {
    while (t.next <= ms) {
      t.fn()
      t.next += t.ms
    }
  }
  steps.push({ name: 'advance to ' + ms + ' ms', advanceToMs: ms })
}

// Registers this node's own server under `target` (lib/server.js's router.set).
function listen(name, target, record) {
  dht._router.set(target, {
    relay: null,
    record,
    onpeerhandshake: async () => ({ noise: SERVER_NOISE }),
    onpeerholepunch: async () => ({ payload: SERVER_PAYLOAD })
  })
  steps.push({ name, listen: { target: hex(target), record: hex(record) } })
}

const relays = (n) => Array.from({ length: n }, (_, i) => addr(100 + i))
const peerOf = (kp, n = 1) => ({ publicKey: kp.publicKey, relayAddresses: relays(n) })

function announceValue(kp, target, { n = 1, refresh = null, bump = 0, signer = kp, ns = 'announce' } = {}) {
  const peer = peerOf(kp, n)
  const sign = ns === 'announce' ? Persistent.signAnnounce : Persistent.signUnannounce
  const signature = sign(target, TOKEN, NODE_ID, { peer, refresh }, signer)
  return c.encode(m.announce, { peer, refresh, signature, bump })
}

function mutablePut(kp, seq, value, signer = kp) {
  const signature = Persistent.signMutable(seq, value, signer)
  return c.encode(m.mutablePutRequest, { publicKey: kp.publicKey, seq, value, signature })
}

const A = keyPairOf('records A')
const B = keyPairOf('records B')
const C = keyPairOf('records C')
const S = keyPairOf('records server')
const L = keyPairOf('records local server')
const M = keyPairOf('records mallory')
const K = keyPairOf('records mutable')
const TOPIC = hcrypto.hash(b4a.from('records topic'))
const EMPTY_TOPIC = hcrypto.hash(b4a.from('records empty topic'))
const SELF = hcrypto.hash(S.publicKey)
const LOCAL = hcrypto.hash(L.publicKey)
const sA0 = det('refresh secret A', 32)
const sA1 = hcrypto.hash(sA0)
const sA2 = hcrypto.hash(sA1)

async function announces() {
  const ann = (name, from, target, value, token) => send(name, from, CMD.ANNOUNCE, target, value, token)
  await ann('announce A: 5 relays, a refresh, an old bump', CLIENT, TOPIC, announceValue(A, TOPIC, { n: 5, refresh: sA2, bump: NOW_MS - 1000 }))
  await ann('announce B: bump 59 s ahead', CLIENT, TOPIC, announceValue(B, TOPIC, { bump: NOW_MS + 59_000 }))
  await ann('announce C: bump 61 s ahead (ignored)', CLIENT, TOPIC, announceValue(C, TOPIC, { bump: NOW_MS + 61_000 }))
  await send('lookup: three records', MALLORY, CMD.LOOKUP, TOPIC, null, false)
  await send('lookup: nothing', MALLORY, CMD.LOOKUP, EMPTY_TOPIC, null, false)
  await send('lookup: no target', MALLORY, CMD.LOOKUP, null, null, false)
  await ann('announce without token', MALLORY, TOPIC, announceValue(M, TOPIC), false)
  await ann('announce without target', MALLORY, null, announceValue(M, TOPIC))
  await ann('announce without value', MALLORY, TOPIC, null)
  await ann('announce: garbage', MALLORY, TOPIC, b4a.from([1, 0, 0]))
  await ann('announce: neither peer nor refresh', MALLORY, TOPIC, b4a.from([0]))
  await ann('announce: A signed by mallory', MALLORY, TOPIC, announceValue(A, TOPIC, { signer: M }))
  await ann('announce: signed for another target', MALLORY, TOPIC, announceValue(M, EMPTY_TOPIC))
  await ann('announce: unannounce signature', MALLORY, TOPIC, announceValue(M, TOPIC, { ns: 'unannounce' }))
  const unsigned = c.encode(m.announce, { peer: peerOf(M), refresh: null, signature: null, bump: 0 })
  await ann('announce: unsigned', MALLORY, TOPIC, unsigned)
  await ann('announce self S', SERVER, SELF, announceValue(S, SELF, { n: 2 }))
  await send('find peer S', MALLORY, CMD.FIND_PEER, SELF, null, false)
  await send('find peer: unknown', MALLORY, CMD.FIND_PEER, TOPIC, null, false)
  await send('lookup S: the forward', MALLORY, CMD.LOOKUP, SELF, null, false)
}

async function unannounces() {
  const un = (name, from, value, token = true, target = TOPIC) => send(name, from, CMD.UNANNOUNCE, target, value, token)
  await un('unannounce A signed by mallory', MALLORY, announceValue(A, TOPIC, { signer: M, ns: 'unannounce' }))
  await un('unannounce A with an announce signature', MALLORY, announceValue(A, TOPIC))
  await un('unannounce A without token', MALLORY, announceValue(A, TOPIC, { ns: 'unannounce' }), false)
  await un('unannounce mallory (not there)', MALLORY, announceValue(M, TOPIC, { ns: 'unannounce' }))
  await un('unannounce A', CLIENT, announceValue(A, TOPIC, { ns: 'unannounce' }))
  await send('lookup: B and C', MALLORY, CMD.LOOKUP, TOPIC, null, false)
  const refresh = (s) => c.encode(m.announce, { peer: null, refresh: s, signature: null, bump: 0 })
  await send('refresh A with the preimage', CLIENT, CMD.ANNOUNCE, EMPTY_TOPIC, refresh(sA1))
  await send('lookup: A is back', MALLORY, CMD.LOOKUP, TOPIC, null, false)
  await send('refresh A again (spent)', CLIENT, CMD.ANNOUNCE, TOPIC, refresh(sA1))
  await send('refresh A with the next preimage', CLIENT, CMD.ANNOUNCE, TOPIC, refresh(sA0))
  await send('refresh without token', CLIENT, CMD.ANNOUNCE, TOPIC, refresh(sA0), false)
  await un('unannounce S', SERVER, announceValue(S, SELF, { n: 2, ns: 'unannounce' }), true, SELF)
  await send('find peer S: gone', MALLORY, CMD.FIND_PEER, SELF, null, false)
}

async function values() {
  const KT = hcrypto.hash(K.publicKey)
  const put = (name, value, token = true, target = KT) => send(name, CLIENT, CMD.MUTABLE_PUT, target, value, token)
  const get = (name, seq, raw) => send(name, MALLORY, CMD.MUTABLE_GET, KT, raw === undefined ? c.encode(c.uint, seq) : raw, false)
  await put('mutable put seq 1', mutablePut(K, 1, b4a.from('one')))
  await get('mutable get seq 0', 0)
  await get('mutable get seq 1', 1)
  await get('mutable get seq 2: older than asked', 2)
  await put('mutable put seq 1 again', mutablePut(K, 1, b4a.from('one')))
  await put('mutable put seq 1, another value', mutablePut(K, 1, b4a.from('uno')))
  await put('mutable put seq 0', mutablePut(K, 0, b4a.from('zero')))
  await put('mutable put seq 2', mutablePut(K, 2, b4a.from('two')))
  await put('mutable put signed by mallory', mutablePut(K, 3, b4a.from('x'), M))
  await put('mutable put under another target', mutablePut(K, 3, b4a.from('x')), true, TOPIC)
  await put('mutable put without token', mutablePut(K, 3, b4a.from('x')), false)
  await put('mutable put: truncated', mutablePut(K, 3, b4a.from('x')).subarray(0, 60))
  await get('mutable get: empty value', 0, b4a.alloc(0))
  await get('mutable get: no value', 0, null)
  await get('mutable get seq 0 after the puts', 0)
  const v = b4a.from('immutable value')
  const VT = hcrypto.hash(v)
  const iput = (name, value, target, token = true) => send(name, CLIENT, CMD.IMMUTABLE_PUT, target, value, token)
  await send('immutable get: nothing', MALLORY, CMD.IMMUTABLE_GET, VT, null, false)
  await iput('immutable put: wrong hash', v, TOPIC)
  await iput('immutable put without token', v, VT, false)
  await iput('immutable put', v, VT)
  await send('immutable get', MALLORY, CMD.IMMUTABLE_GET, VT, null, false)
  // Floods past the caps (4 per generation): which entries survive is xache's rotation.
  const keys = Array.from({ length: 7 }, (_, i) => keyPairOf('records flood ' + i))
  for (const [i, kp] of keys.entries()) await put('mutable flood put ' + i, mutablePut(kp, 1, b4a.from([i])), true, hcrypto.hash(kp.publicKey))
  for (const [i, kp] of keys.entries()) await send('mutable flood get ' + i, MALLORY, CMD.MUTABLE_GET, hcrypto.hash(kp.publicKey), c.encode(c.uint, 0), false)
  const vals = Array.from({ length: 7 }, (_, i) => b4a.from('flood ' + i))
  for (const [i, x] of vals.entries()) await iput('immutable flood put ' + i, x, hcrypto.hash(x))
  for (const [i, x] of vals.entries()) await send('immutable flood get ' + i, MALLORY, CMD.IMMUTABLE_GET, hcrypto.hash(x), null, false)
  // Records: 8 per generation, then a rotation.
  for (let i = 0; i < 20; i++) {
    const t = hcrypto.hash(b4a.from('records flood topic ' + i))
    await send('records flood announce ' + i, CLIENT, CMD.ANNOUNCE, t, announceValue(keys[i % 7], t))
  }
  for (let i = 0; i < 20; i++) {
    await send('records flood lookup ' + i, MALLORY, CMD.LOOKUP, hcrypto.hash(b4a.from('records flood topic ' + i)), null, false)
  }
}

async function routing() {
  const hs = (mode, noise, peerAddress = null, relayAddress = null) => c.encode(m.handshake, { mode, noise, peerAddress, relayAddress })
  const hp = (mode, peerAddress = null) => c.encode(m.holepunch, { mode, id: 7, payload: det('client holepunch payload', 33), peerAddress })
  const noise = det('client noise', 64)
  await send('announce self S again', SERVER, CMD.ANNOUNCE, SELF, announceValue(S, SELF))
  const H = CMD.PEER_HANDSHAKE
  const P = CMD.PEER_HOLEPUNCH
  await send('handshake from client: no route', CLIENT, H, TOPIC, hs(0, noise), false)
  await send('handshake from client: no target', CLIENT, H, null, hs(0, noise), false)
  await send('handshake from client: routed', CLIENT, H, SELF, hs(0, noise), false)
  await send('handshake from client: named relay', CLIENT, H, TOPIC, hs(0, noise, null, RELAY2), false)
  await send('handshake from relay: routed', RELAY, H, SELF, hs(2, noise, CLIENT), false)
  await send('handshake from relay: no route', RELAY, H, TOPIC, hs(2, noise, CLIENT), false)
  await send('handshake from server', SERVER, H, SELF, hs(1, noise, CLIENT), false)
  await send('handshake from server: no client', SERVER, H, SELF, hs(1, noise), false)
  await send('handshake: reply mode', SERVER, H, SELF, hs(4, noise, CLIENT), false)
  await send('handshake: garbage', CLIENT, H, SELF, b4a.from([1, 0, 5]), false)
  await send('handshake: no value', CLIENT, H, SELF, null, false)
  await send('holepunch from client: routed', CLIENT, P, SELF, hp(0), false)
  await send('holepunch from client: named', CLIENT, P, TOPIC, hp(0, RELAY2), false)
  await send('holepunch from client: no route', CLIENT, P, TOPIC, hp(0), false)
  await send('holepunch from relay: not a server here', RELAY, P, SELF, hp(2, CLIENT), false)
  await send('holepunch from server', SERVER, P, SELF, hp(1, CLIENT), false)
  await send('holepunch from server: no client', SERVER, P, SELF, hp(1), false)
  await send('holepunch: garbage', CLIENT, P, SELF, b4a.from([1, 0, 5]), false)
  listen('listen L', LOCAL, c.encode(m.peer, peerOf(L, 0)))
  await send('announce self L from elsewhere (local wins)', MALLORY, CMD.ANNOUNCE, LOCAL, announceValue(L, LOCAL))
  await send('find peer L', MALLORY, CMD.FIND_PEER, LOCAL, null, false)
  await send('handshake to local server: direct', CLIENT, H, LOCAL, hs(0, noise), false)
  await send('handshake to local server: relayed', RELAY, H, LOCAL, hs(2, noise, CLIENT), false)
  await send('handshake to local server: second relay', RELAY, H, LOCAL, hs(3, noise, CLIENT, RELAY2), false)
  await send('handshake to local server: second relay, no relay address', RELAY, H, LOCAL, hs(3, noise, CLIENT), false)
  await send('holepunch to local server: relayed', RELAY, P, LOCAL, hp(2, CLIENT), false)
  await send('holepunch to local server: no client', RELAY, P, LOCAL, hp(2), false)
  await send('unknown command', CLIENT, 11, TOPIC, null, false)
  await send('unknown command: no target', CLIENT, 99, null, b4a.from([1]), false)
  const plug = c.encode(m.pluginRequest, { plugin: 'none', version: 1, command: 0, value: null })
  await send('plugin: none registered', CLIENT, CMD.PLUGIN, null, plug, false)
}

// Aging: records, refreshes, bumps and forwards rotate every 800 s (2/3 of 20 min),
// mutables and immutables every 32 h (2/3 of 48 h); a rotation caused by size (the floods
// above) makes the next timer firing skip.
async function aging() {
  const D = keyPairOf('records aging D')
  const E = keyPairOf('records aging E')
  const T = hcrypto.hash(b4a.from('records aging topic'))
  const s0 = det('refresh secret D', 32)
  const lookup = (name) => send(name, MALLORY, CMD.LOOKUP, T, null, false)
  await send('aging: announce D', CLIENT, CMD.ANNOUNCE, T, announceValue(D, T, { refresh: hcrypto.hash(s0) }))
  await send('aging: announce self S', SERVER, CMD.ANNOUNCE, SELF, announceValue(S, SELF))
  const V = b4a.from('aging immutable')
  await send('aging: immutable put', CLIENT, CMD.IMMUTABLE_PUT, hcrypto.hash(V), V)
  const KT = hcrypto.hash(K.publicKey)
  const mget = (name) => send(name, MALLORY, CMD.MUTABLE_GET, KT, c.encode(c.uint, 0), false)
  await send('aging: mutable put seq 9', CLIENT, CMD.MUTABLE_PUT, KT, mutablePut(K, 9, b4a.from('nine')))
  advance(799_999)
  await lookup('aging: lookup at 799 999 ms')
  advance(800_000)
  await lookup('aging: lookup at 800 000 ms')
  await send('aging: announce E', CLIENT, CMD.ANNOUNCE, T, announceValue(E, T))
  advance(1_600_000)
  await lookup('aging: lookup at 1 600 000 ms')
  await send('aging: find peer S at 1 600 000 ms', MALLORY, CMD.FIND_PEER, SELF, null, false)
  await send('aging: find peer L (local, never ages)', MALLORY, CMD.FIND_PEER, LOCAL, null, false)
  await send('aging: refresh D at 1 600 000 ms', CLIENT, CMD.ANNOUNCE, T, c.encode(m.announce, { peer: null, refresh: s0, signature: null, bump: 0 }))
  advance(2_400_000)
  await lookup('aging: lookup at 2 400 000 ms')
  await mget('aging: mutable get before 32 h')
  advance(115_200_000)
  await mget('aging: mutable get at 32 h')
  await send('aging: immutable get at 32 h', MALLORY, CMD.IMMUTABLE_GET, hcrypto.hash(V), null, false)
  advance(230_400_000)
  await mget('aging: mutable get at 64 h (read at 32 h)')
  await send('aging: immutable get at 64 h', MALLORY, CMD.IMMUTABLE_GET, hcrypto.hash(V), null, false)
  advance(460_800_000)
  await mget('aging: mutable get at 128 h')
}

await announces()
await unannounces()
await values()
await routing()
await aging()
persistent.destroy()
dht._router.destroy()

const count = (kind) => steps.filter((s) => s.outcome && s.outcome.kind === kind).length
assert(count('reply') > 40 && count('relay') >= 8 && count('drop') > 30, 'a varied script')

const write = writer(OUT, `gen-dht-records.mjs (hyperdht ${pkgVersion('hyperdht')}, xache ${pkgVersion('xache')}, record-cache ${pkgVersion('record-cache')})`)
write('records.json', {
  description:
    'hyperdht 6.34.0 lib/persistent.js + lib/router.js on a stand-in node: each step is a request (from, command, target, token, value) and what the node did (outcome: reply {to, error, value, token, closerNodes}, relay {to, value} or drop), or a listen (this node\'s own server registered in the router). Caches as defaultCacheOpts with maxSize 8; Date.now fixed at nowMs; lookups compare as sets.',
  recordsConfig: { maxSize: MAX_SIZE, maxAgeMs: MAX_AGE, nowMs: NOW_MS, nodeId: hex(NODE_ID), serverNoise: hex(SERVER_NOISE), serverPayload: hex(SERVER_PAYLOAD) },
  recordsSteps: steps
})
