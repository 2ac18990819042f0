#!/usr/bin/env node
// JS side of the ferrocore transport benchmark: @hyperswarm/secret-stream 6.9.2 and
// protomux 3.12.1 (the versions hypercore 11.37.1 uses), in memory, no TCP.
//
//   node bench-transport.mjs [--mb N] [--sizes 4096,65536] [--handshakes K]
//                            [--warmup-mb N] [--only LIST] [--repeat R]
//
//   --mb N          total payload per throughput measurement, in MiB, for every
//                   message size (default: 256 MiB for 65536-byte messages, 128 MiB
//                   for 4096-byte ones, and 256 MiB for any other size).
//   --sizes LIST    message sizes in bytes (default 4096,65536).
//   --handshakes K  handshakes per handshake measurement (default 500).
//   --warmup-mb N   untimed warm-up volume before each throughput measurement,
//                   on a separate stream pair (default 16; 0 = none). 20 untimed
//                   handshakes precede the handshake measurements.
//   --only LIST     subset of throughput,throughput-mux,handshake,handshake-roundtrip
//                   (default: all).
//   --repeat R      repeat every measurement R times (default 1), one line each.
//
// Output: one JSON line per measurement on stdout (first line {"impl":"meta",...}):
//   {"impl":"js","workload":"throughput","message":S,"bytes":B,"secs":t,"mb_per_sec":B/1e6/t}
//   {"impl":"js","workload":"throughput-mux", ... same fields ...}
//   {"impl":"js","workload":"handshake","count":K,"secs":t,"per_sec":K/t}
//   {"impl":"js","workload":"handshake-roundtrip","count":K,"secs":t,"per_sec":K/t}
// (every line also carries "load1", the 1-minute load average when it finished).
//
// Setup shared by all workloads: two SecretStreams created without a raw stream, so
// each gets secret-stream's in-memory Bridge, wired back to back the way
// secret-stream's and hypercore's own tests do it:
//   a.rawStream.pipe(b.rawStream).pipe(a.rawStream)
// a = Noise initiator (static key from seed 01 x 32), b = responder (seed 02 x 32).
// Ephemeral Noise keys are random (as in production), payload content is fixed.
//
// throughput: after both `opened` promises resolved, the clock starts; a writes
//   M = floor(B / S) buffers of S bytes with a.write(buf) (one secret-stream record
//   each), awaiting 'drain' whenever write returns false; the clock stops when b
//   has emitted all M*S plaintext bytes ('data').
// throughput-mux: the same through protomux: a Protomux on each stream, one channel
//   ("ferrocore/bench", message 0 = c.raw), opened on both sides; the clock starts
//   once a's channel is fully open; a sends M messages of S payload bytes with
//   channel.messages[0].send(buf) (one frame = one record each; frame header 2 bytes),
//   awaiting the stream's 'drain' whenever send returns false; the clock stops when
//   b's onmessage has seen all M*S payload bytes.
// handshake: K times, sequentially: create a fresh pair, pipe, wait until BOTH
//   `opened` promises resolved (= both emitted 'connect': Noise XX done on both
//   sides and each side has written its 56-byte header record), destroy both.
//   Stream creation and teardown are inside the timed loop.
// handshake-roundtrip: as handshake, but additionally each side writes one 1-byte
//   record and the iteration ends when each side has received the other's byte,
//   i.e. both header records were received and validated and one transport
//   record went each way.
// Time: process.hrtime.bigint().

import os from 'node:os'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { waitDrain } from './jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const SecretStream = require('@hyperswarm/secret-stream')
const Protomux = require('protomux')
const c = require('compact-encoding')

const MiB = 1024 * 1024

function parseArgs(argv) {
  const o = {
    mb: null,
    sizes: [4096, 65536],
    handshakes: 500,
    warmupMb: 16,
    only: ['throughput', 'throughput-mux', 'handshake', 'handshake-roundtrip'],
    repeat: 1
  }
  const int = (v, name) => {
    if (v === undefined || !/^\d+$/.test(v)) throw new Error(name + ' needs a non-negative integer')
    return Number(v)
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    switch (a) {
      case '--mb': o.mb = int(argv[++i], a); break
      case '--sizes': o.sizes = String(argv[++i]).split(',').map((s) => int(s, a)); break
      case '--handshakes': o.handshakes = int(argv[++i], a); break
      case '--warmup-mb': o.warmupMb = int(argv[++i], a); break
      case '--only': o.only = String(argv[++i]).split(','); break
      case '--repeat': o.repeat = Math.max(1, int(argv[++i], a)); break
      default: throw new Error('unknown argument ' + a)
    }
  }
  for (const s of o.sizes) if (s < 1 || s > 16_777_198 - 16) throw new Error('bad size ' + s)
  for (const w of o.only) if (!['throughput', 'throughput-mux', 'handshake', 'handshake-roundtrip'].includes(w)) throw new Error('bad workload ' + w)
  return o
}

const opts = parseArgs(process.argv.slice(2))

const kpA = SecretStream.keyPair(Buffer.alloc(32, 1))
const kpB = SecretStream.keyPair(Buffer.alloc(32, 2))

function emit(obj) {
  obj.load1 = Math.round(os.loadavg()[0] * 100) / 100
  process.stdout.write(JSON.stringify(obj) + '\n')
}

// Version of the copy that is actually loaded (read from disk: some packages do
// not export their package.json).
function pkgVersion(name) {
  try {
    const dir = new URL('./node_modules/' + name + '/package.json', import.meta.url)
    return JSON.parse(readFileSync(dir, 'utf8')).version
  } catch {
    return null
  }
}

function now() {
  return process.hrtime.bigint()
}

function secsSince(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e9
}

function makePair() {
  const a = new SecretStream(true, null, { keyPair: kpA })
  const b = new SecretStream(false, null, { keyPair: kpB })
  a.rawStream.pipe(b.rawStream).pipe(a.rawStream)
  return [a, b]
}

async function openedPair() {
  const [a, b] = makePair()
  const [oa, ob] = await Promise.all([a.opened, b.opened])
  if (!oa || !ob) throw new Error('handshake failed')
  return [a, b]
}

function closePair(a, b) {
  return Promise.all([a, b].map((s) => new Promise((resolve) => {
    if (s.destroyed) return resolve()
    s.once('close', resolve)
    s.destroy()
  })))
}

function totalFor(size) {
  if (opts.mb !== null) return opts.mb * MiB
  return size === 4096 ? 128 * MiB : 256 * MiB
}

// ---- raw secret-stream throughput -------------------------------------------------

async function rawRun(size, total) {
  const [a, b] = await openedPair()
  const m = Math.floor(total / size)
  const expect = m * size
  const buf = Buffer.alloc(size, 0xa5)
  let received = 0
  const done = new Promise((resolve, reject) => {
    b.on('data', (d) => {
      received += d.byteLength
      if (received >= expect) resolve()
    })
    b.on('error', reject)
    a.on('error', reject)
    if (expect === 0) resolve()
  })
  const secs = await timedSends(m, () => a.write(buf), a, done)
  if (received !== expect) throw new Error(`received ${received} != ${expect}`)
  await closePair(a, b)
  return { bytes: expect, secs }
}

// Times m calls of send() (awaiting the stream's 'drain' whenever one returns false) until
// done resolves; the throughput workloads' timed loop.
async function timedSends(m, send, stream, done) {
  const t0 = now()
  for (let i = 0; i < m; i++) {
    if (!send()) await waitDrain(stream)
  }
  await done
  return secsSince(t0)
}

// ---- protomux throughput ----------------------------------------------------------

async function muxRun(size, total) {
  const [a, b] = await openedPair()
  const m = Math.floor(total / size)
  const expect = m * size
  let received = 0
  let resolveDone
  const done = new Promise((resolve, reject) => {
    resolveDone = resolve
    b.on('error', reject)
    a.on('error', reject)
  })
  const mk = (stream, onmessage) => new Protomux(stream).createChannel({
    protocol: 'ferrocore/bench',
    messages: [{ encoding: c.raw, onmessage }]
  })
  const ca = mk(a, () => {})
  const cb = mk(b, (d) => {
    received += d.byteLength
    if (received >= expect) resolveDone()
  })
  ca.open()
  cb.open()
  if (!(await ca.fullyOpened()) || !(await cb.fullyOpened())) throw new Error('channel did not open')
  if (expect === 0) resolveDone()
  const buf = Buffer.alloc(size, 0xa5)
  const send = ca.messages[0]
  const secs = await timedSends(m, () => send.send(buf), a, done)
  if (received !== expect) throw new Error(`received ${received} != ${expect}`)
  await closePair(a, b)
  return { bytes: expect, secs }
}

// ---- handshakes -------------------------------------------------------------------

async function handshakeOnce() {
  const [a, b] = await openedPair()
  a.destroy()
  b.destroy()
}

async function handshakeRoundtripOnce() {
  const [a, b] = makePair()
  const got = (s) => new Promise((resolve, reject) => {
    s.once('data', resolve)
    s.once('error', reject)
  })
  const pa = got(a)
  const pb = got(b)
  const [oa, ob] = await Promise.all([a.opened, b.opened])
  if (!oa || !ob) throw new Error('handshake failed')
  a.write(Buffer.from([1]))
  b.write(Buffer.from([2]))
  await Promise.all([pa, pb])
  a.destroy()
  b.destroy()
}

async function handshakes(k, fn) {
  const t0 = now()
  for (let i = 0; i < k; i++) await fn()
  return secsSince(t0)
}

// ---- main ---------------------------------------------------------------------------

async function main() {
  const cpus = os.cpus()
  emit({
    impl: 'meta',
    node: process.version,
    v8: process.versions.v8,
    packages: Object.fromEntries([
      '@hyperswarm/secret-stream', 'protomux', 'compact-encoding', 'hypercore-crypto',
      'sodium-native', 'sodium-universal', 'sodium-secretstream', 'noise-handshake',
      'noise-curve-ed', 'streamx', 'b4a'
    ].map((n) => [n, pkgVersion(n)])),
    cpus: cpus.length,
    cpuModel: cpus[0] ? cpus[0].model : null,
    pipe: 'secret-stream Bridge pair: a.rawStream.pipe(b.rawStream).pipe(a.rawStream)',
    opts
  })

  for (const workload of ['throughput', 'throughput-mux']) {
    if (!opts.only.includes(workload)) continue
    const run = workload === 'throughput' ? rawRun : muxRun
    for (const size of opts.sizes) {
      if (opts.warmupMb > 0) await run(size, opts.warmupMb * MiB)
      for (let r = 0; r < opts.repeat; r++) {
        const { bytes, secs } = await run(size, totalFor(size))
        emit({ impl: 'js', workload, message: size, bytes, secs, mb_per_sec: bytes / 1e6 / secs })
      }
    }
  }

  for (const [workload, fn] of [['handshake', handshakeOnce], ['handshake-roundtrip', handshakeRoundtripOnce]]) {
    if (!opts.only.includes(workload)) continue
    await handshakes(20, fn) // warm-up
    for (let r = 0; r < opts.repeat; r++) {
      const k = opts.handshakes
      const secs = await handshakes(k, fn)
      emit({ impl: 'js', workload, count: k, secs, per_sec: k / secs })
    }
  }
}

main().catch((err) => {
  process.stderr.write('bench-transport: ' + (err.stack || err) + '\n')
  process.exit(1)
})
