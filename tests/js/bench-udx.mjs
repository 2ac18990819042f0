#!/usr/bin/env node
// JS side of the ferrocore UDX benchmark: one-way bulk throughput of ONE stream between two
// processes on loopback (this one writes, a child process of this script reads):
//
//   udx-plain    a raw udx-native 1.21.3 stream (no encryption)
//   udx-secret   @hyperswarm/secret-stream 6.9.2 over that udx stream: Noise XX in band
//                (the sender is the initiator), then secretstream records, as JS apps do
//                when they wrap a raw udx stream themselves
//   tcp-plain    a TCP socket (node:net), for comparison
//   tcp-secret   secret-stream over that TCP socket (what hypercore replication uses today)
//
//   node bench-udx.mjs [--mb N] [--chunk C] [--only LIST] [--repeat R]
//                      [--relay BIN [--loss P] [--delay-ms D] [--seed S]]
//
//   --mb N        MiB per measurement (default 256).
//   --chunk C     bytes per write (default 65536; one secret-stream record each).
//   --only LIST   subset of udx-plain,udx-secret,tcp-plain,tcp-secret (default: all; with
//                 --relay only the udx ones can run).
//   --repeat R    every measurement R times, one line each (default 1).
//   --relay BIN   send the udx streams through the lossy relay (tests/src/bin/lossy-relay.rs,
//                 built: target/release/lossy-relay) with --loss P (default 0.01) and
//                 --delay-ms D one way (default 10: 20 ms RTT), seed S (default 1).
//
// Output: one JSON line per measurement on stdout (first line {"impl":"meta",...}):
//   {"impl":"js","workload":W,"path":"loopback"|"relay","loss":P,"rtt_ms":2D,"bytes":B,
//    "chunk":C,"secs":t,"mb_per_sec":B/1e6/t,"handshake_ms":h (secret rows),
//    "retransmits":n (udx rows: the sender stream's libudx retransmit count, a u16 that
//    wraps), "relay":{counts} (relay rows: tests/src/bin/lossy-relay.rs output),"load1"}
// The clock starts when the sender can write (udx: both streams connected; secret: the
// Noise handshake done on the sender's side) and stops when the receiver reports it has
// read all B bytes (a line on its stdout; the pipe adds well under a millisecond).
// Receivers count bytes only (no content check: udx-selftest.mjs and the interop tests do
// that). Time: process.hrtime.bigint().
//
// Child mode (internal): node bench-udx.mjs --child WORKLOAD --bytes B

import os from 'node:os'
import net from 'node:net'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { waitDrain } from './jsonl-peer.mjs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const UDX = require('udx-native')
const SecretStream = require('@hyperswarm/secret-stream')

const WORKLOADS = ['udx-plain', 'udx-secret', 'tcp-plain', 'tcp-secret']
const line = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

function arg(name, dflt) {
  const i = process.argv.indexOf(name)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt
}

// ---- the receiver (child process) ----

// Counts `bytes` bytes from `stream`, then prints {"done":n}.
function count(stream, bytes) {
  let n = 0
  stream.on('data', (d) => {
    n += d.length
    if (n >= bytes) line({ done: n })
  })
  stream.on('error', (err) => line({ error: err.message }))
}

async function child(workload, bytes) {
  const secret = workload.endsWith('-secret')
  const commands = createInterface({ input: process.stdin })
  commands.on('close', () => process.exit(0))
  if (workload.startsWith('tcp')) {
    const server = net.createServer((socket) => {
      server.close()
      count(secret ? new SecretStream(false, socket) : socket, bytes)
    })
    server.listen(0, '127.0.0.1', () => line({ port: server.address().port }))
    return
  }
  const udx = new UDX()
  const socket = udx.createSocket()
  socket.bind(0, '127.0.0.1')
  const stream = udx.createStream(2)
  line({ port: socket.address().port, stream: 2 })
  commands.once('line', (l) => {
    const { remoteId, port } = JSON.parse(l)
    stream.connect(socket, remoteId, port, '127.0.0.1')
    count(secret ? new SecretStream(false, stream) : stream, bytes)
    line({ connected: true })
  })
}

// ---- the sender (this process) ----

class Child {
  constructor(workload, bytes) {
    this.proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', workload, '--bytes', String(bytes)], {
      stdio: ['pipe', 'pipe', 'inherit']
    })
    this.lines = []
    this.waiters = []
    createInterface({ input: this.proc.stdout }).on('line', (l) => {
      this.lines.push(JSON.parse(l))
      for (const w of this.waiters.splice(0)) w()
    })
  }

  next() {
    return new Promise((resolve, reject) => {
      const take = () => {
        if (this.lines.length) return resolve(this.lines.shift())
        if (this.proc.exitCode !== null) return reject(new Error('child exited'))
        this.waiters.push(take)
      }
      take()
    })
  }

  send(obj) {
    this.proc.stdin.write(JSON.stringify(obj) + '\n')
  }

  end() {
    this.proc.stdin.end()
    return new Promise((resolve) => (this.proc.exitCode !== null ? resolve() : this.proc.once('exit', resolve)))
  }
}

class RelayProc {
  static async start(bin, peerA, peerB, o) {
    const r = new RelayProc()
    r.proc = spawn(bin, ['--loss', String(o.loss), '--delay-ms', String(o.delayMs), '--seed', String(o.seed),
      '--peer-a', String(peerA), '--peer-b', String(peerB)], { stdio: ['pipe', 'pipe', 'inherit'] })
    r.rl = createInterface({ input: r.proc.stdout })
    r.it = r.rl[Symbol.asyncIterator]()
    const { value } = await r.it.next()
    Object.assign(r, JSON.parse(value))
    return r
  }

  async stop() {
    this.proc.stdin.end()
    const { value } = await this.it.next()
    return JSON.parse(value)
  }
}

async function writeAll(stream, bytes, chunk) {
  const buf = Buffer.alloc(chunk, 0xa5)
  for (let sent = 0; sent < bytes; ) {
    const n = Math.min(chunk, bytes - sent)
    sent += n
    if (!stream.write(n === chunk ? buf : buf.subarray(0, n))) await waitDrain(stream)
  }
}

async function measure(workload, o) {
  const secret = workload.endsWith('-secret')
  const kid = new Child(workload, o.bytes)
  const hello = await kid.next()
  let raw, udx, socket, relay
  if (workload.startsWith('tcp')) {
    raw = net.connect(hello.port, '127.0.0.1')
    await new Promise((resolve, reject) => raw.once('connect', resolve).once('error', reject))
  } else {
    udx = new UDX()
    socket = udx.createSocket()
    socket.bind(0, '127.0.0.1')
    const me = socket.address().port
    let toKid = hello.port
    let toMe = me
    if (o.relay) {
      relay = await RelayProc.start(o.relay, me, hello.port, o)
      toKid = relay.a
      toMe = relay.b
    }
    kid.send({ remoteId: 1, port: toMe })
    await kid.next() // connected
    raw = udx.createStream(1)
    raw.connect(socket, hello.stream, toKid, '127.0.0.1')
  }
  let stream = raw
  let handshakeMs
  if (secret) {
    const t = process.hrtime.bigint()
    stream = new SecretStream(true, raw)
    await stream.opened
    handshakeMs = Number(process.hrtime.bigint() - t) / 1e6
  }
  const t0 = process.hrtime.bigint()
  const done = kid.next()
  await writeAll(stream, o.bytes, o.chunk)
  const got = await done
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  if (got.error || got.done !== o.bytes) throw new Error(`${workload}: receiver says ${JSON.stringify(got)}`)
  const row = {
    impl: 'js',
    workload,
    path: relay ? 'relay' : 'loopback',
    loss: relay ? o.loss : 0,
    rtt_ms: relay ? 2 * o.delayMs : 0,
    bytes: o.bytes,
    chunk: o.chunk,
    secs: Math.round(secs * 1e4) / 1e4,
    mb_per_sec: Math.round((o.bytes / 1e6 / secs) * 10) / 10
  }
  if (secret) row.handshake_ms = Math.round(handshakeMs * 100) / 100
  if (udx) row.retransmits = raw.retransmits
  stream.destroy()
  raw.destroy()
  if (socket) await Promise.race([socket.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 500))])
  if (relay) row.relay = await relay.stop()
  await kid.end()
  row.load1 = Math.round(os.loadavg()[0] * 100) / 100
  return row
}

function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(new URL('./node_modules/' + name + '/package.json', import.meta.url), 'utf8')).version
  } catch {
    return null
  }
}

async function main() {
  const o = {
    bytes: Number(arg('--mb', '256')) * 1024 * 1024,
    chunk: Number(arg('--chunk', '65536')),
    only: arg('--only', WORKLOADS.join(',')).split(','),
    repeat: Math.max(1, Number(arg('--repeat', '1'))),
    relay: arg('--relay', null),
    loss: Number(arg('--loss', '0.01')),
    delayMs: Number(arg('--delay-ms', '10')),
    seed: Number(arg('--seed', '1'))
  }
  for (const w of o.only) if (!WORKLOADS.includes(w)) throw new Error('bad workload ' + w)
  if (o.relay) o.only = o.only.filter((w) => w.startsWith('udx'))
  if (!(o.bytes > 0) || !(o.chunk > 0)) throw new Error('--mb and --chunk must be positive')
  line({
    impl: 'meta',
    node: process.version,
    udxNative: pkgVersion('udx-native'),
    secretStream: pkgVersion('@hyperswarm/secret-stream'),
    path: o.relay ? 'relay' : 'loopback',
    ...(o.relay ? { loss: o.loss, rtt_ms: 2 * o.delayMs, seed: o.seed } : {})
  })
  for (const w of o.only) for (let r = 0; r < o.repeat; r++) line(await measure(w, o))
}

if (process.argv.includes('--child')) child(arg('--child'), Number(arg('--bytes')))
else await main()
