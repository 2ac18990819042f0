// Regenerates the Hyperblobs and Hyperdrive vectors (tests/vectors/drive/*.json) by running the
// JavaScript reference (hyperdrive 13.3.4 and hyperblobs 2.12.1 on hyperbee 2.27.3, corestore
// 7.12.5 and hypercore 11.37.1, pinned by package.json and package-lock.json next to this
// script).
//
// Usage (from this folder):   npm ci && node gen-drive.mjs [outDir]
// Default outDir: tests/vectors/drive. scripts/gen-vectors passes a temporary folder instead and
// compares it with tests/vectors/drive.
//
// Deterministic: contents come from a seeded PRNG (mulberry32, see `prngBytes`), every blobs core
// has a key pair from a fixed seed, every corestore a fixed primary key, nothing reads the clock,
// and every expected result is what JS returns (the generator also checks each blob reads back as
// written and each stored entry is JSON.stringify of its value). Every byte string is lowercase
// hex. The schema is in tests/vectors/drive/README.md; in short:
//
// blobs.json  { generator, versions..., keyPairSeed, publicKey, key, discoveryKey, manifest,
//               blobCases: [{name, blockSize, steps, reads}] }
//   steps[]: {op: "put", content, opts, id, idJson, ...after}
//            {op: "writeStream", chunks: [content...], opts, id, idJson, ...after}
//            {op: "batch", puts: [content...], ids, getsBeforeFlush, ...after}
//            {op: "clear", step, opts, expect, has}
//     after = {appends, length, byteLength, blocks: [bytes]|null, treeHash}
//   reads[]: {step, opts, expect: bytes|null, error?}
//   content = HEX | {prng: seed, length} | {concat: [content...]}
//   bytes = {byteLength, blake2b, hex?}  (hex up to 256 bytes in blocks, 2048 in reads)
// drive.json  { generator, versions..., blobsNamespace, drives: [keys of a fresh drive per
//               primary key], paths: [{input, key, keyBytes, error}],
//               driveCases: [{name, primaryKey, seed?, key, contentKey, steps, dbTreeHash,
//               blobsTreeHash, reads}] }
//   steps[]: {op, ...inputs, error?, result?, dbBlocks, version, blobsLength, blobsByteLength,
//             forks?, blobsHas?, entries: [{key, keyBytes, entry, value}]}
//   reads[]: {op: entry|exists|get|readStream|list|readdir|has|diff|getBlobsLength, ...inputs,
//             version, expect, error?}

import fs from 'fs'
import os from 'os'
import path from 'path'
import { fileURLToPath } from 'url'
import { createRequire } from 'module'
import { assert, hex, manifestJ, mulberry32u, pkgVersion, prettyWriter } from './common.mjs'

const require = createRequire(import.meta.url)

const Hypercore = require('hypercore')
const Corestore = require('corestore')
const Hyperblobs = require('hyperblobs')
const Hyperdrive = require('hyperdrive')
const SubEncoder = require('sub-encoder')
const crypto = require('hypercore-crypto')
const b4a = require('b4a')

const here = path.dirname(fileURLToPath(import.meta.url))
const OUT = path.resolve(process.argv[2] || path.join(here, '..', 'drive'))
fs.mkdirSync(OUT, { recursive: true })

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'drive-vectors-'))
let tmpCount = 0
const tmpdir = () => path.join(TMP, 'c' + tmpCount++)

const HEAD = {
  generator: 'tests/vectors/gen/gen-drive.mjs',
  hyperdrive: pkgVersion('hyperdrive'),
  hyperblobs: pkgVersion('hyperblobs'),
  hyperbee: pkgVersion('hyperbee'),
  corestore: pkgVersion('corestore'),
  hypercore: pkgVersion('hypercore')
}
assert(HEAD.hyperdrive === '13.3.4', 'hyperdrive 13.3.4 is installed')
assert(HEAD.hyperblobs === '2.12.1', 'hyperblobs 2.12.1 is installed')
assert(HEAD.hyperbee === '2.27.3', 'hyperbee 2.27.3 is installed')
assert(HEAD.hypercore === '11.37.1', 'hypercore 11.37.1 is installed')
assert(HEAD.corestore === '7.12.5', 'corestore 7.12.5 is installed')
// hyperdrive must use the top-level hyperblobs/hyperbee/hypercore (one copy of each)
const driveRequire = createRequire(require.resolve('hyperdrive'))
for (const n of ['hyperblobs', 'hyperbee', 'hypercore']) {
  assert(driveRequire.resolve(n) === require.resolve(n), 'hyperdrive uses the top-level ' + n)
}

// ---------------------------------------------------------------------------------------------
// Output: nested objects and arrays down to `maxDepth`, then one line per value.

const write = prettyWriter(OUT, HEAD)

// ---------------------------------------------------------------------------------------------
// Seeded randomness.
//
// mulberry32u (common.mjs): the README's PRNG.

// Content of a PRNG spec {prng: seed, length: n}: byte i = (the i-th mulberry32 output) >>> 24.
function prngBytes(seed, n) {
  const next = mulberry32u(seed)
  const b = b4a.alloc(n)
  for (let i = 0; i < n; i++) b[i] = next() >>> 24
  return b
}

function rng(seed) {
  const next = mulberry32u(seed)
  const r = () => next() / 4294967296
  const int = (n) => Math.floor(r() * n)
  return {
    int,
    chance: (p) => r() < p,
    pick: (arr) => arr[int(arr.length)],
    seed: () => next()
  }
}

// ---------------------------------------------------------------------------------------------
// Contents. A content spec is a hex string, {prng: seed, length: n} or {concat: [spec...]}.

const HEX_LIMIT = 256 * 1024 // contents up to 256 KiB are written out as hex

function buildContent(spec) {
  if (typeof spec === 'string') return b4a.from(spec, 'hex')
  if (spec.prng !== undefined) return prngBytes(spec.prng, spec.length)
  if (spec.concat) return b4a.concat(spec.concat.map(buildContent))
  throw new Error('bad content spec')
}

// A spec for `n` PRNG bytes from `seed`: hex when small enough, else the PRNG spec itself.
function prngSpec(seed, n) {
  return n <= HEX_LIMIT ? hex(prngBytes(seed, n)) : { prng: seed, length: n }
}

// Bytes as a vector: length, BLAKE2b-256 (hypercore-crypto's hash) and, when short, the hex.
const SHOW = 2048
function bytesJ(b, show = SHOW) {
  if (b === null || b === undefined) return null
  const o = { byteLength: b.byteLength, blake2b: hex(crypto.hash(b)) }
  if (b.byteLength <= show) o.hex = hex(b)
  return o
}

// Runs `p` but fails the generator (instead of hanging) when it does not settle in 10 s.
async function timed(p, what) {
  let timer = null
  const t = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timeout: ' + what)), 10000)
  })
  try {
    return await Promise.race([p, t])
  } finally {
    clearTimeout(timer)
  }
}

async function collect(stream) {
  const out = []
  for await (const x of stream) out.push(x)
  return out
}

// The message of what `fn` throws (sync or async), or null with the value.
async function attempt(fn) {
  try {
    return { value: await fn(), error: null }
  } catch (err) {
    return { value: undefined, error: String(err.message || err).replace(/ \(discovery key: [^)]*\)/, '') }
  }
}

// ---------------------------------------------------------------------------------------------
// blobs.json

const BLOBS_SEED = crypto.hash(b4a.from('ferrocore drive vectors: blobs core'))

function idJ(id) {
  return JSON.parse(JSON.stringify(id))
}

// Runs one blobs case. `steps` are inputs; the result adds what JS did.
async function runBlobsCase(name, blockSize, steps, readsFor) {
  const core = new Hypercore(tmpdir(), { keyPair: crypto.keyPair(BLOBS_SEED) })
  const blobs = new Hyperblobs(core, blockSize ? { blockSize } : {})
  await blobs.ready()
  let appends = []
  core.on('append', () => appends.push(core.length))

  const out = []
  const ids = []
  for (const step of steps) {
    const before = core.length
    appends = []
    const s = { op: step.op }
    if (step.op === 'put') {
      s.content = step.content
      s.opts = step.opts || {}
      const opts = { ...s.opts }
      if (opts.blob) opts.blob = ids[opts.blob.step]
      const id = await timed(blobs.put(buildContent(step.content), step.opts ? opts : undefined), name)
      if (s.opts.blob) s.opts = { ...s.opts, blob: { step: s.opts.blob.step, id: idJ(ids[s.opts.blob.step]) } }
      ids.push(id)
      s.id = idJ(id)
      s.idJson = JSON.stringify(id)
      if (!(id.blockMap && id.blockLength === 0)) {
        assert(b4a.equals(await blobs.get(id), buildContent(step.content)), name + ': blob reads back')
      }
    } else if (step.op === 'writeStream') {
      s.chunks = step.chunks
      s.opts = step.opts || {}
      const opts = { ...s.opts }
      if (opts.blob) opts.blob = ids[opts.blob.step]
      const ws = blobs.createWriteStream(opts)
      for (const c of step.chunks) ws.write(buildContent(c))
      ws.end()
      await timed(new Promise((resolve, reject) => {
        ws.once('error', reject)
        ws.once('close', resolve)
      }), name)
      if (s.opts.blob) s.opts = { ...s.opts, blob: { step: s.opts.blob.step, id: idJ(ids[s.opts.blob.step]) } }
      ids.push(ws.id)
      s.id = idJ(ws.id)
      s.idJson = JSON.stringify(ws.id)
      if (!(ws.id.blockMap && ws.id.blockLength === 0)) {
        const whole = b4a.concat(step.chunks.map(buildContent))
        assert(b4a.equals(await blobs.get(ws.id), whole), name + ': streamed blob reads back')
      }
    } else if (step.op === 'batch') {
      const b = blobs.batch()
      s.puts = step.puts
      s.ids = []
      for (const c of step.puts) s.ids.push(idJ(await b.put(buildContent(c))))
      // the batch reads its own unflushed blobs
      s.getsBeforeFlush = []
      for (const id of s.ids) s.getsBeforeFlush.push(bytesJ(await b.get(id), 256))
      await b.flush()
      ids.push(s.ids)
    } else if (step.op === 'clear') {
      s.step = step.step
      s.opts = step.opts || {}
      const id = ids[step.step]
      s.expect = await blobs.clear(id, step.opts)
      let has = ''
      for (let i = 0; i < core.length; i++) has += (await core.has(i)) ? '1' : '0'
      s.has = has
      out.push(s)
      ids.push(null)
      continue
    }
    s.appends = appends
    s.length = core.length
    s.byteLength = core.byteLength
    if (core.length - before <= 100) {
      s.blocks = []
      for (let i = before; i < core.length; i++) s.blocks.push(bytesJ(await core.get(i), 256))
    } else {
      s.blocks = null
    }
    s.treeHash = hex(await core.treeHash())
    out.push(s)
  }

  const reads = []
  for (let [stepIndex, opts] of readsFor(ids, out)) {
    const id = ids[stepIndex]
    // a plain blob read that would start or end past the core's last byte waits for a peer in JS; such
    // reads get wait: false (then the missing block makes get return null)
    if (!id.blockMap && opts.wait === undefined && readEnd(id, opts) > core.byteLength) opts = { ...opts, wait: false }
    const r = await attempt(() => timed(blobs.get(id, opts), name + ' read'))
    const o = { step: stepIndex, opts, expect: r.error ? null : bytesJ(r.value) }
    if (r.error) o.error = r.error
    // the chunks a read stream of the same range yields (one per block, cut to the range)
    if (r.value) {
      const chunks = await timed(collect(blobs.createReadStream(id, opts)), name + ' stream')
      o.chunks = chunks.map((c) => c.byteLength)
      assert(b4a.equals(b4a.concat(chunks), r.value), name + ': stream and get agree')
    }
    reads.push(o)
  }

  await core.close()
  return { name, blockSize: blockSize || null, steps: out, reads }
}

// The furthest byte of the core a BlobReadStream seeks to: its start or its end (absolute byte
// offsets, as lib/streams.js works them out), whichever is further.
function readEnd(id, opts) {
  const pos = opts.start !== undefined ? id.byteOffset + opts.start : id.byteOffset
  let end = id.byteOffset + id.byteLength
  if (opts.length !== undefined) end = pos + opts.length
  else if (opts.end !== undefined) end = id.byteOffset + opts.end + 1
  return Math.max(pos, end)
}

// Read ranges for a blob of `len` bytes.
function rangesFor(len) {
  const rs = [
    {},
    { start: 0 },
    { start: 1 },
    { end: 0 },
    { length: 0 },
    { length: 1 },
    { start: 3, end: 2 },
    { start: 1, end: -1 },
    { start: 2, length: 3, end: 0 }
  ]
  if (len > 0) {
    rs.push({ start: len - 1 }, { end: len - 1 }, { start: len }, { start: Math.floor(len / 2), length: 7 })
    rs.push({ start: len - 1, length: 1 }, { end: len - 2 })
  }
  for (const b of [65535, 65536, 65537, 131072]) {
    if (b < len) rs.push({ start: b, length: 5 }, { start: b - 2, end: b + 1 }, { end: b }, { start: b })
  }
  if (len > 70000) rs.push({ start: 70000, end: 140000 }, { start: 100, length: 65536 * 2 })
  // past the end of the blob: JS reads on into the next blocks of the core (or nothing when
  // there are none: wait: false makes that null instead of waiting for a peer)
  rs.push({ start: len + 1, wait: false }, { end: len + 10, wait: false }, { start: 0, length: len + 3, wait: false })
  rs.push({ start: Math.max(0, len - 2), length: 6 })
  // dedupe
  const seen = new Set()
  return rs.filter((r) => {
    const k = JSON.stringify(r)
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

function blobReads(ids) {
  const out = []
  ids.forEach((id, i) => {
    if (!id || Array.isArray(id)) return
    const len = id.blockMap ? null : id.byteLength
    if (len === null) return
    for (const r of rangesFor(len)) out.push([i, r])
  })
  return out
}

async function genBlobs() {
  const cases = []
  let seed = 1000

  // 1. put of many sizes, default block size (64 KiB)
  {
    const sizes = [0, 1, 65535, 65536, 65537, 200000, 2, 7, 255, 4097, 100003, 16 * 65536 + 5, 32 * 65536, 3]
    const steps = sizes.map((n) => ({ op: 'put', content: prngSpec(seed++, n) }))
    cases.push(await runBlobsCase('put-sizes', 0, steps, blobReads))
  }

  // 2. a Hyperblobs with blockSize 1000, and put's own blockSize option
  {
    const steps = [0, 999, 1000, 1001, 2500, 17].map((n) => ({ op: 'put', content: prngSpec(seed++, n) }))
    steps.push({ op: 'put', content: prngSpec(seed++, 20), opts: { blockSize: 7 } })
    steps.push({ op: 'put', content: prngSpec(seed++, 20), opts: { blockSize: 1 } })
    steps.push({ op: 'put', content: prngSpec(seed++, 2600) })
    cases.push(await runBlobsCase('block-size', 1000, steps, blobReads))
  }

  // 3. write streams: one block per written chunk, appends of 16 blocks
  {
    const chunk = (n) => prngSpec(seed++, n)
    const steps = [
      { op: 'writeStream', chunks: [chunk(2), chunk(0), chunk(3)] },
      { op: 'writeStream', chunks: [] },
      { op: 'writeStream', chunks: [chunk(0)] },
      { op: 'writeStream', chunks: [chunk(70000), chunk(1)] },
      { op: 'writeStream', chunks: Array.from({ length: 20 }, (_, i) => chunk(i * 13)) },
      { op: 'writeStream', chunks: Array.from({ length: 33 }, () => chunk(5)) },
      { op: 'put', content: chunk(10) }
    ]
    cases.push(await runBlobsCase('write-stream', 0, steps, blobReads))
  }

  // 4. block maps and dedup
  {
    const abc = b4a.from('abcdefabcdefghi').toString('hex')
    const A = { prng: seed++, length: 65536 }
    const Bc = { prng: seed++, length: 65536 }
    const C = { prng: seed++, length: 1000 }
    const alt = hex(b4a.from(Array.from({ length: 8200 }, (_, i) => (i % 3 === 2 ? 0x62 : 0x61))))
    const steps = [
      /* 0 */ { op: 'put', content: abc, opts: { blockMap: true, blockSize: 3 } },
      /* 1 */ { op: 'put', content: abc, opts: { dedup: true, blockSize: 3 } },
      /* 2 */ { op: 'put', content: hex(b4a.from('abcxyzdefghi!')), opts: { dedup: true, blockSize: 3, blob: { step: 0 } } },
      /* 3 */ { op: 'put', content: hex(b4a.from('defabc')), opts: { blockSize: 3 } },
      /* 4 */ { op: 'put', content: hex(b4a.from('abcdefdef')), opts: { dedup: true, blockSize: 3, blob: { step: 3 } } },
      /* 5 */ { op: 'put', content: '', opts: { blockMap: true } },
      /* 6 */ { op: 'put', content: '', opts: { dedup: true } },
      /* 7 */ { op: 'put', content: { concat: [A, Bc, A, Bc, C] }, opts: { dedup: true } },
      /* 8 */ { op: 'put', content: { concat: [Bc, A, C, A] }, opts: { dedup: true, blob: { step: 7 } } },
      /* 9 */ { op: 'put', content: alt, opts: { dedup: true, blockSize: 1 } },
      /* 10 */ { op: 'put', content: hex(b4a.from('a')), opts: { blockMap: true } },
      /* 11 */ { op: 'writeStream', chunks: [hex(b4a.from('ab')), '', hex(b4a.from('ab')), hex(b4a.from('cd')), ''], opts: { dedup: true } },
      /* 12 */ { op: 'writeStream', chunks: [hex(b4a.from('cd')), hex(b4a.from('ef'))], opts: { blockMap: true } },
      /* 13 */ { op: 'put', content: hex(b4a.from('tail')) }
    ]
    const reads = (ids) => {
      const out = []
      const all = [{}, { start: 0 }, { start: 1 }, { start: 2, end: 4 }, { start: 3, length: 3 }, { end: 2 },
        { end: 3 }, { length: 0 }, { start: 3, length: 0 }, { start: 1, end: 0 }, { end: 100 },
        { start: 12 }, { start: 14 }, { start: 15 }, { start: 100 }, { start: 2, length: 3, end: 0 }]
      for (const i of [0, 1, 2, 4, 10, 11, 12]) for (const r of all) out.push([i, r])
      for (const i of [5, 6]) out.push([i, {}], [i, { start: 0, length: 0 }])
      for (const r of [{}, { start: 65530, length: 12 }, { start: 131070, end: 196610 }, { start: 196608 + 999 }, { start: 196608 + 1000 }])
        out.push([7, r])
      out.push([8, {}], [8, { start: 2 * 65536 + 999, length: 2 }], [8, { start: 65530, length: 12 }], [9, {}], [9, { start: 8190, end: 8195 }])
      return out
    }
    cases.push(await runBlobsCase('block-map', 0, steps, reads))
  }

  // 5. a HyperBlobsBatch (not used by hyperdrive): ids in its own key order, one append at flush
  {
    const steps = [
      { op: 'put', content: prngSpec(seed++, 5) },
      { op: 'batch', puts: [prngSpec(seed++, 3), '', prngSpec(seed++, 65537), prngSpec(seed++, 9)] },
      { op: 'put', content: prngSpec(seed++, 4) }
    ]
    const reads = () => [[0, {}], [2, { start: 1, length: 3 }]]
    cases.push(await runBlobsCase('batch', 0, steps, reads))
  }

  // 6. clear: cleared blocks read as null with wait: false; {diff: true} reports {blocks: 0}
  {
    const steps = [
      { op: 'put', content: prngSpec(seed++, 70000) },
      { op: 'put', content: hex(b4a.from('keep me')) },
      { op: 'put', content: hex(b4a.from('abcdef')), opts: { blockMap: true, blockSize: 2 } },
      { op: 'put', content: hex(b4a.from('last')) },
      { op: 'clear', step: 0, opts: { diff: true } },
      { op: 'clear', step: 2 },
      { op: 'clear', step: 1, opts: { diff: true } }
    ]
    const reads = () => [
      [0, { wait: false }],
      [0, { start: 65536, wait: false }],
      [2, { wait: false }],
      [3, {}],
      [1, { wait: false }]
    ]
    cases.push(await runBlobsCase('clear', 0, steps, reads))
  }

  const kp = crypto.keyPair(BLOBS_SEED)
  const probe = new Hypercore(tmpdir(), { keyPair: kp })
  await probe.ready()
  const head = { keyPairSeed: hex(BLOBS_SEED), publicKey: hex(kp.publicKey), key: hex(probe.key), discoveryKey: hex(probe.discoveryKey), manifest: manifestJ(probe.manifest) }
  await probe.close()

  write('blobs.json', { ...head, blobCases: cases }, 4)
}

// ---------------------------------------------------------------------------------------------
// drive.json

const KEY_ENCODING = new SubEncoder('files', 'utf-8') // as hyperdrive's index.js
const [BLOBS_NS] = crypto.namespace('hyperdrive', 1)
const PRIMARY_KEY = b4a.alloc(32, 7)

async function openDrive(primaryKey) {
  const store = new Corestore(tmpdir(), { primaryKey, unsafe: true })
  const drive = new Hyperdrive(store)
  await drive.ready()
  return drive
}

const entryJ = (e) => (e ? { seq: e.seq, key: e.key, value: e.value } : null)

// The key a path is stored under, or null when hyperdrive rejects it.
function normalized(p) {
  try {
    return Hyperdrive.normalizePath(p)
  } catch {
    return null
  }
}

// What every key-changing op touches (paths as passed).
function touched(step) {
  if (step.op === 'batch') return step.ops.flatMap(touched)
  if (step.path !== undefined) return [step.path]
  return []
}

async function runOp(drive, step) {
  switch (step.op) {
    case 'put':
      return step.opts === undefined
        ? drive.put(step.path, buildContent(step.content))
        : drive.put(step.path, buildContent(step.content), step.opts)
    case 'del':
      return drive.del(step.path)
    case 'symlink':
      return step.opts === undefined ? drive.symlink(step.path, step.target) : drive.symlink(step.path, step.target, step.opts)
    case 'putEntry':
      return drive.putEntry(step.path, step.value)
    case 'writeStream': {
      const ws = step.opts === undefined ? drive.createWriteStream(step.path) : drive.createWriteStream(step.path, step.opts)
      for (const c of step.chunks) ws.write(buildContent(c))
      ws.end()
      return new Promise((resolve, reject) => {
        ws.once('error', reject)
        ws.once('close', resolve)
      })
    }
    case 'batch': {
      const b = drive.batch()
      for (const op of step.ops) await runOp(b, op)
      return b.flush()
    }
    case 'truncate':
      return step.opts === undefined ? drive.truncate(step.length) : drive.truncate(step.length, step.opts)
    case 'clear':
      return drive.clear(step.path, step.opts)
    case 'clearAll':
      return drive.clearAll(step.opts)
  }
  throw new Error('unknown op ' + step.op)
}

// Runs `steps` on a fresh drive of `primaryKey`; records what each did; then the reads.
async function runDriveCase(name, primaryKey, steps, readsFn, extra = {}) {
  const drive = await openDrive(primaryKey)
  const db = drive.core
  const blobs = drive.blobs.core
  const out = []
  const versions = [drive.version]
  for (const step of steps) {
    const dbBefore = db.length
    const r = await attempt(() => timed(runOp(drive, step), name + ' ' + step.op))
    const s = { ...step }
    if (r.error !== null) s.error = r.error
    if (step.op === 'clear' || step.op === 'clearAll') s.result = r.error === null ? r.value : null
    s.dbBlocks = []
    for (let i = dbBefore; i < db.length; i++) s.dbBlocks.push(hex(await db.get(i)))
    s.version = drive.version
    s.blobsLength = blobs.length
    s.blobsByteLength = blobs.byteLength
    if (step.op === 'truncate') s.forks = { db: db.fork, blobs: blobs.fork }
    if (step.op === 'clear' || step.op === 'clearAll') {
      let has = ''
      for (let i = 0; i < blobs.length; i++) has += (await blobs.has(i)) ? '1' : '0'
      s.blobsHas = has
    }
    s.entries = []
    const seen = new Set()
    for (const p of touched(step)) {
      const key = normalized(p)
      if (key === null || seen.has(key)) continue
      seen.add(key)
      const e = await drive.entry(key)
      const raw = await drive.db.get(key, { keyEncoding: KEY_ENCODING, valueEncoding: 'binary' })
      assert((e === null) === (raw === null), name + ': entry and raw value agree')
      if (raw) assert(b4a.toString(raw.value) === JSON.stringify(e.value), name + ': stored value is JSON.stringify')
      s.entries.push({ key, keyBytes: hex(KEY_ENCODING.encode(key)), entry: entryJ(e), value: raw ? hex(raw.value) : null })
    }
    if (r.error === null && !versions.includes(drive.version)) versions.push(drive.version)
    if (step.op === 'truncate' && r.error === null) {
      // versions past the truncation are gone
      while (versions.length && versions[versions.length - 1] > drive.version) versions.pop()
      if (!versions.includes(drive.version)) versions.push(drive.version)
    }
    out.push(s)
  }

  const reads = []
  await readsFn(new Reader(drive, reads), versions, out)

  const c = {
    name,
    primaryKey: hex(primaryKey),
    ...extra,
    key: hex(drive.key),
    contentKey: hex(drive.contentKey),
    steps: out,
    dbTreeHash: hex(await db.treeHash()),
    blobsTreeHash: blobs.length && (await blobs.has(blobs.length - 1)) ? hex(await blobs.treeHash()) : null,
    reads
  }
  await drive.close()
  return c
}

// Reads at a version (a checkout of it), each pushed as {op, ...inputs, version, expect, error?}.
class Reader {
  constructor(drive, reads) {
    this.drive = drive
    this.reads = reads
  }

  async _at(version, o, fn) {
    const c = this.drive.checkout(version)
    await c.ready()
    const r = await attempt(() => timed(fn(c), 'read ' + o.op))
    await c.close()
    const rec = { ...o, version, expect: r.error === null ? r.value : null }
    if (r.error !== null) rec.error = r.error
    this.reads.push(rec)
  }

  entry(version, path, follow) {
    const o = { op: 'entry', path }
    if (follow) o.follow = true
    return this._at(version, o, async (c) => entryJ(await c.entry(path, follow ? { follow: true } : undefined)))
  }

  exists(version, path) {
    return this._at(version, { op: 'exists', path }, (c) => c.exists(path))
  }

  // Ranged reads that would end past the blobs core's last byte wait for a peer in JS; they get
  // wait: false (as the recorded opts say), which makes the missing block an error instead.
  async _noWait(version, path, opts) {
    if (opts === undefined || opts.wait !== undefined) return opts
    const c = this.drive.checkout(version)
    await c.ready()
    let e = null
    try {
      e = await c.entry(path, opts.follow ? { follow: true } : undefined)
    } catch {}
    await c.close()
    const blob = e && e.value.blob
    if (!blob || blob.blockMap) return opts
    return readEnd(blob, opts) > this.drive.blobs.core.byteLength ? { ...opts, wait: false } : opts
  }

  async get(version, path, opts) {
    opts = await this._noWait(version, path, opts)
    const o = { op: 'get', path }
    if (opts !== undefined) o.opts = opts
    return this._at(version, o, async (c) => bytesJ(opts === undefined ? await c.get(path) : await c.get(path, opts)))
  }

  async readStream(version, path, opts) {
    opts = await this._noWait(version, path, opts)
    const o = { op: 'readStream', path }
    if (opts !== undefined) o.opts = opts
    return this._at(version, o, async (c) => {
      const rs = opts === undefined ? c.createReadStream(path) : c.createReadStream(path, opts)
      const chunks = await collect(rs)
      return { ...bytesJ(b4a.concat(chunks)), chunks: chunks.map((x) => x.byteLength) }
    })
  }

  list(version, folder, opts) {
    const o = { op: 'list', folder: folder === undefined ? null : folder }
    if (opts !== undefined) o.opts = opts
    return this._at(version, o, async (c) => {
      const s = opts === undefined ? c.list(folder) : c.list(folder, opts)
      return (await collect(s)).map(entryJ)
    })
  }

  readdir(version, folder) {
    const o = { op: 'readdir', folder: folder === undefined ? null : folder }
    return this._at(version, o, async (c) => collect(c.readdir(folder)))
  }

  has(version, path) {
    return this._at(version, { op: 'has', path }, (c) => c.has(path))
  }

  // drive.checkout(to).diff(from, folder): left = the entry at `to`, right = at `from`
  async diff(from, to, folder) {
    const o = { op: 'diff', from, to, folder: folder === undefined ? null : folder }
    const c = this.drive.checkout(to)
    await c.ready()
    const r = await attempt(async () => (await collect(c.diff(from, folder))).map((x) => ({ left: entryJ(x.left), right: entryJ(x.right) })))
    await c.close()
    const rec = { ...o, expect: r.error === null ? r.value : null }
    if (r.error !== null) rec.error = r.error
    this.reads.push(rec)
  }

  async getBlobsLength(version) {
    const r = await attempt(() => this.drive.getBlobsLength(version))
    const rec = { op: 'getBlobsLength', version, expect: r.error === null ? r.value : null }
    if (r.error !== null) rec.error = r.error
    this.reads.push(rec)
  }
}

// Every read kind over the paths and folders of a case at `version`.
async function readAll(rd, version, paths, folders, opts = {}) {
  for (const p of paths) {
    await rd.entry(version, p)
    await rd.entry(version, p, true)
    await rd.exists(version, p)
    await rd.get(version, p)
    if (opts.follow) await rd.get(version, p, { follow: true })
  }
  for (const f of folders) {
    await rd.list(version, f)
    await rd.list(version, f, { recursive: false })
    await rd.readdir(version, f)
  }
}

const F = (s) => hex(b4a.from(s)) // text content as hex

const NORMALIZE_INPUTS = [
  'a', 'a/b', '/a/b', '/a//b/', '//a', 'a/', './a', '../a', 'a/../b', 'a/./b', '/a/b/..', '/a/b/../..',
  '..', '.', '', '/', '//', '/./', 'a/..', 'a\\b', '\\a\\b\\', 'a\\..\\b', 'C:/x', 'c:\\x\\y', 'C:', 'C:x',
  'file:/x', 'file:///x/y', 'http://host/a/b', 'hyper://key/a', 'foo:bar', 'foo:bar/baz', 'a:/b', 'ab:/c',
  ' a ', 'a /b', '~', 'a\u0000b', 'ünï/кот/🐱', 'e\u0301', '\u00e9', '日本語/ファイル.txt', 'a?b#c', '%2F', '/a/b/c/d/e/f/g/h/i/j'
]

async function genDrive() {
  const top = { blobsNamespace: hex(BLOBS_NS) }

  // keys of a fresh drive for a few primary keys
  top.drives = []
  for (const pk of [PRIMARY_KEY, b4a.alloc(32, 0), crypto.hash(b4a.from('ferrocore drive vectors primary key'))]) {
    // getDriveKey on a store of its own: it opens the db core `exclusive`, so on the drive's
    // store it would wait for the drive to close
    const ks = new Corestore(tmpdir(), { primaryKey: pk, unsafe: true })
    const driveKey = await Hyperdrive.getDriveKey(ks)
    await ks.close()
    const drive = await openDrive(pk)
    top.drives.push({
      primaryKey: hex(pk),
      key: hex(drive.key),
      discoveryKey: hex(drive.discoveryKey),
      id: drive.id,
      contentKey: hex(drive.contentKey),
      contentDiscoveryKey: hex(drive.blobs.core.discoveryKey),
      dbManifest: manifestJ(drive.core.manifest),
      contentManifest: manifestJ(drive.blobs.core.manifest),
      getContentKey: hex(Hyperdrive.getContentKey(drive.core.manifest, drive.key)),
      getDriveKey: hex(driveKey),
      version: drive.version,
      dbLength: drive.core.length,
      blobsLength: drive.blobs.core.length
    })
    // the first write (here a del of a missing path) appends the header on its own
    await drive.del('/missing')
    assert(drive.core.length === 1, 'header only')
    top.drives[top.drives.length - 1].header = hex(await drive.core.get(0))
    assert(b4a.equals(Hyperdrive.getContentKey(drive.core.manifest, drive.key), drive.contentKey), 'content key derivation')
    await drive.close()
  }

  // path normalisation
  top.paths = NORMALIZE_INPUTS.map((input) => {
    try {
      const key = Hyperdrive.normalizePath(input)
      return { input, key, keyBytes: hex(KEY_ENCODING.encode(key)), error: null }
    } catch (err) {
      return { input, key: null, keyBytes: null, error: err.message }
    }
  })

  const cases = []
  let seed = 5000
  const pr = (n) => prngSpec(seed++, n)

  // 1. basic: every kind of op by hand
  {
    const steps = [
      { op: 'del', path: '/missing' },
      { op: 'put', path: '/hello.txt', content: F('hello world') },
      { op: 'put', path: 'empty', content: '' },
      { op: 'put', path: '/a/b/c.txt', content: pr(65536), opts: { executable: true } },
      { op: 'put', path: 'a/b/d.bin', content: pr(65537), opts: { metadata: { mode: 420, tags: ['x', 'ü'] } } },
      { op: 'put', path: '/ünï/кот/🐱.txt', content: F('мяу'), opts: { metadata: 'text' } },
      { op: 'put', path: '/x', content: F('file x') },
      { op: 'put', path: '/x/y', content: F('file x/y') },
      { op: 'put', path: '/a0', content: F('a0') },
      { op: 'put', path: '/a-b', content: F('a-b') },
      { op: 'put', path: '/a.b', content: F('a.b') },
      { op: 'symlink', path: '/a/link', target: 'b/c.txt' },
      { op: 'symlink', path: '/a/b/up2', target: '../../hello.txt' },
      { op: 'symlink', path: '/a/b/up3', target: '../../../hello.txt' },
      { op: 'symlink', path: '/abs', target: '/hello.txt' },
      { op: 'symlink', path: '/loop1', target: '/loop2' },
      { op: 'symlink', path: '/loop2', target: '/loop1' },
      { op: 'symlink', path: '/chain', target: '/abs', opts: { metadata: { note: 'two hops' } } },
      { op: 'symlink', path: '/dangling', target: '/nowhere' },
      { op: 'put', path: '/hello.txt', content: F('hello again'), opts: { executable: false, metadata: null } },
      { op: 'del', path: '/empty' },
      { op: 'del', path: '/empty' },
      { op: 'put', path: '/', content: F('not stored') },
      { op: 'put', path: '..', content: F('not stored either') },
      { op: 'del', path: '/' },
      { op: 'putEntry', path: '/raw', value: { executable: true, metadata: { x: 1 } } },
      { op: 'putEntry', path: '/raw2', value: { blob: { blockOffset: 0, byteOffset: 0, blockLength: 1, byteLength: 11 } } },
      { op: 'writeStream', path: '/ws.bin', chunks: [pr(3), '', pr(70000), pr(5)], opts: { executable: true } },
      { op: 'writeStream', path: '/dd.bin', chunks: [F('ab'), F('cd'), F('ab')], opts: { dedup: true } },
      { op: 'writeStream', path: '/dd.bin', chunks: [F('ab'), F('ef'), F('cd')], opts: { dedup: true, metadata: { v: 2 } } },
      { op: 'writeStream', path: '/ws-empty', chunks: [] },
      { op: 'put', path: '/a/b/c.txt', content: pr(100) },
      {
        op: 'batch',
        ops: [
          { op: 'put', path: '/batch/1', content: F('one') },
          { op: 'put', path: '/batch/2', content: '' },
          { op: 'del', path: '/x' },
          { op: 'symlink', path: '/batch/l', target: '/batch/1' },
          { op: 'put', path: '/batch/1', content: F('one again'), opts: { executable: true } }
        ]
      },
      { op: 'batch', ops: [] },
      { op: 'batch', ops: [{ op: 'del', path: '/nothing-here' }] },
      { op: 'del', path: 'a/b/d.bin' },
      { op: 'put', path: '/meta/false', content: F('m'), opts: { metadata: false } },
      { op: 'put', path: '/meta/zero', content: F('m'), opts: { metadata: 0 } },
      { op: 'put', path: '/meta/empty-string', content: F('m'), opts: { metadata: '' } },
      { op: 'put', path: '/meta/numbers', content: F('m'), opts: { metadata: { big: 1e21, f: 1.5, neg: -2, small: 1e-7 } } },
      { op: 'put', path: '/meta/order', content: F('m'), opts: { metadata: { b: 1, 2: 2, 1: 1, a: { z: 0, y: [] } } } },
      { op: 'put', path: '/meta/unicode', content: F('m'), opts: { metadata: { 'ключ': 'значение \u2028 "q" \\ \u0007 🐱' } } },
      { op: 'put', path: 'a\\win.txt', content: F('backslash') },
      { op: 'put', path: 'C:/c.txt', content: F('drive letter') },
      { op: 'put', path: '/e\u0301.txt', content: F('nfd') },
      { op: 'put', path: '/\u00e9.txt', content: F('nfc') },
      { op: 'put', path: '/a/b/../../dots.txt', content: F('dots') },
      { op: 'put', path: '/deep/1/2/3/4/5/6/7/8/file', content: pr(300), opts: { executable: true, metadata: [1, 'two', null, true] } },
      { op: 'writeStream', path: '/ws-one-empty-chunk', chunks: [''] }
    ]
    const paths = [...new Set(steps.flatMap(touched))].filter((p) => normalized(p) !== null)
    paths.push('/nowhere', '/a', '/a/b', 'missing/deeper')
    const folders = [undefined, '/', '', '.', 'a', '/a/', 'a/b', '/a//b/', './a/../a', 'x', 'ünï', 'batch', 'meta',
      'missing', 'a/b/c.txt', 'deep/1/2', 'a\\b', '..', 'a0']
    const readsFn = async (rd, versions) => {
      const latest = versions[versions.length - 1]
      await readAll(rd, latest, paths, folders, { follow: true })
      // ranges
      const ranges = [{ start: 0 }, { start: 1 }, { end: 0 }, { end: 3 }, { length: 0 }, { start: 2, length: 4 },
        { start: 65530, length: 12 }, { start: 65535, end: 65537 }, { start: 69990 }, { start: 2, length: 3, end: 0 }]
      for (const p of ['/a/b/c.txt', '/ws.bin', '/hello.txt', '/dd.bin', '/batch/2', '/raw2']) {
        for (const o of ranges) {
          await rd.get(latest, p, o)
          await rd.readStream(latest, p, o)
        }
      }
      for (const p of ['/hello.txt', '/ws-empty', '/ws-one-empty-chunk', '/batch/2', '/abs', '/raw', '/nowhere', '/x']) {
        await rd.readStream(latest, p)
      }
      await rd.readStream(latest, '/chain', { start: 1 })
      // ignore
      await rd.list(latest, '/', { ignore: 'a' })
      await rd.list(latest, '/', { ignore: ['/a/b', 'batch', 'meta/'] })
      await rd.list(latest, '/', { recursive: false, ignore: ['a', 'x'] })
      // older versions: checkouts
      for (const v of versions) {
        if (v === latest) continue
        for (const p of ['/hello.txt', '/a/b/c.txt', '/x', '/x/y', '/batch/1', '/dd.bin', '/chain']) await rd.entry(v, p)
        if (v % 3 === 0 || v === versions[1]) {
          await rd.list(v, '/')
          await rd.readdir(v, '/')
          await rd.get(v, '/hello.txt')
          await rd.get(v, '/dd.bin')
        }
      }
      for (const p of ['/hello.txt', '/a', '/a/', 'a/b', '/', '/nowhere', '/abs', '/raw', 'batch']) await rd.has(latest, p)
      // diffs
      const pairs = []
      for (let i = 0; i + 1 < versions.length; i++) pairs.push([versions[i], versions[i + 1]])
      pairs.push([versions[0], latest], [latest, versions[3]], [latest, latest], [versions[5], versions[20]])
      for (const [from, to] of pairs) await rd.diff(from, to)
      for (const f of ['a', '/a/b/', 'batch', 'x']) await rd.diff(versions[1], latest, f)
      for (const v of [0, 1, versions[3], versions[12], latest]) await rd.getBlobsLength(v)
    }
    cases.push(await runDriveCase('basic', PRIMARY_KEY, steps, readsFn))
  }

  // 2. random: a seeded sequence of ops over a pool of names
  {
    const caseSeed = 42
    const r = rng(caseSeed)
    const names = ['a', 'b', 'docs', 'src', 'ü', 'кот', '🐱', 'a b', 'x.txt', 'readme.md', 'a-b', 'a0', 'Z', '日本語', '\u00e9', 'e\u0301', 'a.b']
    const METAS = [null, {}, { a: 1 }, 'text ü', 42, 1.5, [1, 'two', null, true], { nested: { k: ['ü', 1.5, true, null] } },
      { 2: 1, 1: 0, b: 2 }, false, 0, '', { mtime: 1700000000000, mode: 420 }]
    const mkPath = () => {
      const n = 1 + r.int(3)
      const segs = []
      for (let i = 0; i < n; i++) segs.push(r.pick(names))
      const pre = r.pick(['/', '/', '/', '', './', '//'])
      return pre + segs.join('/') + (r.chance(0.05) ? '/' : '')
    }
    let budget = 200000
    const size = () => {
      const t = r.int(100)
      let n
      if (t < 10) n = 0
      else if (t < 40) n = 1 + r.int(64)
      else if (t < 75) n = 65 + r.int(2000)
      else if (t < 90) n = 2000 + r.int(18000)
      else n = r.pick([65535, 65536, 65537, 70000, 131073])
      if (n > budget) n = r.int(100)
      budget -= n
      return n
    }
    const existing = new Set()
    const optsOf = () => {
      const o = {}
      if (r.chance(0.3)) o.executable = r.chance(0.5)
      if (r.chance(0.4)) o.metadata = r.pick(METAS)
      return Object.keys(o).length ? o : undefined
    }
    const mkOp = (inBatch) => {
      const t = r.int(100)
      const path = existing.size && r.chance(0.3) ? r.pick([...existing]) : mkPath()
      let op
      if (t < 50) {
        op = { op: 'put', path, content: pr(size()) }
        const o = optsOf()
        if (o) op.opts = o
      } else if (t < 68) {
        op = { op: 'del', path: existing.size && r.chance(0.8) ? r.pick([...existing]) : path }
      } else if (t < 80) {
        const target = r.chance(0.5) && existing.size ? r.pick([...existing]) : r.pick(['../' + r.pick(names), r.pick(names), '/' + r.pick(names)])
        op = { op: 'symlink', path, target }
        if (r.chance(0.2)) op.opts = { metadata: r.pick(METAS) }
      } else if (t < 88 && !inBatch) {
        const chunks = []
        const k = r.int(5)
        for (let i = 0; i < k; i++) chunks.push(pr(r.chance(0.8) ? r.int(3000) : 65536 + r.int(10)))
        op = { op: 'writeStream', path, chunks }
        const o = optsOf() || {}
        if (r.chance(0.3)) o.dedup = true
        if (Object.keys(o).length) op.opts = o
      } else if (!inBatch) {
        const ops = []
        const k = 1 + r.int(6)
        for (let i = 0; i < k; i++) ops.push(mkOp(true))
        op = { op: 'batch', ops }
      } else {
        op = { op: 'put', path, content: pr(r.int(50)) }
      }
      for (const o of op.op === 'batch' ? op.ops : [op]) {
        const key = normalized(o.path)
        if (key === null) continue
        if (o.op === 'del') existing.delete(key)
        else existing.add(key)
      }
      return op
    }
    const steps = []
    for (let i = 0; i < 90; i++) steps.push(mkOp(false))
    const readsFn = async (rd, versions) => {
      const latest = versions[versions.length - 1]
      const all = [...new Set(steps.flatMap(touched).map(normalized).filter((k) => k !== null))].sort()
      const folders = [undefined, ...new Set(all.map((k) => k.slice(0, k.lastIndexOf('/')) || '/'))].sort()
      await readAll(rd, latest, all, folders.slice(0, 40))
      for (let i = 0; i < 60; i++) {
        const v = r.pick(versions)
        const p = r.pick(all)
        const t = r.int(4)
        if (t === 0) await rd.entry(v, p, r.chance(0.3))
        else if (t === 1) await rd.get(v, p, r.chance(0.5) ? { start: r.int(100), length: r.int(70000) } : undefined)
        else if (t === 2) await rd.list(v, r.pick(folders), r.chance(0.3) ? { recursive: false } : undefined)
        else await rd.readdir(v, r.pick(folders))
      }
      for (let i = 0; i + 1 < versions.length; i += 4) await rd.diff(versions[i], versions[Math.min(i + 4, versions.length - 1)])
      await rd.diff(1, latest)
      await rd.diff(latest, versions[Math.floor(versions.length / 2)])
      for (const f of folders.slice(1, 8)) await rd.diff(versions[Math.floor(versions.length / 3)], latest, f)
      for (let i = 0; i < versions.length; i += 10) await rd.getBlobsLength(versions[i])
    }
    cases.push(await runDriveCase('random', PRIMARY_KEY, steps, readsFn, { seed: caseSeed }))
  }

  // 3. truncate: both cores (the blobs core to getBlobsLength(version) or to opts.blobs)
  {
    const steps = [
      { op: 'put', path: '/1', content: pr(100) },
      { op: 'put', path: '/2', content: pr(70000) },
      { op: 'put', path: '/3', content: pr(10) },
      { op: 'truncate', length: 3 },
      { op: 'put', path: '/4', content: pr(5) },
      { op: 'truncate', length: 99 },
      { op: 'truncate', length: 3, opts: { blobs: 99 } },
      { op: 'put', path: '/5', content: pr(65537) },
      { op: 'truncate', length: 4, opts: { blobs: 2 } },
      { op: 'put', path: '/6', content: F('six') }
    ]
    const readsFn = async (rd, versions) => {
      const latest = versions[versions.length - 1]
      for (const p of ['/1', '/2', '/3', '/4', '/5', '/6']) {
        await rd.entry(latest, p)
        await rd.get(latest, p, { wait: false })
        await rd.has(latest, p)
      }
      await rd.has(latest, '/')
      await rd.list(latest, '/')
      for (const v of versions) await rd.getBlobsLength(v)
    }
    cases.push(await runDriveCase('truncate', PRIMARY_KEY, steps, readsFn))
  }

  // 4. clear: the blobs' blocks go, the entries stay; {diff: true} reports {blocks: 0}
  {
    const steps = [
      { op: 'put', path: '/1', content: pr(70000) },
      { op: 'put', path: '/2', content: F('two') },
      { op: 'writeStream', path: '/3', chunks: [F('ab'), F('cd'), F('ab')], opts: { dedup: true } },
      { op: 'symlink', path: '/4', target: '/2' },
      { op: 'put', path: '/5', content: F('five') },
      { op: 'clear', path: '/1', opts: { diff: true } },
      { op: 'clear', path: '/nothing', opts: { diff: true } },
      { op: 'clear', path: '/nothing' },
      { op: 'clear', path: '/3' },
      { op: 'clear', path: '/4', opts: { diff: true } },
      { op: 'clear', path: '/2' },
      { op: 'clearAll', opts: { diff: true } },
      { op: 'clearAll' }
    ]
    const readsFn = async (rd, versions) => {
      const latest = versions[versions.length - 1]
      for (const p of ['/1', '/2', '/3', '/4', '/5']) {
        await rd.entry(latest, p)
        await rd.get(latest, p, { wait: false })
        await rd.has(latest, p)
      }
    }
    cases.push(await runDriveCase('clear', PRIMARY_KEY, steps, readsFn))
  }

  write('drive.json', { ...top, driveCases: cases }, 4)
}

// ---------------------------------------------------------------------------------------------

await genBlobs()
await genDrive().catch((e) => { console.error(e); process.exit(1) })
fs.rmSync(TMP, { recursive: true, force: true })
