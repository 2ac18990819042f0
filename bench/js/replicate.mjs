// The JS hypercore 11.37.1 side of scripts/bench-replicate; bench/src/bin/replicate_bench.rs
// is the ferrocore side and takes the same arguments. One JSON line per figure on stdout
// (logs on stderr).
//
//   node replicate.mjs build   --dir DIR --blocks N     a writer of N formula blocks in DIR
//   node replicate.mjs pair    --writer DIR --blocks N [--transport direct|pipe]
//                              [--latency-samples K] [--expect-digest HEX]
//        JS -> JS in this one process: the writer and a fresh reader, joined by loopback
//        TCP; both peers share this process's one JS thread.
//   node replicate.mjs serve   --writer DIR --blocks N [--transport T] [--listen PORT]
//        serves the writer until stdin closes; first prints {"event":"ready",key,port,pid}
//   node replicate.mjs receive --connect HOST:PORT --key HEX --blocks N [--transport T]
//                              [--expect-digest HEX] [--pair LABEL] [--writer-durability D]
//        downloads from a writer in another process
//   node --expose-gc replicate.mjs idle --connections M
//        heap per idle connection, both ends (one writer and one reader core, M connections)
//
// --writer DIR: what `build` wrote there, copied (untimed) to a temporary directory for the
//   run, without hypercore-storage's CORESTORE device file (it marks a copied store as
//   modified; the copy gets a new one), so every run starts from the same writer and the
//   formula is computed once.
// --transport direct (default): a NoiseSecretStream on the socket passed to
//   core.replicate(stream), as hyperswarm does. --transport pipe: core.replicate(isInitiator)
//   returns the secret stream's raw end, piped both ways with the socket (hypercore's tests).
// Blocks: tests/js/blocks.mjs, core 0, 4096 bytes; the writer key pair is seed 32 × 0x01
// (as replicate_bench.rs). After every download the reader reads back all N blocks
// (untimed) and folds them into a digest, d = BLAKE2b-256(d ‖ block) from 32 zero bytes
// (hypercore-crypto's hash; replicate_bench.rs computes the same); a digest other than
// --expect-digest fails the run. CPU: process.cpuUsage() (user + system, every thread of
// the process) over the timed download. Storage: hypercore's default (RocksDB, a WAL write
// per append and no sync), reported as durability "rocksdb-wal".

import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { createInterface } from 'node:readline'
import Hypercore from 'hypercore'
import crypto from 'hypercore-crypto'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import { blockValue } from '../../tests/js/blocks.mjs'
import { median, percentile } from './stats.mjs'

const WRITER_SEED = Buffer.alloc(32, 1)
const BLOCK = 4096
const BATCH = 1000
const DURABILITY = 'rocksdb-wal'

const log = (...a) => process.stderr.write('[replicate.mjs] ' + a.join(' ') + '\n')
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const now = () => process.hrtime.bigint()
const secsSince = (t) => Number(now() - t) / 1e9

function parse(argv) {
  const o = { mode: argv[0], blocks: 100000, transport: 'direct', samples: 0, connections: 100, listen: 0 }
  const names = {
    '--dir': 'dir',
    '--writer': 'writer',
    '--blocks': 'blocks',
    '--transport': 'transport',
    '--latency-samples': 'samples',
    '--expect-digest': 'expectDigest',
    '--listen': 'listen',
    '--connect': 'connect',
    '--key': 'key',
    '--pair': 'pair',
    '--writer-durability': 'writerDurability',
    '--connections': 'connections'
  }
  for (let i = 1; i < argv.length; i += 2) {
    const name = names[argv[i]]
    if (!name) throw new Error('unknown option ' + argv[i])
    if (argv[i + 1] === undefined) throw new Error(argv[i] + ' needs a value')
    const v = argv[i + 1]
    o[name] = typeof o[name] === 'number' ? Number(v) : v
  }
  if (!['direct', 'pipe'].includes(o.transport)) throw new Error('--transport direct|pipe')
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

const fold = (digest, block) => crypto.hash([digest, block])
const zero = () => Buffer.alloc(32)

// Opens a copy of the writer `build` left in `template`, in `tmp`.
async function openWriter(template, tmp, blocks) {
  const dir = path.join(tmp, 'writer')
  cpSync(template, dir, { recursive: true })
  rmSync(path.join(dir, 'CORESTORE'), { force: true })
  const writer = new Hypercore(dir, { keyPair: crypto.keyPair(WRITER_SEED) })
  await writer.ready()
  if (writer.length !== blocks) throw new Error(`writer in ${template} has ${writer.length} blocks, not ${blocks} (run build)`)
  return writer
}

async function build(o) {
  if (!o.dir) throw new Error('--dir is required')
  const t = now()
  const writer = new Hypercore(o.dir, { keyPair: crypto.keyPair(WRITER_SEED) })
  await writer.ready()
  if (writer.length !== 0) throw new Error(o.dir + ' already holds a writer')
  let digest = zero()
  for (let start = 0; start < o.blocks; start += BATCH) {
    const batch = []
    for (let i = start; i < Math.min(o.blocks, start + BATCH); i++) batch.push(blockValue(0, i, BLOCK))
    for (const b of batch) digest = fold(digest, b)
    await writer.append(batch)
  }
  const key = writer.key.toString('hex')
  await writer.close()
  out({ event: 'built', impl: 'js', key, blocks: o.blocks, digest: digest.toString('hex'), seconds: secsSince(t) })
}

// Reads back blocks 0..n of `reader` (untimed): digest, count and tree hash; fails on a
// digest other than --expect-digest.
async function readBack(reader, n, o) {
  let digest = zero()
  for (let i = 0; i < n; i++) {
    const b = await reader.get(i, { wait: false })
    if (!b) throw new Error(`block ${i} missing after the download`)
    digest = fold(digest, b)
  }
  const hex = digest.toString('hex')
  if (o.expectDigest && hex !== o.expectDigest) throw new Error(`downloaded content differs: digest ${hex} (expected ${o.expectDigest})`)
  return { content_digest: hex, verified_blocks: n, tree_hash: (await reader.treeHash(n)).toString('hex') }
}

function downloadRow(o, fields) {
  const bytes = o.blocks * BLOCK
  return {
    bench: 'replicate-download',
    impl: 'js',
    pair: fields.pair,
    processes: fields.processes,
    transport: o.transport,
    writer_durability: fields.writerDurability,
    reader_durability: DURABILITY,
    blocks: o.blocks,
    block_size: BLOCK,
    bytes,
    seconds: fields.seconds,
    mb_per_s: bytes / 1e6 / fields.seconds,
    ...fields.cpu,
    ...fields.content
  }
}

const cpuUs = (since) => {
  const u = process.cpuUsage(since)
  return u.user + u.system
}

async function pair(o) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-bench-pair-'))
  const sockets = []
  const cores = []
  try {
    const writer = await openWriter(o.writer, tmp, o.blocks)
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
    const cpu0 = process.cpuUsage()
    const t0 = now()
    const range = reader.download({ start: 0, end: N })
    const sock = net.connect({ host: '127.0.0.1', port })
    sockets.push(sock)
    replicateOver(reader, sock, true, o.transport)
    await range.done()
    const seconds = secsSince(t0)
    const cpu = { cpu_us_per_block: cpuUs(cpu0) / N }
    const content = await readBack(reader, N, o)
    out(downloadRow(o, { pair: 'js->js', processes: 1, writerDurability: DURABILITY, seconds, cpu, content }))

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
        const block = blockValue(0, index, BLOCK)
        const t = now()
        await writer.append(block)
        const t1 = await Promise.race([got, sleep(10000).then(() => null)])
        if (t1 === null) throw new Error(`live block ${index}: no download event within 10 s`)
        lat.push(Number(t1 - t) / 1e6)
        await sleep(2)
      }
      out({
        bench: 'replicate-latency',
        impl: 'js',
        pair: 'js->js',
        processes: 1,
        transport: o.transport,
        writer_durability: DURABILITY,
        reader_durability: DURABILITY,
        samples: lat.length,
        median_ms: median(lat),
        p90_ms: percentile(lat, 90),
        p99_ms: percentile(lat, 99)
      })
    }
    server.close()
  } finally {
    for (const s of sockets) s.destroy()
    for (const c of cores) await c.close().catch(() => {})
    rmSync(tmp, { recursive: true, force: true })
  }
}

async function serve(o) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-bench-serve-'))
  try {
    const writer = await openWriter(o.writer, tmp, o.blocks)
    const streams = []
    const server = net.createServer((sock) => streams.push(replicateOver(writer, sock, false, o.transport)))
    await new Promise((resolve) => server.listen(o.listen, '127.0.0.1', resolve))
    out({ event: 'ready', key: writer.key.toString('hex'), port: server.address().port, pid: process.pid, durability: DURABILITY })
    await new Promise((resolve) => createInterface({ input: process.stdin }).on('close', resolve))
    server.close()
    for (const s of streams) s.destroy()
    await writer.close()
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

async function receive(o) {
  const m = /^(.*):(\d+)$/.exec(o.connect || '')
  if (!m) throw new Error('--connect HOST:PORT is required')
  if (!o.key || o.key.length !== 64) throw new Error('--key HEX (32 bytes) is required')
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-bench-recv-'))
  const reader = new Hypercore(path.join(tmp, 'reader'), Buffer.from(o.key, 'hex'))
  try {
    await reader.ready()
    const N = o.blocks
    const cpu0 = process.cpuUsage()
    const t0 = now()
    const range = reader.download({ start: 0, end: N })
    const sock = net.connect({ host: m[1] || '127.0.0.1', port: Number(m[2]) })
    const ns = replicateOver(reader, sock, true, o.transport)
    const closed = new Promise((resolve) => ns.on('close', resolve))
    ns.on('error', (err) => log('stream error', err.message))
    await Promise.race([range.done(), closed.then(() => Promise.reject(new Error('connection closed during the download')))])
    const seconds = secsSince(t0)
    const cpu = { reader_cpu_us_per_block: cpuUs(cpu0) / N }
    const content = await readBack(reader, N, o)
    const writerDurability = o.writerDurability || 'logged'
    out(downloadRow(o, { pair: o.pair || 'ferrocore->js', processes: 2, writerDurability, seconds, cpu, content }))
    ns.end()
    await Promise.race([closed, sleep(2000)])
    ns.destroy()
  } finally {
    await reader.close().catch(() => {})
    rmSync(tmp, { recursive: true, force: true })
  }
}

// Heap (V8 heap + external buffers, after a full GC) per idle connection between one writer
// core (1000 blocks) and one empty reader core, M connections, both ends in this process.
async function idle(o) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-bench-idle-'))
  const sockets = []
  try {
    const writer = new Hypercore(path.join(tmp, 'writer'), { keyPair: crypto.keyPair(WRITER_SEED) })
    await writer.ready()
    for (let start = 0; start < 1000; start += 100) {
      const batch = []
      for (let i = start; i < start + 100; i++) batch.push(blockValue(0, i, BLOCK))
      await writer.append(batch)
    }
    const reader = new Hypercore(path.join(tmp, 'reader'), writer.key)
    await reader.ready()
    const server = net.createServer((sock) => {
      sockets.push(sock)
      replicateOver(writer, sock, false, 'direct')
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = server.address().port
    const connect = async () => {
      const s = net.connect({ host: '127.0.0.1', port })
      sockets.push(s)
      await replicateOver(reader, s, true, 'direct').opened
    }
    // One connection first, so what a core sets up once is in the base (as the Rust side).
    await connect()
    await sleep(500)
    const measure = () => {
      if (globalThis.gc) globalThis.gc()
      const m = process.memoryUsage()
      return { heap: m.heapUsed + m.external, rss: m.rss }
    }
    const before = measure()
    for (let c = 0; c < o.connections; c++) await connect()
    await sleep(1000)
    const after = measure()
    out({
      bench: 'idle-connection-memory',
      impl: 'js',
      counts: 'both ends of each connection (writer and reader cores in this process)',
      connections: o.connections,
      heap_bytes_per_connection: (after.heap - before.heap) / o.connections,
      rss_bytes_per_connection: (after.rss - before.rss) / o.connections,
      gc: Boolean(globalThis.gc),
      writer_peers: writer.peers.length,
      reader_peers: reader.peers.length
    })
    server.close()
    for (const s of sockets) s.destroy()
    await reader.close()
    await writer.close()
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

const modes = { build, pair, serve, receive, idle }
let o
try {
  o = parse(process.argv.slice(2))
  if (!modes[o.mode]) throw new Error('unknown mode ' + o.mode + ' (build, pair, serve, receive, idle)')
  if (['pair', 'serve'].includes(o.mode) && !o.writer) throw new Error('--writer DIR is required')
} catch (err) {
  process.stderr.write('replicate.mjs: ' + err.message + '\n')
  process.exit(2)
}
modes[o.mode](o).then(
  () => process.exit(0),
  (err) => {
    log('error:', err && err.stack)
    process.exit(1)
  }
)
