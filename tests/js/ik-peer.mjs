#!/usr/bin/env node
// A JS peer that connects the way hyperdht does once it has a connection: a Noise IK
// handshake (hyperdht lib/noise-wrap.js: noise-handshake 'IK' with noise-curve-ed, prologue
// NS.PEER_HANDSHAKE, a compact-encoded noisePayload on each message), then
// `new NoiseSecretStream(isInitiator, socket, { handshake: { tx, rx, hash, publicKey,
// remotePublicKey } })` over the same socket. Used by tests/tests/interop_ik.rs.
//
//   node ik-peer.mjs --role initiator|responder (--listen PORT | --connect HOST:PORT | --udx 1)
//        --seed HEX [--remote-key HEX] [--ephemeral-seed HEX]
//        [--firewall N] [--address HOST:PORT] [--udx-id N]
//        [--send TEXT]... [--expect N] [--timeout MS]
//        [--hypercore-writer N | --hypercore-reader KEYHEX --blocks N]
//
//   --role R            IK role: the initiator knows the responder's key (--remote-key).
//   --listen PORT       accept one connection on 127.0.0.1:PORT (0 = ephemeral);
//   --connect H:P       or connect to H:P.
//   --udx 1             or, as hyperdht does after the DHT exchanged the IK messages: a
//                       udx-native socket on 127.0.0.1 with one raw stream of id --udx-id,
//                       the IK messages as JSON lines ({"event":"ik","data":hex} out,
//                       {"ik":hex} in on stdin, standing in for the DHT), the payload's
//                       addresses4 = [this socket's address]; then the stream connects to
//                       the peer payload's udx.id at its addresses4[0] and the
//                       secret-stream starts on it.
//   --seed HEX          32-byte seed of the static key pair (hypercore-crypto keyPair).
//   --ephemeral-seed HEX  32-byte seed of the ephemeral key pair (default: random).
//   --firewall, --address, --udx-id  the fields of the noisePayload this side sends
//                       (version 1, error 0, addresses4 = [--address], udx {id, seq 0},
//                       secretStream); defaults 1, 127.0.0.1:1, 1.
//   --send TEXT         a message to send on the secret-stream once it is set up
//                       (repeatable).
//   --expect N          end the stream after N messages arrived (default 0: end when the
//                       peer ends). Every message that does not start with "echo:" is
//                       answered with "echo:" + the message.
//   --timeout MS        hard exit (code 3) after MS milliseconds (default 30000).
//   --hypercore-writer N  instead of messages, replicate a hypercore 11.37.1 writer core
//                       (key pair hypercore-crypto keyPair(32 bytes of 0x01)) holding the
//                       formula blocks 0..N of core 0, 1000 bytes each (blocks.mjs), over
//                       the secret-stream (Hypercore.createProtocolStream + core.replicate,
//                       as hypercore-peer.mjs does); runs until the peer ends.
//   --hypercore-reader KEYHEX --blocks N  instead of messages, open core KEYHEX read-only,
//                       replicate it, get blocks 0..N, compare each with the formula, then
//                       end the stream.
//
// Framing of the two IK messages on the socket: uint24le(length) ‖ message (as
// secret-stream frames its own handshake messages). Anything the peer sent after its IK
// message is handed to the secret-stream (socket.unshift) before it reads the socket.
//
// stdout, one JSON object per line:
//   {"event":"core","key":hex,"length":N}             with --hypercore-*, first
//   {"event":"listening","port":N}
//   {"event":"udx","port":N,"id":N}                   with --udx: socket port, stream id
//   {"event":"ik","data":hex}                         with --udx: our IK message
//   {"event":"handshake","payload":hex,"remotePayload":hex,"remotePayloadFields":{...},
//    "hash":hex,"publicKey":hex,"remotePublicKey":hex,"holepunchSecret":hex}
//   {"event":"message","text":string}                  for every message received
//   {"event":"verified","length":N}                   a reader got and checked N blocks
//   {"event":"end","received":N}                      when the stream has closed
//   {"event":"error","message":string}                on failure (exit code 1)

import { createRequire } from 'module'
import { mkdtempSync, rmSync } from 'fs'
import net from 'net'
import os from 'os'
import path from 'path'
import { blockValue } from './blocks.mjs'

const require = createRequire(import.meta.url)
const b4a = require('b4a')
const c = require('compact-encoding')
const sodium = require('sodium-universal')
const crypto = require('hypercore-crypto')
const NoiseHandshake = require('noise-handshake')
const curve = require('noise-curve-ed')
const NoiseSecretStream = require('@hyperswarm/secret-stream')

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const fail = (err) => {
  out({ event: 'error', message: String(err && err.message ? err.message : err) })
  process.exit(1)
}

const args = { send: [] }
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '')
  const v = process.argv[i + 1]
  if (k === 'send') args.send.push(v)
  else args[k] = v
}
const isInitiator = args.role === 'initiator'
if (!isInitiator && args.role !== 'responder') fail(new Error('--role initiator|responder'))
setTimeout(() => { out({ event: 'error', message: 'timeout' }); process.exit(3) }, Number(args.timeout || 30000)).unref()

// hyperdht lib/constants.js: NS = namespace('hyperswarm/dht', [ANNOUNCE 4, UNANNOUNCE 5,
// MUTABLE_PUT 6, PEER_HANDSHAKE 0, PEER_HOLEPUNCH 1, PLUGIN 10]).
const [, , , NS_PEER_HANDSHAKE, NS_PEER_HOLEPUNCH] = crypto.namespace('hyperswarm/dht', [4, 5, 6, 0, 1, 10])

// hyperdht lib/messages.js noisePayload, for the parts used here (flags 2, 8, 16).
const ipv4Array = c.array(c.ipv4Address)
const parts = (m) => [
  [c.uint, 1], [c.uint, 2 | 8 | 16], [c.uint, m.error], [c.uint, m.firewall], [ipv4Array, m.addresses4],
  [c.uint, 1], [c.uint, m.udx.reusableSocket ? 1 : 0], [c.uint, m.udx.id], [c.uint, m.udx.seq],
  [c.uint, 1]
]
const noisePayload = {
  preencode (state, m) { for (const [enc, v] of parts(m)) enc.preencode(state, v) },
  encode (state, m) { for (const [enc, v] of parts(m)) enc.encode(state, v) },
  decode (state) {
    const version = c.uint.decode(state)
    if (version !== 1) return { version }
    const flags = c.uint.decode(state)
    if (flags & (1 | 4 | 32 | 64)) throw new Error('unsupported noisePayload flags ' + flags)
    const m = { version, error: c.uint.decode(state), firewall: c.uint.decode(state), addresses4: [], udx: null, secretStream: null }
    if (flags & 2) m.addresses4 = ipv4Array.decode(state).map(({ host, port }) => ({ host, port }))
    if (flags & 8) {
      const v = c.uint.decode(state)
      const features = c.uint.decode(state)
      m.udx = { version: v, reusableSocket: (features & 1) !== 0, id: c.uint.decode(state), seq: c.uint.decode(state) }
    }
    if (flags & 16) m.secretStream = { version: c.uint.decode(state) }
    if (state.start !== state.end) throw new Error('trailing bytes in noisePayload')
    return m
  }
}

const makePayload = (address) => {
  const [host, port] = address.split(':')
  return c.encode(noisePayload, {
    error: 0,
    firewall: Number(args.firewall || 1),
    addresses4: [{ host, port: Number(port) }],
    udx: { reusableSocket: false, id: Number(args['udx-id'] || 1), seq: 0 }
  })
}
let payload = makePayload(args.address || '127.0.0.1:1')

const keyPair = crypto.keyPair(b4a.from(args.seed, 'hex'))
const hs = new NoiseHandshake('IK', isInitiator, keyPair, { curve })
hs.initialise(NS_PEER_HANDSHAKE, isInitiator ? b4a.from(args['remote-key'], 'hex') : undefined)
if (args['ephemeral-seed']) hs.e = curve.generateKeyPair(b4a.from(args['ephemeral-seed'], 'hex'))

function frame (msg) {
  const buf = b4a.alloc(3 + msg.byteLength)
  buf[0] = msg.byteLength & 0xff
  buf[1] = (msg.byteLength >> 8) & 0xff
  buf[2] = msg.byteLength >> 16
  buf.set(msg, 3)
  return buf
}

// Reads one uint24le-framed message off the socket; what follows it is put back.
function readFrame (socket) {
  return new Promise((resolve, reject) => {
    let buf = b4a.alloc(0)
    const onData = (data) => {
      buf = b4a.concat([buf, data])
      if (buf.byteLength < 3) return
      const len = buf[0] | (buf[1] << 8) | (buf[2] << 16)
      if (buf.byteLength < 3 + len) return
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.pause()
      const rest = buf.subarray(3 + len)
      if (rest.byteLength) socket.unshift(rest)
      resolve(b4a.from(buf.subarray(3, 3 + len)))
    }
    const onEnd = () => reject(new Error('socket ended during the handshake'))
    socket.on('data', onData)
    socket.on('end', onEnd)
  })
}

async function run (socket) {
  socket.setNoDelay(true)
  socket.on('error', fail)
  const remotePayload = await ik((msg) => socket.write(frame(msg)), () => readFrame(socket))
  secure(socket, remotePayload)
}

// The IK handshake: `send` one message, `recv` the peer's; returns the peer's payload.
async function ik (send, recv) {
  let remotePayload
  if (isInitiator) {
    send(hs.send(payload))
    remotePayload = hs.recv(await recv())
  } else {
    remotePayload = hs.recv(await recv())
    send(hs.send(payload))
  }
  if (!hs.complete) throw new Error('IK did not complete')
  return remotePayload
}

// The secret-stream on `socket` from the finished handshake, then messages or replication.
function secure (socket, remotePayload) {
  const holepunchSecret = b4a.alloc(32)
  sodium.crypto_generichash(holepunchSecret, NS_PEER_HOLEPUNCH, hs.hash)
  const remotePublicKey = b4a.from(hs.rs)
  out({
    event: 'handshake',
    payload: b4a.toString(payload, 'hex'),
    remotePayload: b4a.toString(remotePayload, 'hex'),
    remotePayloadFields: c.decode(noisePayload, remotePayload),
    hash: b4a.toString(hs.hash, 'hex'),
    publicKey: b4a.toString(keyPair.publicKey, 'hex'),
    remotePublicKey: b4a.toString(remotePublicKey, 'hex'),
    holepunchSecret: b4a.toString(holepunchSecret, 'hex')
  })

  // As hyperdht's connect.js / server.js do with noise-wrap's final().
  const stream = new NoiseSecretStream(isInitiator, socket, {
    handshake: { tx: hs.tx, rx: hs.rx, hash: hs.hash, publicKey: keyPair.publicKey, remotePublicKey }
  })
  if (core) return replicate(stream)
  const expect = Number(args.expect || 0)
  let received = 0
  stream.on('error', fail)
  stream.on('data', (data) => {
    const text = b4a.toString(data)
    out({ event: 'message', text })
    received++
    if (!text.startsWith('echo:')) stream.write(b4a.from('echo:' + text))
    if (expect && received === expect) stream.end()
  })
  stream.on('end', () => stream.end())
  stream.on('close', () => {
    out({ event: 'end', received })
    process.exit(0)
  })
  for (const text of args.send) stream.write(b4a.from(text))
}

// Hypercore mode: the core, opened before connecting.
let core = null
let tmpDir = null
const BLOCK_SIZE = 1000
if (args['hypercore-writer'] !== undefined || args['hypercore-reader'] !== undefined) {
  const Hypercore = require('hypercore')
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-ik-peer-'))
  process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }))
  if (args['hypercore-writer'] !== undefined) {
    core = new Hypercore(tmpDir, { keyPair: crypto.keyPair(b4a.alloc(32, 1)) })
    await core.ready()
    const batch = []
    for (let i = 0; i < Number(args['hypercore-writer']); i++) batch.push(blockValue(0, i, BLOCK_SIZE))
    if (batch.length) await core.append(batch)
  } else {
    core = new Hypercore(tmpDir, b4a.from(args['hypercore-reader'], 'hex'))
    await core.ready()
  }
  out({ event: 'core', key: b4a.toString(core.key, 'hex'), length: core.length })
}

function replicate (stream) {
  const Hypercore = require('hypercore')
  stream.on('error', fail)
  stream.on('close', () => {
    out({ event: 'end', received: 0 })
    core.close().then(() => process.exit(0), () => process.exit(0))
  })
  Hypercore.createProtocolStream(stream)
  core.replicate(stream)
  if (args['hypercore-reader'] === undefined) return
  ;(async () => {
    const n = Number(args.blocks)
    for (let i = 0; i < n; i++) {
      const block = await core.get(i)
      if (!b4a.equals(block, blockValue(0, i, BLOCK_SIZE))) throw new Error('block ' + i + ' differs')
    }
    out({ event: 'verified', length: n })
    stream.end()
  })().catch(fail)
}

if (args.udx !== undefined) {
  const UDX = require('udx-native')
  const readline = require('readline')
  const udx = new UDX()
  const socket = udx.createSocket()
  socket.bind(0, '127.0.0.1')
  const rawStream = udx.createStream(Number(args['udx-id'] || 1))
  rawStream.on('error', fail)
  const { port } = socket.address()
  payload = makePayload('127.0.0.1:' + port)
  out({ event: 'udx', port, id: rawStream.id })
  const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]()
  const recv = async () => {
    const { value, done } = await lines.next()
    if (done) throw new Error('stdin ended during the handshake')
    return b4a.from(JSON.parse(value).ik, 'hex')
  }
  ik((msg) => out({ event: 'ik', data: b4a.toString(msg, 'hex') }), recv).then((remotePayload) => {
    const fields = c.decode(noisePayload, remotePayload)
    const to = fields.addresses4[0]
    rawStream.connect(socket, fields.udx.id, to.port, to.host)
    secure(rawStream, remotePayload)
  }).catch(fail)
} else if (args.listen !== undefined) {
  const server = net.createServer((socket) => {
    server.close()
    run(socket).catch(fail)
  })
  server.listen(Number(args.listen), '127.0.0.1', () => out({ event: 'listening', port: server.address().port }))
} else {
  const [h, p] = args.connect.split(':')
  const socket = net.connect(Number(p), h)
  socket.on('connect', () => run(socket).catch(fail))
  socket.on('error', fail)
}
