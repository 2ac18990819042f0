#!/usr/bin/env node
// Replication benchmark, JS hypercore 11.37.1 side. Two modes.
//
// 1. JS -> JS in ONE process (default):
//
//      node bench-replicate.mjs [--blocks N] [--block-size B] [--latency-samples K]
//           [--gap-ms G] [--transport pipe|direct] [--idle-peers M]
//
//    A writer core with N blocks (default 100000) of B bytes (default 4096; content:
//    blocks.mjs, core 0, appended in batches of 1000, temp-dir storage) and a reader core
//    opened with the writer's key, connected over real loopback TCP (net.createServer /
//    net.connect, setNoDelay(true)). The writer's side is the Noise responder, the reader's
//    side the initiator.
//      --transport pipe    (default) `core.replicate(isInitiator)` returns the secret
//                          stream's raw end, piped both ways with the socket
//                          (socket.pipe(s).pipe(socket)), as in hypercore's own tests;
//      --transport direct  `new NoiseSecretStream(isInitiator, socket)` passed to
//                          `core.replicate(stream)`, as hyperswarm does (no pipe hop).
//    Figures:
//      replicate-download  time from just before net.connect to the reader's
//                          download({start: 0, end: N}).done() (the range is requested before
//                          connecting) → mb_per_s = N*B/1e6/seconds, blocks_per_s.
//      replicate-latency   then, on the same connection, the reader has a live
//                          download({start: N, end: -1}); the writer appends ONE block at a
//                          time, K times (default 500): latency = hrtime just before
//                          writer.append() → the reader's 'download' event for that index;
//                          the next append starts G ms (default 2) after that event.
//                          → median, p90, p99 in ms.
//      replicate-idle-rss  (only with --idle-peers M) M more loopback connections between
//                          the same two cores, each replicating both cores, left idle for
//                          1 s: RSS delta / M = bytes per idle connection (both ends live
//                          in this process, so this is two peers' worth); also the V8
//                          heapUsed delta / M (RSS grows in coarse steps).
//
// 2. Cross-process, one side JS and the other an external (e.g. Rust) process:
//
//      node bench-replicate.mjs --role sender   (--listen PORT | --connect HOST:PORT)
//           [--blocks N] [--block-size B] [--latency-samples K] [--gap-ms G] [--ack-timeout MS]
//      node bench-replicate.mjs --role receiver --key HEX (--listen PORT | --connect HOST:PORT)
//           [--blocks N] [--latency-samples K] [--verify] [--pair LABEL]
//    common: [--noise initiator|responder] (default: the connecting side is the initiator),
//            [--transport pipe|direct], [--host ADDR] (listen address, default 127.0.0.1).
//
//    sender   = writer with N formula blocks (core 0, same seed as hypercore-peer.mjs core 0:
//               keyPair(32 x 0x01)). stdout: {"event":"ready","key":hex,"blocks":N} first,
//               then {"event":"listening","port":P} when listening, {"event":"connected"},
//               {"event":"live-start","trigger":"synced"|"stdin"}, and
//               {"event":"live-done","samples":K,"acked":n} after the live phase.
//               LIVE PHASE TRIGGER: the sender starts the live appends as soon as the remote
//               peer has announced (hypercore `range` message, start 0) that it has all N
//               blocks, i.e. writer.remoteContiguousLength >= N — or when it reads
//               {"op":"live"} on stdin, whichever comes first. It then appends K blocks,
//               one at a time. Live block j (index N + j) is blockValue(0, N + j, B) with its
//               first 8 bytes replaced by process.hrtime.bigint() taken just before the
//               append: nanoseconds of CLOCK_MONOTONIC, unsigned 64-bit LITTLE-ENDIAN. (Node's
//               hrtime is libuv's uv_hrtime = clock_gettime(CLOCK_MONOTONIC) on Linux; the
//               Rust side must use the same clock, e.g. libc::clock_gettime(CLOCK_MONOTONIC)
//               — std::time::Instant is CLOCK_MONOTONIC on Linux but opaque.) Pacing: after
//               each append the sender waits until the remote has announced that block
//               (range message; at most --ack-timeout ms, default 1000), then G ms.
//               After the K-th block it waits for the remote to close the connection (at
//               most 10 s) and exits 0.
//    receiver = reader of --key. stdout: {"event":"listening","port":P} when listening,
//               {"event":"connected"}, then the replicate-download figure (time from
//               net.connect — or from accepting the connection when listening — to
//               download({start: 0, end: N}).done()), then the replicate-latency figure:
//               for each 'download' event with index >= N: latency = own hrtime at the
//               event − the 8-byte LE timestamp in the block. After K samples it closes the
//               connection and exits 0. --verify checks all N blocks against the formula
//               after the download (not timed). --pair (default "ext->js") labels the figures.
//
// Output: one JSON line per figure (logs on stderr):
//   {"bench":"replicate-download","impl":"js","pair":"js->js","blocks":N,"block_size":B,
//    "bytes":N*B,"seconds":s,"mb_per_s":x,"blocks_per_s":y,"transport":"pipe"}
//   {"bench":"replicate-latency","impl":"js","pair":"js->js","samples":K,"median_ms":..,
//    "p90_ms":..,"p99_ms":..,"min_ms":..,"max_ms":..,"mean_ms":..,"transport":"pipe"}
//   {"bench":"replicate-idle-rss","impl":"js","pair":"js->js","connections":M,
//    "rss_delta_bytes":d,"bytes_per_connection":d/M,"heap_used_per_connection":h/M,...}

import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { mkdtempSync, rmSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { createRequire } from 'node:module'
import { blockValue } from './blocks.mjs'

const require = createRequire(import.meta.url)
const Hypercore = require('hypercore')
const crypto = require('hypercore-crypto')
const NoiseSecretStream = require('@hyperswarm/secret-stream')

const WRITER_SEED = Buffer.alloc(32, 1) // = hypercore-peer.mjs core 0 with --seed-byte 0
const BATCH = 1000

function log(...a) {
  process.stderr.write('[bench-replicate] ' + a.join(' ') + '\n')
}
function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const now = () => process.hrtime.bigint()
const round = (x, d = 3) => Number(x.toFixed(d))

function parseArgs(argv) {
  const o = {
    role: null,
    blocks: 100000,
    blockSize: 4096,
    samples: 500,
    gapMs: 2,
    transport: 'pipe',
    idlePeers: 0,
    listen: null,
    connect: null,
    host: '127.0.0.1',
    noise: null,
    key: null,
    verify: false,
    pair: null,
    ackTimeout: 1000
  }
  const int = (v, name) => {
    if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${name} needs a non-negative integer`)
    return Number(v)
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    switch (a) {
      case '--role': o.role = next(); break
      case '--blocks': o.blocks = int(next(), a); break
      case '--block-size': o.blockSize = int(next(), a); break
      case '--latency-samples': o.samples = int(next(), a); break
      case '--gap-ms': o.gapMs = int(next(), a); break
      case '--transport': o.transport = next(); break
      case '--idle-peers': o.idlePeers = int(next(), a); break
      case '--listen': o.listen = int(next(), a); break
      case '--connect': {
        const m = /^(.*):(\d+)$/.exec(next())
        if (!m) throw new Error('--connect needs HOST:PORT')
        o.connect = { host: m[1] || '127.0.0.1', port: Number(m[2]) }
        break
      }
      case '--host': o.host = next(); break
      case '--noise': o.noise = next(); break
      case '--key': o.key = Buffer.from(next(), 'hex'); break
      case '--verify': o.verify = true; break
      case '--pair': o.pair = next(); break
      case '--ack-timeout': o.ackTimeout = int(next(), a); break
      default: throw new Error('unknown argument ' + a)
    }
  }
  if (!['pipe', 'direct'].includes(o.transport)) throw new Error('--transport pipe|direct')
  if (o.role !== null && !['sender', 'receiver'].includes(o.role)) throw new Error('--role sender|receiver')
  if (o.role !== null && (o.listen === null) === (o.connect === null)) throw new Error('--role needs exactly one of --listen/--connect')
  if (o.role === 'receiver' && (!o.key || o.key.length !== 32)) throw new Error('--role receiver needs --key HEX (32 bytes)')
  if (o.noise !== null && !['initiator', 'responder'].includes(o.noise)) throw new Error('--noise initiator|responder')
  if (o.blockSize < 8) throw new Error('--block-size must be >= 8 (live blocks carry a timestamp)')
  return o
}

// Replicates `core` over `socket`; returns the NoiseSecretStream.
function replicateOver(core, socket, isInitiator, transport) {
  socket.setNoDelay(true)
  if (transport === 'direct') {
    const ns = new NoiseSecretStream(isInitiator, socket)
    core.replicate(ns)
    return ns
  }
  const s = core.replicate(isInitiator)
  socket.pipe(s).pipe(socket)
  socket.on('error', () => s.destroy())
  s.on('error', () => socket.destroy())
  return s.noiseStream
}

async function makeWriter(dir, n, size) {
  const writer = new Hypercore(dir, { keyPair: crypto.keyPair(WRITER_SEED) })
  await writer.ready()
  const t = Date.now()
  for (let start = writer.length; start < n; start += BATCH) {
    const batch = []
    for (let i = start; i < Math.min(n, start + BATCH); i++) batch.push(blockValue(0, i, size))
    await writer.append(batch)
  }
  log(`writer: ${n} blocks of ${size} B in ${((Date.now() - t) / 1000).toFixed(1)} s`)
  return writer
}

function liveBlock(index, size) {
  const b = blockValue(0, index, size)
  b.writeBigUInt64LE(now(), 0)
  return b
}

function percentile(sorted, p) {
  // nearest-rank
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

function latencyFigure(pair, samplesMs, transport) {
  const s = [...samplesMs].sort((a, b) => a - b)
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1)
  return {
    bench: 'replicate-latency',
    impl: 'js',
    pair,
    samples: s.length,
    median_ms: round(percentile(s, 50)),
    p90_ms: round(percentile(s, 90)),
    p99_ms: round(percentile(s, 99)),
    min_ms: round(s[0] ?? 0),
    max_ms: round(s[s.length - 1] ?? 0),
    mean_ms: round(mean),
    transport
  }
}

function downloadFigure(pair, n, size, seconds, transport) {
  return {
    bench: 'replicate-download',
    impl: 'js',
    pair,
    blocks: n,
    block_size: size,
    bytes: n * size,
    seconds: round(seconds, 4),
    mb_per_s: round((n * size) / 1e6 / seconds, 2),
    blocks_per_s: Math.round(n / seconds),
    transport
  }
}

// ---------------------------------------------------------------- JS -> JS, one process

async function inProcess(o) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-bench-repl-'))
  const sockets = []
  const cores = []
  try {
    const writer = await makeWriter(path.join(tmp, 'writer'), o.blocks, o.blockSize)
    const reader = new Hypercore(path.join(tmp, 'reader'), writer.key)
    cores.push(writer, reader)
    await reader.ready()

    const server = net.createServer((sock) => {
      sockets.push(sock)
      replicateOver(writer, sock, false, o.transport)
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = server.address().port

    const N = o.blocks
    const t0 = now()
    const range = reader.download({ start: 0, end: N })
    const sock = net.connect({ host: '127.0.0.1', port })
    sockets.push(sock)
    replicateOver(reader, sock, true, o.transport)
    await range.done()
    const seconds = Number(now() - t0) / 1e9
    if (reader.contiguousLength < N) throw new Error(`reader has ${reader.contiguousLength} < ${N} blocks`)
    for (const i of [0, N >> 1, N - 1]) {
      if (N > 0 && !(await reader.get(i, { wait: false })).equals(blockValue(0, i, o.blockSize))) {
        throw new Error('block ' + i + ' differs')
      }
    }
    out(downloadFigure('js->js', N, o.blockSize, seconds, o.transport))

    if (o.samples > 0) {
      const pending = new Map()
      reader.on('download', (index) => {
        const t = now()
        const p = pending.get(index)
        if (p) {
          pending.delete(index)
          p(t)
        }
      })
      reader.download({ start: N, end: -1 })
      await sleep(100)
      const lat = []
      for (let k = 0; k < o.samples; k++) {
        const index = writer.length
        const got = new Promise((resolve) => pending.set(index, resolve))
        const block = liveBlock(index, o.blockSize)
        const t = now()
        await writer.append(block)
        const t1 = await Promise.race([got, sleep(5000).then(() => null)])
        if (t1 === null) throw new Error(`live block ${index}: no download event within 5 s`)
        lat.push(Number(t1 - t) / 1e6)
        if (o.gapMs) await sleep(o.gapMs)
      }
      out(latencyFigure('js->js', lat, o.transport))
    }

    if (o.idlePeers > 0) {
      await sleep(500)
      const before = process.memoryUsage().rss
      const heapBefore = process.memoryUsage().heapUsed
      for (let m = 0; m < o.idlePeers; m++) {
        const s = net.connect({ host: '127.0.0.1', port })
        sockets.push(s)
        const ns = replicateOver(reader, s, true, o.transport)
        await ns.opened
      }
      await sleep(1000)
      const after = process.memoryUsage().rss
      const heapAfter = process.memoryUsage().heapUsed
      out({
        bench: 'replicate-idle-rss',
        impl: 'js',
        pair: 'js->js',
        connections: o.idlePeers,
        rss_delta_bytes: after - before,
        bytes_per_connection: Math.round((after - before) / o.idlePeers),
        heap_used_per_connection: Math.round((heapAfter - heapBefore) / o.idlePeers),
        reader_peers: reader.peers.length,
        writer_peers: writer.peers.length,
        note: 'both ends of each connection are in this process',
        transport: o.transport
      })
    }
    server.close()
  } finally {
    for (const s of sockets) s.destroy()
    for (const c of cores) await c.close().catch(() => {})
    rmSync(tmp, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------- cross-process

// Resolves with { socket, isInitiator, t0 } for the one connection of this process.
function establish(o) {
  return new Promise((resolve, reject) => {
    if (o.listen !== null) {
      const server = net.createServer((sock) => {
        const t0 = now()
        server.close()
        resolve({ socket: sock, isInitiator: o.noise ? o.noise === 'initiator' : false, t0 })
      })
      server.on('error', reject)
      server.listen(o.listen, o.host, () => out({ event: 'listening', port: server.address().port }))
    } else {
      const t0 = now()
      const sock = net.connect({ host: o.connect.host, port: o.connect.port })
      sock.on('error', reject)
      resolve({ socket: sock, isInitiator: o.noise ? o.noise === 'initiator' : true, t0 })
    }
  })
}

async function sender(o) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-bench-send-'))
  let writer = null
  try {
    writer = await makeWriter(path.join(tmp, 'writer'), o.blocks, o.blockSize)
    const N = o.blocks
    out({ event: 'ready', key: writer.key.toString('hex'), blocks: N, block_size: o.blockSize })

    let trigger = null
    const triggered = new Promise((resolve) => (trigger = resolve))
    createInterface({ input: process.stdin }).on('line', (line) => {
      try {
        if (JSON.parse(line).op === 'live') trigger('stdin')
      } catch {}
    })

    const { socket, isInitiator } = await establish(o)
    const ns = replicateOver(writer, socket, isInitiator, o.transport)
    const closed = new Promise((resolve) => ns.on('close', resolve))
    ns.on('error', (err) => log('stream error', err.message))
    ns.opened.then((ok) => ok && out({ event: 'connected', remotePublicKey: ns.remotePublicKey.toString('hex') }))

    const poll = setInterval(() => {
      if (writer.remoteContiguousLength >= N) trigger('synced')
    }, 1)
    const how = await Promise.race([triggered, closed.then(() => 'closed')])
    clearInterval(poll)
    if (how === 'closed') throw new Error('connection closed before the live phase')
    out({ event: 'live-start', trigger: how })

    let acked = 0
    const remoteHas = (index) => writer.peers.some((p) => p.remoteContiguousLength > index || p.remoteBitfield.get(index))
    for (let k = 0; k < o.samples; k++) {
      const index = writer.length
      await writer.append(liveBlock(index, o.blockSize))
      const deadline = Date.now() + o.ackTimeout
      while (!remoteHas(index) && Date.now() < deadline && !ns.destroyed) await sleep(0.2)
      if (remoteHas(index)) acked++
      if (o.gapMs) await sleep(o.gapMs)
    }
    out({ event: 'live-done', samples: o.samples, acked })
    await Promise.race([closed, sleep(10000)])
    ns.destroy()
  } finally {
    if (writer) await writer.close().catch(() => {})
    rmSync(tmp, { recursive: true, force: true })
  }
}

async function receiver(o) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-bench-recv-'))
  const pair = o.pair || 'ext->js'
  const reader = new Hypercore(path.join(tmp, 'reader'), o.key)
  try {
    await reader.ready()
    const N = o.blocks
    const range = reader.download({ start: 0, end: N })
    const { socket, isInitiator, t0 } = await establish(o)
    const ns = replicateOver(reader, socket, isInitiator, o.transport)
    ns.on('error', (err) => log('stream error', err.message))
    ns.opened.then((ok) => ok && out({ event: 'connected', remotePublicKey: ns.remotePublicKey.toString('hex') }))
    const closed = new Promise((resolve) => ns.on('close', resolve))

    // live samples may start arriving as soon as the sender sees us synced
    const lat = []
    let done = null
    const allDone = new Promise((resolve) => (done = resolve))
    reader.on('download', (index) => {
      const t = now()
      if (index < N) return
      reader.get(index, { wait: false }).then((b) => {
        if (b && lat.length < o.samples) {
          lat.push(Number(t - b.readBigUInt64LE(0)) / 1e6)
          if (lat.length === o.samples) done()
        }
      })
    })

    await Promise.race([range.done(), closed.then(() => Promise.reject(new Error('connection closed during download')))])
    out(downloadFigure(pair, N, o.blockSize, Number(now() - t0) / 1e9, o.transport))
    reader.download({ start: N, end: -1 })

    if (o.verify) {
      let bad = 0
      for (let i = 0; i < N; i++) {
        if (!(await reader.get(i, { wait: false })).equals(blockValue(0, i, o.blockSize))) bad++
      }
      out({ event: 'verify', blocks: N, bad })
      if (bad) process.exitCode = 1
    }

    if (o.samples > 0) {
      await Promise.race([allDone, closed])
      if (lat.length < o.samples) log(`only ${lat.length} of ${o.samples} live samples before close`)
      out(latencyFigure(pair, lat, o.transport))
    }
    ns.end()
    await Promise.race([closed, sleep(2000)])
    ns.destroy()
  } finally {
    await reader.close().catch(() => {})
    rmSync(tmp, { recursive: true, force: true })
  }
}

let o
try {
  o = parseArgs(process.argv.slice(2))
} catch (err) {
  process.stderr.write('bench-replicate.mjs: ' + err.message + '\n')
  process.exit(2)
}
const run = o.role === 'sender' ? sender : o.role === 'receiver' ? receiver : inProcess
run(o).then(
  () => process.exit(process.exitCode || 0),
  (err) => {
    log('error:', err && err.stack)
    process.exit(1)
  }
)
