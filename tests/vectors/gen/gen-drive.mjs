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
// and every expected result is what JS returns. Every byte string is lowercase hex. The schema is
// in tests/vectors/drive/README.md; in short:
//
// blobs.json  { generator, versions, keyPairSeed, publicKey, key, discoveryKey, cases: [
//               {name, blockSize, steps: [...], reads: [...]} ] }
//   steps[]: {op: "put", content, opts, id, idJson, ...after}
//            {op: "writeStream", chunks: [content...], opts, id, idJson, ...after}
//            {op: "batch", puts: [content...], ids, getsBeforeFlush, ...after}
//            {op: "clear", step, opts, expect, has}
//     after = {appends, length, byteLength, blocks, treeHash}
//   reads[]: {step, opts, expect: bytes|null, error?}
//     bytes = {byteLength, blake2b, hex?}  (hex when byteLength <= 2048)
// drive.json  { generator, versions, blobsNamespace, drives: [...keys per primary key],
//               paths: [...normalizePath cases], cases: [{name, primaryKey, seed?, steps, reads}] }

import fs from 'fs'
import os from 'os'
import path from 'path'
import { fileURLToPath } from 'url'
import { createRequire } from 'module'
import { assert, hex, manifestJ, pkgVersion } from './common.mjs'

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

function pretty(v, depth, maxDepth, ind) {
  if (depth >= maxDepth || v === null || typeof v !== 'object') return JSON.stringify(v)
  const inner = ind + '  '
  if (Array.isArray(v)) {
    if (!v.length) return '[]'
    return '[\n' + v.map((x) => inner + pretty(x, depth + 1, maxDepth, inner)).join(',\n') + '\n' + ind + ']'
  }
  const ks = Object.keys(v)
  if (!ks.length) return '{}'
  return (
    '{\n' +
    ks.map((k) => inner + JSON.stringify(k) + ': ' + pretty(v[k], depth + 1, maxDepth, inner)).join(',\n') +
    '\n' + ind + '}'
  )
}

function write(name, obj, maxDepth) {
  const text = pretty({ ...HEAD, ...obj }, 0, maxDepth, '') + '\n'
  fs.writeFileSync(path.join(OUT, name), text)
  console.log('wrote', name, text.length, 'bytes')
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness.
//
// mulberry32 as 32-bit integers: state += 0x6d2b79f5; t = state; t = imul(t ^ t >>> 15, t | 1);
// t ^= t + imul(t ^ t >>> 7, t | 61); out = (t ^ t >>> 14) >>> 0 (all arithmetic mod 2^32).

function mulberry32u(seed) {
  let a = seed >>> 0
  return function () {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

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
    // a plain blob read that would end past the core's last byte waits for a peer in JS; such
    // reads get wait: false (then the missing block makes get return null)
    if (!id.blockMap && opts.wait === undefined && readEnd(id, opts) > core.byteLength) opts = { ...opts, wait: false }
    const r = await attempt(() => timed(blobs.get(id, opts), name + ' read'))
    const o = { step: stepIndex, opts, expect: r.error ? null : bytesJ(r.value) }
    if (r.error) o.error = r.error
    reads.push(o)
  }

  await core.close()
  return { name, blockSize: blockSize || null, steps: out, reads }
}

// Where a BlobReadStream stops (an absolute byte offset in the core), as lib/streams.js works it out.
function readEnd(id, opts) {
  const pos = opts.start !== undefined ? id.byteOffset + opts.start : id.byteOffset
  if (opts.length !== undefined) return pos + opts.length
  if (opts.end !== undefined) return id.byteOffset + opts.end + 1
  return id.byteOffset + id.byteLength
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

  write('blobs.json', { ...head, cases }, 5)
}

// ---------------------------------------------------------------------------------------------

await genBlobs()
fs.rmSync(TMP, { recursive: true, force: true })
