#!/usr/bin/env node
// The JS side of scripts/bench-bee: hyperbee 2.27.3 on corestore 7.12.5 / hypercore 11.37.1
// (default storage: RocksDB on disk, no sync). The ferrocore side, bench/src/bin/bee_bench.rs,
// takes the same modes and options and prints the same rows. Each mode runs in a fresh
// process. Keys and values: bee-data.mjs (key(i) = "key-000001", value(i) = "value-000001-"
// + "x" * (i % 23), utf-8), i in 1..=N, put in the xorshift32 shuffle of seed 1.
//
//   node bench-bee.mjs puts  --dir DIR --count N [--batch B]
//        a fresh store in DIR (must not exist; primary key 32 x 0x07), its bee "bee"; N
//        puts, one bee.put each (B = 1, default) or in batches of B (one flush each);
//        timed from the first put to the last one's completion (the store's open and
//        close untimed).
//   node bench-bee.mjs gets  --dir DIR --count N --gets G
//        reopens DIR's bee; G gets of key(1 + next() % N) with the xorshift32 sequence of
//        seed 2, each value checked; timed over the gets.
//   node bench-bee.mjs scan  --dir DIR --count N
//        reopens DIR's bee; one full createReadStream, checked (N entries, in key order,
//        the right values); timed over the scan.
//   node bench-bee.mjs sparse --dir DIR --count N --gets G
//        in this one process: DIR's store serves its bee over one loopback TCP connection
//        (Noise via NoiseSecretStream, store.replicate on each end) to a fresh reader store
//        in a temporary directory, which opens the bee by key and gets G keys as `gets`
//        picks them (seed 3), each fetched through replication; timed from the connect to
//        the last get.
//
// Output: one JSON line per run on stdout (logs on stderr):
//   bench "bee", impl "js" | "ferrocore", phase "puts" | "batched" | "gets" | "scan" |
//   "sparse", count (N), ops (operations timed: puts, gets, entries scanned), batch (B),
//   wall_s, cpu_s (user + system over the timed part), ops_per_s (ops / wall_s),
//   length (the core's length after the phase), bytes (sum of the values' lengths read, or
//   written), blocks_fetched (sparse: blocks the reader downloaded), cache_blocks (how
//   many decoded entries the bee's cache holds at most; JS: the Rache default, 65,536),
//   ok (every check passed).

import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { key, value, indices, xorshift32 } from './bee-data.mjs'
import { arg, logger, timed } from './jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const Corestore = require('corestore')
const Hyperbee = require('hyperbee')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const Rache = require('rache')

// The bound of hyperbee's caches of decoded keys and nodes (a Rache of its default size:
// the store has no global cache).
const CACHE = new Rache().maxSize

const log = logger('bench-bee')
const PRIMARY = Buffer.alloc(32, 7)
const ENC = { keyEncoding: 'utf-8', valueEncoding: 'utf-8' }

const mode = process.argv[2]
const dir = arg('--dir')
const count = Number(arg('--count', '0'))
const batch = Number(arg('--batch', '1'))
const gets = Number(arg('--gets', '0'))
if (!dir || !(count > 0) || !(batch > 0)) {
  process.stderr.write('usage: bench-bee.mjs puts|gets|scan|sparse --dir DIR --count N [--batch B] [--gets G]\n')
  process.exit(2)
}

function row(phase, ops, t, extra) {
  const r = { bench: 'bee', impl: 'js', phase, count, ops, batch, wall_s: t.wall_s, cpu_s: t.cpu_s, ops_per_s: ops / t.wall_s, cache_blocks: CACHE, ...extra }
  process.stdout.write(JSON.stringify(r) + '\n')
}

async function openBee(storeDir) {
  const store = new Corestore(storeDir, { primaryKey: PRIMARY, unsafe: true })
  const core = store.get({ name: 'bee' })
  const bee = new Hyperbee(core, ENC)
  await bee.ready()
  return { store, core, bee }
}

// The keys `gets` and `sparse` read: G picks of 1 + next() % N.
function picks(seed) {
  const next = xorshift32(seed)
  const out = []
  for (let i = 0; i < gets; i++) out.push(1 + (next() % count))
  return out
}

// Gets every picked key from bee, checking each value; resolves to the bytes read.
async function getAll(bee, which) {
  let bytes = 0
  let ok = true
  for (const i of which) {
    const e = await bee.get(key(i))
    if (e === null || e.value !== value(i)) ok = false
    else bytes += Buffer.byteLength(e.value)
  }
  return { bytes, ok }
}

async function puts() {
  if (existsSync(dir)) throw new Error(dir + ' exists')
  const { store, core, bee } = await openBee(dir)
  const order = indices(1, count, 'shuffle', 1)
  let bytes = 0
  const t = await timed(async () => {
    for (let i = 0; i < order.length; i += batch) {
      if (batch === 1) {
        await bee.put(key(order[i]), value(order[i]))
        bytes += Buffer.byteLength(value(order[i]))
        continue
      }
      const b = bee.batch()
      for (const j of order.slice(i, i + batch)) {
        await b.put(key(j), value(j))
        bytes += Buffer.byteLength(value(j))
      }
      await b.flush()
    }
  })
  row(batch === 1 ? 'puts' : 'batched', count, t, { length: core.length, bytes, ok: core.length > count / batch })
  await bee.close()
  await store.close()
}

async function gets_() {
  const { store, core, bee } = await openBee(dir)
  const t = await timed(() => getAll(bee, picks(2)))
  row('gets', gets, t, { length: core.length, bytes: t.result.bytes, ok: t.result.ok })
  await bee.close()
  await store.close()
}

async function scan() {
  const { store, core, bee } = await openBee(dir)
  const t = await timed(async () => {
    let n = 0
    let bytes = 0
    let ok = true
    for await (const e of bee.createReadStream()) {
      n++
      if (e.key !== key(n) || e.value !== value(n)) ok = false
      bytes += Buffer.byteLength(e.value)
    }
    return { n, bytes, ok: ok && n === count }
  })
  row('scan', t.result.n, t, { length: core.length, bytes: t.result.bytes, ok: t.result.ok })
  await bee.close()
  await store.close()
}

async function sparse() {
  const writer = await openBee(dir)
  const readerDir = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-bench-bee-'))
  const reader = new Corestore(readerDir)
  const conns = []
  const server = net.createServer({ noDelay: true }, (sock) => {
    const s = new NoiseSecretStream(false, sock)
    conns.push(s)
    writer.store.replicate(s)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  let fetched = 0
  const t = await timed(async () => {
    const sock = net.connect({ host: '127.0.0.1', port: server.address().port, noDelay: true })
    const s = new NoiseSecretStream(true, sock)
    conns.push(s)
    reader.replicate(s)
    const core = reader.get({ key: writer.core.key })
    core.on('download', () => fetched++)
    await core.ready()
    await core.update({ wait: true })
    const bee = new Hyperbee(core, ENC)
    await bee.ready()
    const r = await getAll(bee, picks(3))
    const length = core.length
    await bee.close()
    return { ...r, length }
  })
  row('sparse', gets, t, { length: t.result.length, bytes: t.result.bytes, blocks_fetched: fetched, ok: t.result.ok })
  for (const s of conns) s.destroy()
  server.close()
  await reader.close()
  await writer.bee.close()
  await writer.store.close()
  rmSync(readerDir, { recursive: true, force: true })
}

const modes = { puts, gets: gets_, scan, sparse }
if (!modes[mode]) {
  process.stderr.write('bench-bee.mjs: mode puts, gets, scan or sparse\n')
  process.exit(2)
}
modes[mode]().catch((err) => {
  log(err && err.stack)
  process.exit(1)
})
