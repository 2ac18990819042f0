#!/usr/bin/env node
// Scriptable JS hypercore 11.37.1 peer for ferrocore replication interop tests: one process
// = one TCP connection = one Noise (secret-stream) session = one protomux carrying the
// `hypercore/alpha` channels of ALL the cores this process opened. Driven by JSON lines on
// stdin, reports JSON lines on stdout (nothing else goes to stdout; logs go to stderr).
//
//   node hypercore-peer.mjs --role initiator|responder
//        [--listen PORT | --connect HOST:PORT] [--host ADDR]
//        [--writer N] [--reader KEYHEX[,KEYHEX...]] [--seed-byte S]
//        [--blocks N] [--block-size B] [--compat] [--encryption-key HEX] [--block-key]
//        [--download-all] [--upload-events] [--trace-requests] [--noise-seed HEX]
//        [--dir PATH] [--timeout MS]
//
//   --role R          Noise role of this side (required if --listen/--connect is given):
//                     initiator or responder, independent of who listens.
//   --listen PORT     listen on HOST:PORT (0 = ephemeral), accept ONE connection (the server
//                     is closed after it). --host defaults to 127.0.0.1.
//   --connect H:P     connect to H:P. Without --listen/--connect the peer only runs commands
//                     on its local cores.
//                     TCP_NODELAY is set on the socket either way.
//   --writer N        create N writable cores, numbered 0..N-1. Core c uses the key pair
//                     hypercore-crypto keyPair(seed), seed = 32 bytes all equal to
//                     ((c + 1) XOR S) & 0xff, S = --seed-byte (default 0).
//   --reader K1,K2..  open cores by key (64 hex chars each), read-only, numbered after the
//                     writers (N, N+1, ...).
//   --blocks N        each writer core appends N formula blocks (see blocks.mjs) before the
//                     `ready` event, in batches of up to 1000 (core.append(array)).
//   --block-size B    block size for --blocks and the `append` command (default 1000).
//   --compat          writers are created with {compat: true} (key = the signer's public
//                     key, as in hypercore 10; the default is a manifest core whose key is
//                     the manifest hash); readers are opened with {compat: true} too.
//                     (Not needed by readers in 11.37.1: a reader opened without it learns
//                     the compat manifest from the writer; the flag only pre-sets it. A
//                     reader opened with it assumes key = public key, so don't use it for
//                     readers of manifest cores.)
//   --encryption-key HEX  32-byte key, passed to every core as {encryption: {key, block}}:
//                     hypercore 11.37.1 derives the block key from it (non-compat cores:
//                     BLAKE2b(DEFAULT_ENCRYPTION ns ‖ coreKey ‖ key); compat cores:
//                     BLAKE2b keyed with the core key) unless --block-key is given, in which
//                     case HEX is the XSalsa20 block key itself. (`encryptionKey` is the
//                     deprecated spelling of the same option.)
//   --download-all    right after the connection is set up, start a live
//                     core.download({start: 0, end: -1}) on every core.
//   --upload-events   also report {"event":"upload",...} for every block served.
//   --trace-requests  also report every `request` message this peer writes and every
//                     `data` message it receives (hypercore internals: the replicator's
//                     Peer is wrapped at runtime, node_modules is not modified).
//   --noise-seed HEX  32-byte seed of the connection's static Noise key pair
//                     (default: random).
//   --dir PATH        storage; core c lives in PATH/<c> (kept). Default: a fresh temporary
//                     directory, deleted on exit (including SIGTERM/SIGINT/SIGHUP, but not
//                     SIGKILL: callers that may kill -9 should pass --dir).
//   --timeout MS      hard exit (code 3) after MS milliseconds (default 0 = none).
//
// stdout, one JSON object per line, in this order at start-up:
//   {"event":"ready","cores":[{"core":c,"key":hex,"discoveryKey":hex,"length":n,"fork":f,
//                             "writable":bool,"compat":bool},...]}
//       once all cores are open and the --blocks are appended (before listening/connecting);
//   {"event":"listening","port":N}             with --listen, right after `ready`;
//   {"event":"connected","publicKey":hex,"remotePublicKey":hex,"handshakeHash":hex,
//    "isInitiator":bool}                        when the Noise handshake completes.
// Then, as they happen:
//   {"event":"append","core":c,"length":n,"fork":f}      core 'append' (local or remote)
//   {"event":"truncate","core":c,"length":n,"fork":f}    core 'truncate'
//   {"event":"download","core":c,"index":i,"byteLength":b}  a block was received
//   {"event":"upload","core":c,"index":i,"byteLength":b}    (with --upload-events)
//       (byteLength as hypercore reports it: the wire block size minus the 8-byte
//        encryption padding when the core is encrypted)
//   {"event":"peer-add","core":c} / {"event":"peer-remove","core":c}
//   {"event":"request-sent","core":c,"id":n,"fork":f,"block":{index,nodes}|null,
//    "hash":{index,nodes}|null,"seek":{bytes,padding}|null,"upgrade":{start,length}|null,
//    "manifest":bool}                             (with --trace-requests) a request written
//   {"event":"data-received","core":c,"request":n,"fork":f,"block":{index,nodes}|null,
//    "hash":{index,nodes}|null,"seek":{bytes,nodes}|null,"upgrade":{start,length}|null}
//                                                (with --trace-requests) a data message
//                                                received (nodes = how many proof nodes)
//   {"event":"error","message":msg}             any failure outside a command
//   {"event":"closed"}                          the connection closed (the process stays up
//                                               and keeps serving commands on local data)
//
// Commands: JSON lines on stdin, run one at a time in order (each is awaited). Every reply
// is {"reply":op,"id":<the command's id, null if none>,"core":c, ...}; a failed command
// replies {"reply":op,"id":..,"error":msg} (for `get`: also the error code in "code").
//   {"op":"append","core":c,"count":n}          append n formula blocks (the index each block
//                                               will get, --block-size)  → length, fork
//   {"op":"append-values","core":c,"values":[hex,...]}      → length, fork
//   {"op":"truncate","core":c,"length":L}       core.truncate(L)         → length, fork
//   {"op":"get","core":c,"index":i,"timeout":ms,"wait":bool}
//                                   core.get(i, {timeout (default 10000), wait (default
//                                   true)})                  → value: hex, or null if absent
//                                                              and wait is false
//   {"op":"seek","core":c,"bytes":b,"timeout":ms}
//                                   core.seek(b, {timeout (default 10000)})
//                                                          → index, offset (the block
//                                                            holding byte b, b's offset in it)
//   {"op":"download","core":c,"start":s,"end":e}   await core.download({start, end}).done();
//                                   end is exclusive and defaults to the core's length
//   {"op":"update","core":c}        await core.update({wait: true}) → updated, length, fork
//   {"op":"info","core":c,"hashes":bool}
//                                   → length, contiguousLength, fork, byteLength (without
//                                     encryption padding), remoteContiguousLength, peers;
//                                     with "hashes": true also hashes: [hex SHA-256 of the
//                                     value (decrypted) of block i for i < length, null where
//                                     the block is not stored locally]
//   {"op":"check","core":c,"start":s,"end":e,"as":k}
//                                   reads blocks s..e-1 locally (get with wait: false) and
//                                   compares them with blockValue(k, i, --block-size), k
//                                   defaults to c (use "as" when a reader's core number
//                                   differs from the writer's) → ok, missing, wrong (each
//                                   capped at 100 indices), missingCount, wrongCount.
//                                   start defaults to 0, end to the core's length.
//   {"op":"peers","core":c}         what the replicator knows about each remote peer of the
//                                   core (hypercore internals): remoteLength, remoteFork,
//                                   remoteContiguousLength, remoteCanUpgrade, remoteUploading,
//                                   remoteDownloading, remoteSynced, remoteHasManifest
//   {"op":"close"}                  close all cores, end the connection, reply, exit 0.
// EOF on stdin does the same (without the reply).

import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { mkdtempSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { blockValue, sha256hex } from './blocks.mjs'
import { out, hex, parseHex, guardProcess, exitFlushed, serveCommands, removeDir } from './jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const Hypercore = require('hypercore')
const crypto = require('hypercore-crypto')
const NoiseSecretStream = require('@hyperswarm/secret-stream')

const APPEND_BATCH = 1000
const LIST_CAP = 100

function log(...args) {
  process.stderr.write('[hypercore-peer ' + (opts ? opts.role || '-' : '?') + '] ' + args.join(' ') + '\n')
}

function parseArgs(argv) {
  const o = {
    role: null,
    listen: null,
    connect: null,
    host: '127.0.0.1',
    writer: 0,
    reader: [],
    seedByte: 0,
    blocks: 0,
    blockSize: 1000,
    compat: false,
    encryptionKey: null,
    blockKey: false,
    downloadAll: false,
    uploadEvents: false,
    traceRequests: false,
    noiseSeed: null,
    dir: null,
    timeout: 0
  }
  const int = (v, name) => {
    if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${name} needs a non-negative integer`)
    const n = Number(v)
    if (!Number.isSafeInteger(n)) throw new Error(`${name} too large`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    switch (a) {
      case '--role': o.role = next(); break
      case '--listen': o.listen = int(next(), a); break
      case '--connect': {
        const v = next()
        const m = /^(.*):(\d+)$/.exec(v)
        if (!m) throw new Error('--connect needs HOST:PORT')
        o.connect = { host: m[1].replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(m[2]) }
        break
      }
      case '--host': o.host = next(); break
      case '--writer': o.writer = int(next(), a); break
      case '--reader': o.reader = next().split(',').filter(Boolean).map((k) => parseHex(k, 32, a)); break
      case '--seed-byte': o.seedByte = int(next(), a) & 0xff; break
      case '--blocks': o.blocks = int(next(), a); break
      case '--block-size': o.blockSize = int(next(), a); break
      case '--compat': o.compat = true; break
      case '--encryption-key': o.encryptionKey = parseHex(next(), 32, a); break
      case '--block-key': o.blockKey = true; break
      case '--download-all': o.downloadAll = true; break
      case '--upload-events': o.uploadEvents = true; break
      case '--trace-requests': o.traceRequests = true; break
      case '--noise-seed': o.noiseSeed = parseHex(next(), 32, a); break
      case '--dir': o.dir = next(); break
      case '--timeout': o.timeout = int(next(), a); break
      default: throw new Error('unknown argument ' + a)
    }
  }
  if (o.listen !== null && o.connect !== null) throw new Error('--listen and --connect are exclusive')
  if ((o.listen !== null || o.connect !== null) && o.role !== 'initiator' && o.role !== 'responder') {
    throw new Error('--role initiator|responder is required with --listen/--connect')
  }
  if (o.writer + o.reader.length === 0) throw new Error('need --writer N (N >= 1) and/or --reader KEYS')
  if (o.blockKey && !o.encryptionKey) throw new Error('--block-key needs --encryption-key')
  return o
}

let opts = null
try {
  opts = parseArgs(process.argv.slice(2))
} catch (err) {
  process.stderr.write('hypercore-peer.mjs: ' + err.message + '\n')
  out({ event: 'error', message: 'usage: ' + err.message })
  process.exit(2)
}

const tmpDir = opts.dir === null ? mkdtempSync(path.join(os.tmpdir(), 'ferrocore-hc-peer-')) : null
const baseDir = opts.dir === null ? tmpDir : opts.dir
mkdirSync(baseDir, { recursive: true })

const cores = []
let stream = null // the NoiseSecretStream
let socket = null
let server = null
let closing = null

// SIGKILL (e.g. Rust's Child::kill) cannot be caught: the default temporary directory then
// stays behind. Pass --dir inside the caller's own temporary directory to avoid that.
guardProcess(opts.timeout, cleanupDir, log)

function cleanupDir() {
  removeDir(tmpDir)
}

function coreOptions(extra) {
  const o = { ...extra }
  if (opts.compat) o.compat = true
  if (opts.encryptionKey) o.encryption = { key: opts.encryptionKey, block: opts.blockKey }
  return o
}

// --trace-requests: the replicator's Peer keeps its `request` message sender in
// `this.wireRequest` (set in its constructor) and handles received `data` in `ondata`. An
// accessor on the prototype sees that assignment and wraps the sender, so every request
// is reported exactly as written to the channel.
function traceRequests() {
  const { Peer } = require('hypercore/lib/replicator.js')
  const coreOf = (peer) => cores.findIndex((core) => core.core === peer.core)
  const nodesOf = (x) => (x ? { index: x.index, nodes: Array.isArray(x.nodes) ? x.nodes.length : x.nodes } : null)
  const wrapped = new WeakMap()
  Object.defineProperty(Peer.prototype, 'wireRequest', {
    configurable: true,
    get() {
      return wrapped.get(this)
    },
    set(message) {
      const peer = this
      const send = message.send.bind(message)
      message.send = (req) => {
        out({
          event: 'request-sent',
          core: coreOf(peer),
          id: req.id,
          fork: req.fork,
          block: nodesOf(req.block),
          hash: nodesOf(req.hash),
          seek: req.seek ? { bytes: req.seek.bytes, padding: req.seek.padding } : null,
          upgrade: req.upgrade ? { start: req.upgrade.start, length: req.upgrade.length } : null,
          manifest: !!req.manifest
        })
        return send(req)
      }
      wrapped.set(this, message)
    }
  })
  const ondata = Peer.prototype.ondata
  Peer.prototype.ondata = function (data) {
    out({
      event: 'data-received',
      core: coreOf(this),
      request: data.request,
      fork: data.fork,
      block: nodesOf(data.block),
      hash: nodesOf(data.hash),
      seek: data.seek ? { bytes: data.seek.bytes, nodes: data.seek.nodes.length } : null,
      upgrade: data.upgrade ? { start: data.upgrade.start, length: data.upgrade.length } : null
    })
    return ondata.call(this, data)
  }
}

async function openCores() {
  if (opts.traceRequests) traceRequests()
  for (let c = 0; c < opts.writer; c++) {
    const seed = Buffer.alloc(32, ((c + 1) ^ opts.seedByte) & 0xff)
    const keyPair = crypto.keyPair(seed)
    cores.push(new Hypercore(path.join(baseDir, String(c)), coreOptions({ keyPair })))
  }
  for (const key of opts.reader) {
    const c = cores.length
    cores.push(new Hypercore(path.join(baseDir, String(c)), key, coreOptions({})))
  }
  for (const core of cores) await core.ready()

  if (opts.blocks > 0) {
    for (let c = 0; c < opts.writer; c++) await appendFormula(c, opts.blocks)
  }

  cores.forEach((core, c) => {
    core.on('append', () => out({ event: 'append', core: c, length: core.length, fork: core.fork }))
    core.on('truncate', () => out({ event: 'truncate', core: c, length: core.length, fork: core.fork }))
    core.on('download', (index, byteLength) => out({ event: 'download', core: c, index, byteLength }))
    if (opts.uploadEvents) {
      core.on('upload', (index, byteLength) => out({ event: 'upload', core: c, index, byteLength }))
    }
    core.on('peer-add', () => out({ event: 'peer-add', core: c }))
    core.on('peer-remove', () => out({ event: 'peer-remove', core: c }))
  })

  out({
    event: 'ready',
    cores: cores.map((core, c) => ({
      core: c,
      key: hex(core.key),
      discoveryKey: hex(core.discoveryKey),
      length: core.length,
      fork: core.fork,
      writable: core.writable,
      compat: core.core.compat
    }))
  })
}

async function appendFormula(c, count) {
  const core = cores[c]
  let left = count
  while (left > 0) {
    const n = Math.min(left, APPEND_BATCH)
    const start = core.length
    const batch = []
    for (let j = 0; j < n; j++) batch.push(blockValue(c, start + j, opts.blockSize))
    await core.append(batch)
    left -= n
  }
}

function attach(sock) {
  socket = sock
  socket.setNoDelay(true)
  const noiseOpts = opts.noiseSeed ? { keyPair: crypto.keyPair(opts.noiseSeed) } : {}
  stream = new NoiseSecretStream(opts.role === 'initiator', socket, noiseOpts)
  // Sets up the protomux on stream.userData (+ the 5 s secret-stream keep-alive), exactly
  // as core.replicate(stream) would for the first core.
  Hypercore.createProtocolStream(stream)
  for (const core of cores) core.replicate(stream)

  stream.opened.then((ok) => {
    if (!ok) return
    out({
      event: 'connected',
      publicKey: hex(stream.publicKey),
      remotePublicKey: hex(stream.remotePublicKey),
      handshakeHash: hex(stream.handshakeHash),
      isInitiator: stream.isInitiator
    })
  })
  stream.on('error', (err) => {
    log('stream error', err && err.message)
    out({ event: 'error', message: 'stream: ' + (err && err.message) })
  })
  stream.on('close', () => {
    out({ event: 'closed' })
  })

  if (opts.downloadAll) {
    for (const core of cores) core.download({ start: 0, end: -1 })
  }
}

function connect() {
  if (opts.listen !== null) {
    server = net.createServer({ noDelay: true }, (sock) => {
      server.close()
      if (stream !== null) return sock.destroy()
      attach(sock)
    })
    server.on('error', (err) => out({ event: 'error', message: 'listen: ' + err.message }))
    server.listen(opts.listen, opts.host, () => out({ event: 'listening', port: server.address().port }))
  } else if (opts.connect !== null) {
    const sock = net.connect({ host: opts.connect.host, port: opts.connect.port, noDelay: true })
    attach(sock)
  }
}

function coreArg(cmd) {
  const c = cmd.core === undefined ? 0 : cmd.core
  if (!Number.isInteger(c) || c < 0 || c >= cores.length) throw new Error('no such core: ' + cmd.core)
  return c
}

async function runCommand(cmd) {
  const op = cmd.op
  const base = { reply: op, id: cmd.id === undefined ? null : cmd.id }
  try {
    switch (op) {
      case 'append': {
        const c = coreArg(cmd)
        await appendFormula(c, cmd.count === undefined ? 1 : cmd.count)
        return { ...base, core: c, length: cores[c].length, fork: cores[c].fork }
      }
      case 'append-values': {
        const c = coreArg(cmd)
        const values = (cmd.values || []).map((v, i) => parseHex(v, 0, 'values[' + i + ']'))
        await cores[c].append(values)
        return { ...base, core: c, length: cores[c].length, fork: cores[c].fork }
      }
      case 'truncate': {
        const c = coreArg(cmd)
        await cores[c].truncate(cmd.length)
        return { ...base, core: c, length: cores[c].length, fork: cores[c].fork }
      }
      case 'get': {
        const c = coreArg(cmd)
        try {
          const value = await cores[c].get(cmd.index, {
            timeout: cmd.timeout === undefined ? 10000 : cmd.timeout,
            wait: cmd.wait !== false
          })
          return { ...base, core: c, index: cmd.index, value: hex(value) }
        } catch (err) {
          return { ...base, core: c, index: cmd.index, error: err.message, code: err.code || null }
        }
      }
      case 'seek': {
        const c = coreArg(cmd)
        const [index, offset] = await cores[c].seek(cmd.bytes, {
          timeout: cmd.timeout === undefined ? 10000 : cmd.timeout
        })
        return { ...base, core: c, bytes: cmd.bytes, index, offset }
      }
      case 'download': {
        const c = coreArg(cmd)
        const start = cmd.start === undefined ? 0 : cmd.start
        const end = cmd.end === undefined ? cores[c].length : cmd.end
        await cores[c].download({ start, end }).done()
        return { ...base, core: c, start, end, length: cores[c].length, contiguousLength: cores[c].contiguousLength }
      }
      case 'update': {
        const c = coreArg(cmd)
        const updated = await cores[c].update({ wait: true })
        return { ...base, core: c, updated, length: cores[c].length, fork: cores[c].fork }
      }
      case 'info': {
        const c = coreArg(cmd)
        const core = cores[c]
        const r = {
          ...base,
          core: c,
          length: core.length,
          contiguousLength: core.contiguousLength,
          fork: core.fork,
          byteLength: core.byteLength,
          remoteContiguousLength: core.remoteContiguousLength,
          peers: core.peers.length
        }
        if (cmd.hashes) {
          const length = core.length
          const hashes = []
          for (let i = 0; i < length; i++) {
            const v = await core.get(i, { wait: false })
            hashes.push(v === null ? null : sha256hex(v))
          }
          r.length = length
          r.hashes = hashes
        }
        return r
      }
      case 'check': {
        const c = coreArg(cmd)
        const core = cores[c]
        const as = cmd.as === undefined ? c : cmd.as
        const start = cmd.start === undefined ? 0 : cmd.start
        const end = cmd.end === undefined ? core.length : cmd.end
        const missing = []
        const wrong = []
        let missingCount = 0
        let wrongCount = 0
        for (let i = start; i < end; i++) {
          const v = i < core.length ? await core.get(i, { wait: false }) : null
          if (v === null) {
            if (missingCount++ < LIST_CAP) missing.push(i)
          } else if (!v.equals(blockValue(as, i, opts.blockSize))) {
            if (wrongCount++ < LIST_CAP) wrong.push(i)
          }
        }
        return { ...base, core: c, start, end, ok: missingCount === 0 && wrongCount === 0, missing, wrong, missingCount, wrongCount }
      }
      case 'peers': {
        const c = coreArg(cmd)
        const peers = cores[c].peers.map((p) => ({
          remotePublicKey: hex(p.remotePublicKey),
          remoteLength: p.remoteLength,
          remoteFork: p.remoteFork,
          remoteContiguousLength: p.remoteContiguousLength,
          remoteCanUpgrade: p.remoteCanUpgrade,
          remoteUploading: p.remoteUploading,
          remoteDownloading: p.remoteDownloading,
          remoteSynced: p.remoteSynced,
          remoteHasManifest: p.remoteHasManifest
        }))
        return { ...base, core: c, peers }
      }
      case 'close': {
        await shutdown()
        return base
      }
      default:
        throw new Error('unknown op ' + JSON.stringify(op))
    }
  } catch (err) {
    return { ...base, error: (err && err.message) || String(err) }
  }
}

async function shutdown() {
  if (closing) return closing
  closing = (async () => {
    if (server) server.close()
    for (const core of cores) {
      try {
        await core.close()
      } catch (err) {
        log('close core', err && err.message)
      }
    }
    if (stream && !stream.destroyed) {
      const closed = new Promise((resolve) => stream.once('close', resolve))
      stream.end()
      const timer = setTimeout(() => stream.destroy(), 2000)
      await closed
      clearTimeout(timer)
    }
  })()
  return closing
}

function exit(code) {
  exitFlushed(code, cleanupDir)
}

async function main() {
  await openCores()
  connect()

  serveCommands(runCommand, shutdown, cleanupDir)
}

main().catch((err) => {
  log('fatal', err && err.stack)
  out({ event: 'error', message: 'fatal: ' + (err && err.message) })
  shutdown().finally(() => exit(1))
})
