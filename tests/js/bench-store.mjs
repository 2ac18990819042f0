#!/usr/bin/env node
// The JS side of scripts/bench-store: corestore 7.12.5 on hypercore 11.37.1 (default
// storage: one RocksDB per store, a WAL write per append, no sync). The ferrocore side,
// bench/src/bin/store_bench.rs, takes the same modes and options and prints the same rows.
// Each mode runs in a fresh process, so peak RSS and open file descriptors are the phase's
// own.
//
//   node bench-store.mjs create       --dir DIR --cores N [--block-size B] [--concurrency C]
//        (a) a fresh store in DIR (which must not exist), primary key 32 x 0x07; cores
//            "core-0" .. "core-<N-1>" by name, each appended one formula block
//            (blocks.mjs: blockValue(c, 0, B)); timed from `new Corestore` to the store's
//            close (every append acknowledged and the store closed). Memory and
//            descriptors are read with every core still open, before the close.
//   node bench-store.mjs open         --dir DIR --cores N [--concurrency C]
//        (b) reopens what `create` wrote and opens every core by name, reading its length;
//            timed from `new Corestore` until every core is open (the close is untimed).
//            Memory and descriptors are read with every core open.
//   node bench-store.mjs build-writer --dir DIR --cores M --blocks K [--block-size B]
//        untimed set-up of (c): a fresh store (primary key 32 x 0x07) whose cores "core-c"
//        hold K formula blocks each (blockValue(c, i, B)); prints a "build" row.
//   node bench-store.mjs replicate    --writer DIR --cores M --blocks K [--block-size B]
//        (c) in this one process: the writer store reopened from DIR with no core open
//            (it opens each core on demand, when the reader's channel for it arrives) and a
//            fresh reader store in a temporary directory; one loopback TCP connection (Noise
//            via NoiseSecretStream, store.replicate on each end; both ends share this
//            process's one JS thread). Timed from the connect until all M x K blocks are
//            local on the reader, which opens every core by key (keys derived from the
//            writer's primary key, as corestore does) and downloads everything (a live
//            download of 0..end). Then (untimed) every block is read back and compared.
//
// Options: --block-size defaults to 1024. --concurrency (JS only): how many cores are
// created / opened at once (default 1: one after the other, each awaited; the ferrocore
// side is sequential too). Run node with --expose-gc to collect garbage before the memory
// is read (scripts/bench-store does).
//
// Output: one JSON line per run on stdout (logs on stderr), the schema both sides print:
//   bench            "store"
//   impl             "js" | "ferrocore"
//   phase            "create" | "open" | "replicate" | "build" (set-up, not compared)
//   cores            cores in the phase (N or M)
//   blocks_per_core  1 for create/open, K for build/replicate
//   block_size       bytes per block (B)
//   blocks           cores x blocks_per_core
//   concurrency      cores in flight at once (1 = sequential)
//   processes        1 (replicate: both stores in one process)
//   wall_s           wall-clock seconds of the timed part
//   cpu_s            user + system CPU seconds of the whole process (every thread) over the
//                    timed part; cpu_user_s, cpu_system_s the two parts
//   per_core_us      wall_s x 10^6 / cores
//   blocks_per_s     blocks / wall_s
//   peak_rss_bytes   the process's peak resident set so far (getrusage maxrss), read after
//                    the timed part: includes start-up and, for replicate, both stores
//   rss_bytes        resident set at the measuring point (after a GC when available)
//   fds              open file descriptors at the measuring point (entries of
//                    /proc/self/fd, minus the one used to list them)
//   fds_start        the same at process start (the runtime's own: stdio, event loop, ...)
//   rss_per_core_bytes  (open) (rss with every core open - rss once the store alone was
//                    open, both after a GC, which is left out of the timing) / cores:
//                    memory per open idle core
//   keys_sha256      (create, open, build) SHA-256 of the 32-byte keys of core-0 ..
//                    core-<N-1>, concatenated in order: both sides must print the same
//   content_sha256   (build, replicate) SHA-256 of every block of core-0 .. core-<M-1>, in
//                    order (replicate: as read back on the reader)
//   ok               the phase's check passed: create/open: every core has length 1 and
//                    block 0 is the formula block (open: checked untimed); replicate: every
//                    core has length K and every block matches the formula
//   primary_key      hex of the store's primary key
//   durability       "rocksdb-wal" (JS) / the ferrocore store's setting

import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { blockValue } from './blocks.mjs'

const require = createRequire(import.meta.url)
const Corestore = require('corestore')
const Hypercore = require('hypercore')
const NoiseSecretStream = require('@hyperswarm/secret-stream')

const PRIMARY_KEY = Buffer.alloc(32, 7)
const DURABILITY = 'rocksdb-wal'
const FDS_START = countFds()

const log = (...a) => process.stderr.write('[bench-store.mjs] ' + a.join(' ') + '\n')
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const name = (c) => 'core-' + c

function countFds() {
  return readdirSync('/proc/self/fd').length - 1
}

function parse(argv) {
  const o = { mode: argv[0], dir: null, writer: null, cores: 0, blocks: 1, blockSize: 1024, concurrency: 1 }
  const names = {
    '--dir': 'dir',
    '--writer': 'writer',
    '--cores': 'cores',
    '--blocks': 'blocks',
    '--block-size': 'blockSize',
    '--concurrency': 'concurrency'
  }
  for (let i = 1; i < argv.length; i += 2) {
    const key = names[argv[i]]
    if (!key) throw new Error('unknown option ' + argv[i])
    if (argv[i + 1] === undefined) throw new Error(argv[i] + ' needs a value')
    const v = argv[i + 1]
    if (typeof o[key] === 'number') {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(argv[i] + ' needs a positive number')
      o[key] = Number(v)
    } else {
      o[key] = v
    }
  }
  if (!['create', 'open', 'build-writer', 'replicate'].includes(o.mode)) {
    throw new Error('mode: create | open | build-writer | replicate')
  }
  if (!o.cores) throw new Error('--cores N is required')
  if (o.mode === 'replicate' ? !o.writer : !o.dir) throw new Error(o.mode === 'replicate' ? '--writer DIR' : '--dir DIR')
  return o
}

// Runs task(c) for c in 0..n-1 with at most `width` in flight.
async function pool(n, width, task) {
  let next = 0
  const worker = async () => {
    while (next < n) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker))
}

// The timing of one phase: wall clock and process CPU from construction to stop(), less
// what runs between a pause() and the next resume().
class Timer {
  constructor() {
    this.wall = 0
    this.cpu = { user: 0, system: 0 }
    this.resume()
  }

  resume() {
    this.cpu0 = process.cpuUsage()
    this.t0 = process.hrtime.bigint()
  }

  pause() {
    this.wall += Number(process.hrtime.bigint() - this.t0) / 1e9
    const d = process.cpuUsage(this.cpu0)
    this.cpu.user += d.user
    this.cpu.system += d.system
  }

  stop() {
    this.pause()
  }
}

// Memory and descriptors now (after a GC when node runs with --expose-gc, unless collect
// is false: inside a timed part).
function measure(collect = true) {
  if (collect && global.gc) global.gc()
  return { rss: process.memoryUsage().rss, fds: countFds() }
}

function row(o, phase, timer, extra) {
  const blocksPerCore = phase === 'create' || phase === 'open' ? 1 : o.blocks
  const blocks = o.cores * blocksPerCore
  return {
    bench: 'store',
    impl: 'js',
    phase,
    cores: o.cores,
    blocks_per_core: blocksPerCore,
    block_size: o.blockSize,
    blocks,
    concurrency: phase === 'replicate' ? o.cores : o.concurrency,
    processes: 1,
    wall_s: timer.wall,
    cpu_s: (timer.cpu.user + timer.cpu.system) / 1e6,
    cpu_user_s: timer.cpu.user / 1e6,
    cpu_system_s: timer.cpu.system / 1e6,
    per_core_us: (timer.wall * 1e6) / o.cores,
    blocks_per_s: blocks / timer.wall,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    fds_start: FDS_START,
    primary_key: PRIMARY_KEY.toString('hex'),
    durability: DURABILITY,
    ...extra
  }
}

// SHA-256 of the keys of core-0 .. core-<n-1>, in order.
function keysDigest(keys) {
  const h = createHash('sha256')
  for (const k of keys) h.update(k)
  return h.digest('hex')
}

// A fresh store in dir whose cores core-c hold `blocks` formula blocks each, created
// `concurrency` at a time; resolves with their keys and whether every append landed.
async function fill(store, o, blocks) {
  const keys = new Array(o.cores)
  const cores = new Array(o.cores)
  let ok = true
  await pool(o.cores, o.concurrency, async (c) => {
    const core = store.get({ name: name(c) })
    await core.ready()
    const values = []
    for (let i = 0; i < blocks; i++) values.push(blockValue(c, i, o.blockSize))
    await core.append(values)
    if (core.length !== blocks) ok = false
    keys[c] = core.key
    cores[c] = core
  })
  return { keys, cores, ok }
}

async function create(o) {
  if (existsSync(o.dir)) throw new Error(o.dir + ' exists: create needs a fresh directory')
  const timer = new Timer()
  const store = new Corestore(o.dir, { primaryKey: PRIMARY_KEY, unsafe: true })
  await store.ready()
  const { keys, ok } = await fill(store, o, 1)
  const m = measure(false)
  await store.close()
  timer.stop()
  out(row(o, 'create', timer, { rss_bytes: m.rss, fds: m.fds, keys_sha256: keysDigest(keys), ok }))
}

async function open(o) {
  const timer = new Timer()
  const store = new Corestore(o.dir)
  await store.ready()
  timer.pause()
  const alone = measure().rss
  timer.resume()
  const cores = new Array(o.cores)
  let lengths = 0
  await pool(o.cores, o.concurrency, async (c) => {
    const core = store.get({ name: name(c) })
    await core.ready()
    lengths += core.length
    cores[c] = core
  })
  timer.stop()
  const m = measure()
  // untimed: the keys, and block 0 of every core against the formula
  let ok = lengths === o.cores && store.primaryKey.equals(PRIMARY_KEY)
  for (let c = 0; c < o.cores && ok; c++) {
    const v = await cores[c].get(0, { wait: false })
    if (!v || !v.equals(blockValue(c, 0, o.blockSize))) ok = false
  }
  const keys = cores.map((core) => core.key)
  await store.close()
  out(
    row(o, 'open', timer, {
      rss_bytes: m.rss,
      fds: m.fds,
      rss_per_core_bytes: (m.rss - alone) / o.cores,
      keys_sha256: keysDigest(keys),
      ok
    })
  )
}

// SHA-256 of blocks 0..blocks-1 of every core in order (read locally), and whether each
// one is the formula block.
async function contentDigest(cores, blocks, blockSize) {
  const h = createHash('sha256')
  let ok = true
  for (let c = 0; c < cores.length; c++) {
    if (cores[c].length !== blocks) ok = false
    for (let i = 0; i < blocks; i++) {
      const v = await cores[c].get(i, { wait: false })
      if (!v) {
        ok = false
        continue
      }
      if (!v.equals(blockValue(c, i, blockSize))) ok = false
      h.update(v)
    }
  }
  return { digest: h.digest('hex'), ok }
}

async function buildWriter(o) {
  if (existsSync(o.dir)) throw new Error(o.dir + ' exists: build-writer needs a fresh directory')
  const timer = new Timer()
  const store = new Corestore(o.dir, { primaryKey: PRIMARY_KEY, unsafe: true })
  await store.ready()
  const wide = { ...o, concurrency: 16 }
  const { keys, cores, ok } = await fill(store, wide, o.blocks)
  timer.stop()
  const content = await contentDigest(cores, o.blocks, o.blockSize)
  await store.close()
  const m = measure()
  out(
    row(wide, 'build', timer, {
      rss_bytes: m.rss,
      fds: m.fds,
      keys_sha256: keysDigest(keys),
      content_sha256: content.digest,
      ok: ok && content.ok
    })
  )
}

// One loopback TCP connection between two stores: resolves once both ends replicate.
async function connectStores(server, client) {
  const listener = net.createServer({ noDelay: true })
  const accepted = new Promise((resolve) => listener.once('connection', resolve))
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const socket = net.connect({ host: '127.0.0.1', port: listener.address().port, noDelay: true })
  const theirs = await accepted
  listener.close()
  theirs.setNoDelay(true)
  const a = new NoiseSecretStream(false, theirs)
  const b = new NoiseSecretStream(true, socket)
  server.replicate(a)
  client.replicate(b)
  return [a, b]
}

async function replicate(o) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-bench-store-'))
  try {
    const writer = new Corestore(o.writer)
    const reader = new Corestore(path.join(tmp, 'reader'))
    await Promise.all([writer.ready(), reader.ready()])
    const keys = []
    for (let c = 0; c < o.cores; c++) {
      const kp = await writer.createKeyPair(name(c))
      keys.push(Hypercore.key({ version: 1, signers: [{ publicKey: kp.publicKey }] }))
    }
    const total = o.cores * o.blocks
    let got = 0
    let finish
    const done = new Promise((resolve) => (finish = resolve))
    const timeout = setTimeout(() => finish(false), 600000)

    const timer = new Timer()
    const streams = await connectStores(writer, reader)
    const cores = keys.map((key) => {
      const core = reader.get({ key })
      core.on('download', () => {
        if (++got === total) finish(true)
      })
      core.download({ start: 0, end: -1 })
      return core
    })
    const complete = await done
    timer.stop()
    clearTimeout(timeout)
    const m = measure()
    if (!complete) log(`timed out with ${got} of ${total} blocks`)
    const content = await contentDigest(cores, o.blocks, o.blockSize)
    for (const s of streams) s.destroy()
    await Promise.all([writer.close(), reader.close()])
    out(row(o, 'replicate', timer, { rss_bytes: m.rss, fds: m.fds, content_sha256: content.digest, ok: complete && content.ok }))
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

const modes = { create, open, 'build-writer': buildWriter, replicate }
let opts
try {
  opts = parse(process.argv.slice(2))
} catch (err) {
  log(err.message)
  process.stderr.write('usage: see the header of bench-store.mjs\n')
  process.exit(2)
}
modes[opts.mode](opts).then(
  () => process.exit(0),
  (err) => {
    log('failed:', err && err.stack)
    process.exit(1)
  }
)
