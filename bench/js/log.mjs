// The JS hypercore 11.37.1 side of scripts/bench-log; bench/src/bin/log_bench.rs is the
// ferrocore side. Same arguments, same work (same key pair, block contents, read order), one
// JSON line per run on stdout:
//
//   node log.mjs append-single --block 4096 --ops 20000 --dir DIR
//   node log.mjs append-batch  --block 4096 --ops 50000 --batch 100 --dir DIR
//   node log.mjs build         --block 4096 --blocks 100000 --batch 1000 --dir DIR
//   node log.mjs get-random    --ops 100000 --dir DIR      (after `build`, fresh process)
//   node log.mjs open          --dir DIR                   (after `build`, fresh process)
//
// hypercore 11 has no durable append: hypercore-storage writes every batch through
// rocksdb-native's `write`, which passes no write options (RocksDB's default `sync = false`),
// and neither `append` nor the storage take a sync flag. Every append is written to RocksDB's
// write-ahead log (write(2), no sync) before it resolves, so it survives a process kill but
// not a power loss: rows say `durability: "rocksdb-wal"` (ferrocore's `logged` is the same
// guarantee). `--durability` other than `rocksdb-wal` is refused.

import Hypercore from 'hypercore'
import crypto from 'hypercore-crypto'

const SEED = Buffer.alloc(32, 7)
const POOL = 64
const READ_SEED = 0x2545f491

function parse(argv) {
  const a = { workload: argv[0], block: 4096, ops: 1000, batch: 100, blocks: 0, dir: null }
  for (let i = 1; i < argv.length; i++) {
    const flag = argv[i]
    const value = argv[++i]
    if (value === undefined) throw new Error(flag + ' needs a value')
    if (flag === '--dir') a.dir = value
    else if (flag === '--durability') {
      if (value !== 'rocksdb-wal') throw new Error('hypercore 11 has one durability: rocksdb-wal (no fsync per append)')
    }
    else if (['--block', '--ops', '--batch', '--blocks'].includes(flag)) a[flag.slice(2)] = Number(value)
    else throw new Error('unknown option ' + flag)
  }
  if (!a.workload) throw new Error('missing workload')
  return a
}

// Marsaglia's xorshift32 (13, 17, 5), as in log_bench.rs.
function xorshift32(seed) {
  let x = seed >>> 0
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

// Block k of the pool: little-endian words of xorshift32 seeded k + 1, truncated to size.
function pool(size) {
  const out = []
  for (let k = 0; k < POOL; k++) {
    const next = xorshift32(k + 1)
    const b = Buffer.alloc(Math.ceil(size / 4) * 4)
    for (let o = 0; o < b.length; o += 4) b.writeUInt32LE(next(), o)
    out.push(b.subarray(0, size))
  }
  return out
}

function readOrder(n, length) {
  const next = xorshift32(READ_SEED)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = next() % length
  return out
}

function fold(check, block) {
  const first = block.length >= 4 ? block.readUInt32LE(0) : 0
  const rotated = ((check << 5) | (check >>> 27)) >>> 0
  return (((rotated ^ first) >>> 0) + block.length) >>> 0
}

function dir(a) {
  if (!a.dir) throw new Error('--dir is required')
  return a.dir
}

async function openCore(a) {
  const core = new Hypercore(dir(a), { keyPair: crypto.keyPair(SEED) })
  await core.ready()
  return core
}

const now = () => process.hrtime.bigint()
const secsSince = (t) => Number(now() - t) / 1e9
const mib = (bytes) => bytes / 1048576

function row(workload, a, fields) {
  const r = {
    impl: 'js',
    workload,
    block: a.block,
    durability: 'rocksdb-wal',
    storage: 'hypercore-storage (rocksdb-native)',
    ...fields
  }
  r.peak_rss_mb = process.resourceUsage().maxRSS / 1024
  return r
}

function timing(ops, secs) {
  return { ops, secs, ops_per_sec: ops / secs }
}

async function append(a, batch) {
  const blocks = pool(a.block)
  const core = await openCore(a)
  const start = now()
  for (let i = 0; i < a.ops; ) {
    const n = Math.min(batch, a.ops - i)
    if (batch === 1) {
      await core.append(blocks[i % POOL])
    } else {
      const chunk = new Array(n)
      for (let j = 0; j < n; j++) chunk[j] = blocks[(i + j) % POOL]
      await core.append(chunk)
    }
    i += n
  }
  const secs = secsSince(start)
  const treeHash = (await core.treeHash()).toString('hex')
  await core.close()
  return row(a.workload, a, { ...timing(a.ops, secs), batch, flush_included: false, tree_hash: treeHash })
}

async function build(a) {
  const blocks = pool(a.block)
  const core = await openCore(a)
  const start = now()
  for (let i = 0; i < a.blocks; ) {
    const n = Math.min(a.batch, a.blocks - i)
    const chunk = new Array(n)
    for (let j = 0; j < n; j++) chunk[j] = blocks[(i + j) % POOL]
    await core.append(chunk)
    i += n
  }
  const secs = secsSince(start)
  const length = core.length
  await core.close()
  return row('build', a, { ...timing(a.blocks, secs), length })
}

async function getRandom(a) {
  const core = await openCore(a)
  const length = core.length
  if (length === 0) throw new Error('empty log: run build first')
  const order = readOrder(a.ops, length)
  let check = 0
  const start = now()
  for (let k = 0; k < order.length; k++) {
    const block = await core.get(order[k])
    if (block === null) throw new Error('block ' + order[k] + ' missing')
    check = fold(check, block)
  }
  const secs = secsSince(start)
  await core.close()
  return row('get-random', a, { ...timing(a.ops, secs), length, checksum: check.toString(16).padStart(8, '0') })
}

async function open(a) {
  const before = process.memoryUsage().rss
  const start = now()
  const core = new Hypercore(dir(a))
  await core.ready()
  const length = core.length
  const secs = secsSince(start)
  const after = process.memoryUsage().rss
  const r = row('open', a, {
    ...timing(1, secs),
    ms: secs * 1e3,
    length,
    rss_before_mb: mib(before),
    rss_after_mb: mib(after),
    idle_mb: mib(after) - mib(before)
  })
  await core.close()
  return r
}

const a = parse(process.argv.slice(2))
const workloads = {
  'append-single': () => append(a, 1),
  'append-batch': () => append(a, a.batch),
  build: () => build(a),
  'get-random': () => getRandom(a),
  open: () => open(a)
}
if (!workloads[a.workload]) throw new Error('unknown workload ' + a.workload + ' (JS runs no ' + a.workload + ')')
console.log(JSON.stringify(await workloads[a.workload]()))
