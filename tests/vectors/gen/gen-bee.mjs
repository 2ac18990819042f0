// Regenerates the Hyperbee vectors (tests/vectors/bee/*.json) by running the JavaScript
// reference (hyperbee 2.27.3 on hypercore 11.37.1, pinned by package.json and package-lock.json
// next to this script).
//
// Usage (from this folder):   npm ci && node gen-bee.mjs [outDir]
// Default outDir: tests/vectors/bee. scripts/gen-vectors passes a temporary folder instead and
// compares it with tests/vectors/bee.
//
// Deterministic: operation sequences come from a seeded PRNG (mulberry32), every core has a key
// pair from a fixed seed, nothing reads the clock, and every expected result is what JS returns.
// Every byte string is lowercase hex.
//
// ops.json  { generator, hyperbee, hypercore, headers, cases: [ {name, seed, steps, blocks, lengths, reads} ] }
//   headers[]: {protocol, metadata: {contentFeed: HEX|null, userData: HEX|null}|null, bytes}: block 0
//   of a bee opened with that `metadata` option (null = none).
//   Every bee is `new Hyperbee(core, { keyEncoding: 'binary', valueEncoding: 'binary' })`, so keys
//   and values in steps are the encoded bytes that go into the Node blocks.
//   steps[]: {op:"put", key, value: HEX|null, cas?}  value null = `put(key)` (no value field)
//            cas "never": `cas: () => false`; "if-differs": `cas: (prev, next) => prev.value and
//            next.value differ` (byte comparison; null equals only null, null != empty)
//            {op:"del", key, cas?: "never"}
//            {op:"batch", ops: [put|del ...]}   one `bee.batch()`, the ops in order, one flush()
//            A step may carry "sub": [HEX name...] and "seps": [HEX...]: it ran through
//            bee.sub(name0, {sep: sep0}).sub(name1, {sep: sep1})...; key is still the full key.
//   blocks[]: every block of the core after all steps (block 0 = header).
//   lengths[]: core length after each step.
//   reads[] (version V = bee.checkout(V); only versions that are some step's length, or 1):
//     {get: HEX, version, expect: {seq,key,value}|null}
//     {getBySeq: N, version, expect: {key,value}}
//     {range: {gt?,gte?,lt?,lte?, reverse, limit (-1 = none)}, version, expect: [{seq,key,value}]}
//        when both gt and gte are given JS uses gt; when both lt and lte, JS uses lt.
//     {history: {gte?,gt?,lt?,lte?,reverse,limit?}, version, expect: [{type,seq,key,value}]}
//        numbers as passed to createHistoryStream (negative = counted from version); when JS
//        throws, expect is null and error holds the message.
//     {diff: {from, to, range: {gt?,gte?,lt?,lte?}, limit?}, expect: [{left,right}]}
//        = bee.checkout(to).createDiffStream(from, range): left is the entry at `to`, right the
//        entry at `from` (null = absent on that side).
//     {sub: [HEX name...], seps: [HEX...], prefix: HEX, version, get: HEX, expect} or
//     {sub, seps, prefix, version, range: {...}, expect: [...]}: reads through the sub view;
//        keys (bounds, get key, expected keys) are as the sub sees them (without the prefix).
// encodings.json  { generator, hyperbee, codecs, vectors: [{encoding, input, inputText?, encoded}] }
//   encoded = require('codecs')(encoding).encode(input); for json/ndjson, input is the value
//   and inputText the JSON text it was parsed from (JSON.parse(inputText)), since a JSON file
//   cannot hold -0 or keep 1e21 as written.
// extension.json  { generator, hyperbee, messages: [{message, fields, bytes}], snapshots: [...] }
//   bytes = Extension.encode({[message]: fields}) from hyperbee's lib/messages.js (message
//   "extension" = several fields at once); snapshots are range iterator snapshots of a real bee
//   encoded as the extension's iterator request.

import fs from 'fs'
import os from 'os'
import path from 'path'
import { fileURLToPath } from 'url'
import { createRequire } from 'module'
import { assert, hex, mulberry32u, pkgVersion, prettyWriter } from './common.mjs'

const require = createRequire(import.meta.url)

const Hypercore = require('hypercore')
const Hyperbee = require('hyperbee')
const crypto = require('hypercore-crypto')
const b4a = require('b4a')
const codecs = require('codecs')
const messages = require(path.join(path.dirname(require.resolve('hyperbee')), 'lib', 'messages.js'))

const here = path.dirname(fileURLToPath(import.meta.url))
const OUT = path.resolve(process.argv[2] || path.join(here, '..', 'bee'))
fs.mkdirSync(OUT, { recursive: true })

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-vectors-'))
let tmpCount = 0
const tmpdir = () => path.join(TMP, 'c' + tmpCount++)

const HEAD = {
  generator: 'tests/vectors/gen/gen-bee.mjs',
  hyperbee: pkgVersion('hyperbee'),
  hypercore: pkgVersion('hypercore')
}
assert(HEAD.hyperbee === '2.27.3', 'hyperbee 2.27.3 is installed')

// ---------------------------------------------------------------------------------------------
// Output: two levels of indentation, then one line per step / read / block.

const write = prettyWriter(OUT, HEAD)

// ---------------------------------------------------------------------------------------------
// Seeded randomness.

// mulberry32 (common.mjs) as a float in [0, 1).
function mulberry32(seed) {
  const next = mulberry32u(seed)
  return () => next() / 4294967296
}

function rng(seed) {
  const r = mulberry32(seed)
  const int = (n) => Math.floor(r() * n)
  return {
    int,
    chance: (p) => r() < p,
    pick: (arr) => arr[int(arr.length)],
    bytes: (n) => {
      const b = b4a.alloc(n)
      for (let i = 0; i < n; i++) b[i] = int(256)
      return b
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

const B = (s) => b4a.from(s)
const H = (h) => b4a.from(h, 'hex')
const entryJ = (e) => (e ? { seq: e.seq, key: hex(e.key), value: hex(e.value) } : null)

async function collect(stream) {
  const out = []
  for await (const x of stream) out.push(x)
  return out
}

async function openBee(seed) {
  const core = new Hypercore(tmpdir(), { keyPair: crypto.keyPair(crypto.hash(B('bee-vectors ' + seed))) })
  const bee = new Hyperbee(core, { keyEncoding: 'binary', valueEncoding: 'binary' })
  await bee.ready()
  return { core, bee }
}

function casFn(kind) {
  if (!kind) return undefined
  if (kind === 'never') return () => false
  if (kind === 'if-differs') {
    return (prev, next) => {
      const a = prev.value
      const b = next.value === undefined ? null : next.value
      if (a === null || b === null) return !(a === null && b === null)
      return !b4a.equals(a, b)
    }
  }
  throw new Error('unknown cas ' + kind)
}

// The view of `bee` that a step or read names (sub chain), or the bee itself.
function viewOf(bee, sub, seps) {
  let v = bee
  if (!sub) return v
  for (let i = 0; i < sub.length; i++) {
    v = v.sub(H(sub[i]), seps && seps[i] ? { sep: H(seps[i]) } : {})
  }
  return v
}

function prefixOf(sub, seps) {
  const parts = []
  for (let i = 0; i < sub.length; i++) parts.push(H(sub[i]), seps && seps[i] ? H(seps[i]) : b4a.alloc(1))
  return b4a.concat(parts)
}

// A JS model of the map, checked against every read at the latest version.
class Model {
  constructor() {
    this.map = new Map() // hex key -> hex value | null
    this.seen = new Set()
  }

  apply(op) {
    const k = op.key
    this.seen.add(k)
    if (op.op === 'del') {
      if (op.cas === 'never') return
      this.map.delete(k)
      return
    }
    if (op.cas === 'never' && this.map.has(k)) return
    if (op.cas === 'if-differs' && this.map.has(k) && this.map.get(k) === op.value) return
    this.map.set(k, op.value)
  }

  sorted() {
    return [...this.map.keys()].sort((a, b) => b4a.compare(H(a), H(b)))
  }
}

async function runOp(target, op) {
  const key = H(op.key)
  if (op.op === 'put') {
    const value = op.value === null ? undefined : H(op.value)
    const cas = casFn(op.cas)
    return cas ? target.put(key, value, { cas }) : target.put(key, value)
  }
  const cas = casFn(op.cas)
  return cas ? target.del(key, { cas }) : target.del(key)
}

// Runs `steps` on a fresh bee; returns the case without reads, plus the open bee.
async function runCase(name, seed, steps) {
  const { core, bee } = await openBee(seed)
  const model = new Model()
  const lengths = []
  const subOf = (step) => (step.sub ? prefixOf(step.sub, step.seps) : null)

  for (const step of steps) {
    const view = viewOf(bee, step.sub, step.seps)
    const pre = subOf(step)
    // through a sub, the op's key is given without the prefix; the step records the full key
    const rel = (op) => (pre ? { ...op, key: hex(H(op.key).subarray(pre.length)) } : op)
    if (step.op === 'batch') {
      const b = view.batch()
      for (const op of step.ops) await runOp(b, rel(op))
      await b.flush()
      for (const op of step.ops) model.apply(op)
    } else {
      await runOp(view, rel(step))
      model.apply(step)
    }
    lengths.push(core.length)
  }

  const blocks = []
  for (let i = 0; i < core.length; i++) blocks.push(hex(await core.get(i, { valueEncoding: 'binary' })))
  if (blocks.length) assert(blocks[0] === '0a086879706572626565', name + ': header block')

  // the latest version agrees with the model
  const latest = await collect(bee.createReadStream())
  const want = model.sorted()
  assert(latest.length === want.length, name + ': model size ' + latest.length + ' vs ' + want.length)
  for (let i = 0; i < want.length; i++) {
    assert(hex(latest[i].key) === want[i], name + ': model key ' + i)
    assert(hex(latest[i].value) === model.map.get(want[i]), name + ': model value ' + want[i])
  }

  return { core, bee, model, c: { name, seed, steps, blocks, lengths, reads: [] } }
}

// ---------------------------------------------------------------------------------------------
// Reads.

function rangeJ(r) {
  const o = {}
  for (const k of ['gt', 'gte', 'lt', 'lte']) if (r[k] !== undefined) o[k] = hex(r[k])
  return o
}

async function readGet(bee, version, key) {
  const snap = bee.checkout(version)
  const e = await snap.get(key)
  await snap.close()
  return { get: hex(key), version, expect: entryJ(e) }
}

async function readGetBySeq(bee, version, seq) {
  const snap = bee.checkout(version)
  const e = await snap.getBySeq(seq)
  await snap.close()
  return { getBySeq: seq, version, expect: { key: hex(e.key), value: hex(e.value) } }
}

async function readRange(bee, version, r) {
  const snap = bee.checkout(version)
  const opts = { ...r }
  const out = await collect(snap.createReadStream(opts))
  await snap.close()
  return {
    range: { ...rangeJ(r), reverse: !!r.reverse, limit: r.limit === undefined ? -1 : r.limit },
    version,
    expect: out.map(entryJ)
  }
}

async function readHistory(bee, version, h) {
  const snap = bee.checkout(version)
  const opts = { ...h }
  let expect = null
  let error
  try {
    expect = (await collect(snap.createHistoryStream(opts))).map((x) => ({ type: x.type, ...entryJ(x) }))
  } catch (err) {
    error = err.message.replace(/ \(discovery key: [^)]*\)/, '')
  }
  await snap.close()
  const o = { history: { ...h, reverse: !!h.reverse }, version, expect }
  if (error !== undefined) o.error = error
  return o
}

async function readDiff(bee, from, to, range, limit) {
  const snap = bee.checkout(to)
  const opts = { ...range }
  if (limit !== undefined) opts.limit = limit
  const out = await collect(snap.createDiffStream(from, opts))
  await snap.close()
  const d = { from, to, range: rangeJ(range) }
  if (limit !== undefined) d.limit = limit
  return { diff: d, expect: out.map((x) => ({ left: entryJ(x.left), right: entryJ(x.right) })) }
}

async function readSub(bee, version, sub, seps, what) {
  const snap = bee.checkout(version)
  const view = viewOf(snap, sub, seps)
  const o = { sub, seps: sub.map((_, i) => (seps && seps[i]) || '00'), prefix: hex(prefixOf(sub, seps)), version }
  if (what.get !== undefined) {
    o.get = hex(what.get)
    o.expect = entryJ(await view.get(what.get))
  } else {
    const r = what.range
    o.range = { ...rangeJ(r), reverse: !!r.reverse, limit: r.limit === undefined ? -1 : r.limit }
    o.expect = (await collect(view.createReadStream({ ...r }))).map(entryJ)
  }
  await snap.close()
  return o
}

// Bound keys for ranges: present keys, absent keys, and edges (empty, 00, ff).
function boundKeys(r, model, n) {
  const present = model.sorted()
  const out = []
  for (let i = 0; i < n; i++) {
    const t = r.int(10)
    if (t < 5 && present.length) out.push(H(r.pick(present)))
    else if (t < 8) out.push(r.bytes(1 + r.int(3)))
    else out.push(r.pick([b4a.alloc(0), H('00'), H('ff'), H('ffff')]))
  }
  return out
}

// A standard battery of reads at `version`, plus diffs between `versions`.
async function standardReads(bee, c, model, r, versions, opts = {}) {
  const reads = c.reads
  const keys = [...model.seen].map(H)
  const nGets = opts.gets || 12
  const latest = versions[versions.length - 1]

  for (const v of versions) {
    // gets: a sample of every key ever used, plus absent ones
    for (let i = 0; i < nGets; i++) {
      const k = keys.length && r.chance(0.8) ? r.pick(keys) : r.bytes(1 + r.int(3))
      reads.push(await readGet(bee, v, k))
    }
    if (v > 1) {
      reads.push(await readGetBySeq(bee, v, 1))
      reads.push(await readGetBySeq(bee, v, v - 1))
    }
    // ranges: every combination of lower (none/gt/gte) and upper (none/lt/lte) bound, both
    // directions, with and without a limit
    const big = opts.fullScans !== false || v === latest
    for (const lo of [null, 'gt', 'gte']) {
      for (const hi of [null, 'lt', 'lte']) {
        for (const reverse of [false, true]) {
          const [a, b] = boundKeys(r, model, 2).sort((x, y) => b4a.compare(x, y))
          const q = { reverse }
          if (lo) q[lo] = a
          if (hi) q[hi] = r.chance(0.15) ? a : b
          if (!big) q.limit = 10 + r.int(6)
          reads.push(await readRange(bee, v, q))
          const lim = r.pick([0, 1, 3, 7])
          reads.push(await readRange(bee, v, { ...q, limit: lim }))
        }
      }
    }
    // both bounds of one side: JS takes gt over gte and lt over lte
    {
      const [a, b, c2, d] = boundKeys(r, model, 4).sort((x, y) => b4a.compare(x, y))
      reads.push(await readRange(bee, v, { gt: b, gte: a, limit: 6 }))
      reads.push(await readRange(bee, v, { lt: c2, lte: d, reverse: true, limit: 6 }))
    }
    // history
    const hs = [
      { gte: -3 },
      { gte: -3, reverse: true },
      { gt: -4, limit: 2 },
      { lt: -1, limit: 4 },
      { lte: -2, reverse: true, limit: 4 },
      { gte: Math.max(1, v - 6), lt: v },
      { gte: Math.max(1, v - 6), lte: v - 2, reverse: true },
      { gt: Math.max(0, v - 4) },
      { lt: 0 },
      { lte: 0 },
      { gte: 0, limit: 3 },
      { gt: -1 },
      { lte: -1, limit: 2, reverse: true },
      { limit: 0 }
    ]
    if (v <= (opts.fullHistoryUpTo || 80)) hs.push({}, { reverse: true })
    for (const h of hs) reads.push(await readHistory(bee, v, h))
  }
  // JS throws when a negative bound reaches below block 0 or 0 is block 0 (the header)
  reads.push(await readHistory(bee, latest, { gte: -latest }))
  reads.push(await readHistory(bee, latest, { gte: -latest - 1 }))
  reads.push(await readHistory(bee, latest, { gte: -latest, reverse: true }))

  // diffs: each step to the next version (and one back), the first to the latest, the latest to
  // itself; without a range, and with random ranges
  const pairs = []
  for (let i = 0; i + 1 < versions.length; i++) pairs.push([versions[i], versions[i + 1]])
  if (versions.length > 2) pairs.push([versions[versions.length - 1], versions[versions.length - 2]])
  pairs.push([versions[0], latest], [latest, latest])
  for (const [from, to] of pairs) {
    const [a, b] = boundKeys(r, model, 2).sort((x, y) => b4a.compare(x, y))
    const all = [{}, { gte: a, lt: b }, { gt: a }, { lte: b }]
    const ranges = from === versions[0] && to === versions[1] ? all : [all[0], r.pick(all.slice(1))]
    for (const rg of ranges) {
      const lim = !Object.keys(rg).length && opts.fullScans === false ? 25 : undefined
      reads.push(await readDiff(bee, from, to, rg, lim))
    }
  }
  reads.push(await readDiff(bee, versions[0], latest, {}, 3))
}

// Versions to read at: 1, a few step lengths, and the latest.
function pickVersions(c, n) {
  const lens = [...new Set(c.lengths)].filter((x) => x > 1)
  const out = new Set([1])
  for (let i = 1; i <= n; i++) {
    const l = lens[Math.floor((lens.length - 1) * (i / n))]
    if (l !== undefined) out.add(l)
  }
  return [...out].sort((a, b) => a - b)
}

// ---------------------------------------------------------------------------------------------
// Cases.

const cases = []

async function finish(run, r, versions, opts) {
  await standardReads(run.bee, run.c, run.model, r, versions, opts)
  cases.push(run.c)
  await run.bee.close()
  await run.core.close()
}

const put = (k, v, cas) => {
  const o = { op: 'put', key: hex(B(k)), value: v === null ? null : hex(B(v)) }
  if (cas) o.cas = cas
  return o
}
const del = (k, cas) => {
  const o = { op: 'del', key: hex(B(k)) }
  if (cas) o.cas = cas
  return o
}
const batch = (...ops) => ({ op: 'batch', ops })

// The golden sequence of data-structures.md §2.10.
async function golden() {
  const steps = [put('a', '1')]
  for (const c of 'bcdefghi') steps.push(put(c, c))
  steps.push(del('e'), put('a', '1'), batch(put('x', 'X'), put('y', 'Y'), del('a')))
  const run = await runCase('golden', 1, steps)
  const want = {
    0: '0a086879706572626565',
    1: '0a050a030a0101120161 1a0131',
    9: '0a1b 0a09 0a0105 1204 09010902 0a06 0a04 01020304 0a06 0a04 06070809 120169 1a0169',
    10: '0a0c 0a0a 0a08 0102030406070809 120165',
    11: '0a0c 0a0a 0a08 0b02030406070809 120161 1a0131',
    12: '0a00 120178 1a0158',
    13: '0a00 120179 1a0159',
    14: '0a1b 0a09 0a0107 1204 0e010e02 0a06 0a04 02030406 0a06 0a04 08090c0d 120161'
  }
  for (const [i, h] of Object.entries(want)) {
    assert(run.c.blocks[i] === h.replace(/ /g, ''), 'golden block ' + i + ': ' + run.c.blocks[i])
  }
  const r = rng(1)
  assert(run.c.lengths.join() === "2,3,4,5,6,7,8,9,10,11,12,15", "golden lengths " + run.c.lengths)
  await finish(run, r, [1, 2, 10, 11, 12, 15])
}

// Hand-picked edge cases: values, keys, batches, cas.
async function edges() {
  // empty bee: a del on an empty core still writes the header; put(k) vs put(k, empty)
  {
    const steps = [
      { op: 'del', key: '61' },
      { op: 'put', key: '', value: '' },
      { op: 'put', key: '00', value: null },
      { op: 'put', key: 'ff', value: 'ff' },
      { op: 'put', key: '0000', value: '00' },
      { op: 'put', key: 'ffff', value: null },
      { op: 'put', key: '00ff', value: '' },
      { op: 'put', key: '', value: null },
      { op: 'put', key: '00', value: '' },
      { op: 'put', key: 'ff', value: 'ff' },
      { op: 'put', key: 'ff', value: 'ff' },
      { op: 'del', key: 'fe' },
      { op: 'del', key: '' },
      { op: 'del', key: '' },
      { op: 'put', key: '6162', value: '01' },
      { op: 'put', key: '616263', value: '02' },
      { op: 'put', key: '61', value: '03' },
      { op: 'put', key: '6161', value: '04' },
      { op: 'put', key: '616200', value: '05' },
      { op: 'put', key: '6162ff', value: '06' },
      { op: 'del', key: '6162' },
      { op: 'put', key: '', value: '0102' }
    ]
    const run = await runCase('values-and-keys', 2, steps)
    await finish(run, rng(2), pickVersions(run.c, 4))
  }
  // batches
  {
    const k = (i) => 'k' + String(i).padStart(2, '0')
    const grow = []
    for (let i = 0; i < 20; i++) grow.push(put(k(i), 'v' + i))
    const steps = [
      batch(...grow.slice(0, 12)), // first op is a batch: the header is its own append first
      batch(), // empty batch: nothing
      batch(del('zz'), del('k99')), // dels of absent keys: nothing
      batch(put(k(30), 'a'), del(k(30))), // put then del in one batch
      batch(put(k(31), 'a'), put(k(31), 'b'), put(k(31), 'b')), // same key thrice
      batch(put(k(32), null), put(k(33), 'x')), // put(k) in a non-final block: history says del
      batch(put(k(34), null)),
      batch(...grow.slice(12)),
      batch(del(k(0)), del(k(1)), del(k(2)), put(k(0), 'again'), del(k(5)), del(k(6))),
      batch(put(k(3), 'v3', 'never'), put(k(40), 'n')), // cas false mid-batch
      batch(put(k(4), 'v4', 'if-differs'), put(k(7), 'new', 'if-differs'), put(k(41), 'z', 'never')),
      batch(del(k(8), 'never'), del(k(9))),
      batch(put(k(10), 'A'), del(k(10)), put(k(10), 'B'), del(k(11)), put(k(11), null)),
      batch(...Array.from({ length: 25 }, (_, i) => del(k(i)))),
      batch(...Array.from({ length: 25 }, (_, i) => (i % 3 ? put(k(i), 'w' + i) : del(k(i))))),
      put(k(2), 'single'),
      del(k(2))
    ]
    const run = await runCase('batches', 3, steps)
    await finish(run, rng(3), pickVersions(run.c, 6))
  }
  // cas
  {
    const steps = []
    for (let i = 0; i < 30; i++) steps.push(put('c' + String(i).padStart(2, '0'), 'v'))
    const run0 = steps.length
    steps.push(
      put('c05', 'x', 'never'), // existing key in a leaf: no append
      put('new', 'x', 'never'), // new key: cas is not called, appended
      put('c05', 'v', 'if-differs'), // same value: no append
      put('c05', 'w', 'if-differs'), // differs: appended
      put('c06', null, 'if-differs'), // v -> null: differs
      put('c06', null, 'if-differs'), // null -> null: same, no append
      put('c06', '', 'if-differs'), // null -> empty: differs
      put('c06', '', 'if-differs'), // empty -> empty: same
      del('c07', 'never'), // no append
      del('absent', 'never'), // not found: no append
      put('c07', 'v', 'if-differs'),
      put('c07', 'v') // plain put of the same value: appended
    )
    // cas on keys that sit in internal nodes (the root of a 30-key tree is internal)
    const run = await runCase('cas', 4, steps)
    const internal = await internalKeys(run.core, run.c.lengths[run0 - 1])
    await finish(run, rng(4), pickVersions(run.c, 4))
    const steps2 = steps.slice(0, run0)
    for (const key of internal) {
      steps2.push({ op: 'put', key, value: hex(B('v')), cas: 'if-differs' })
      steps2.push({ op: 'put', key, value: hex(B('x')), cas: 'never' })
      steps2.push({ op: 'put', key, value: hex(B('y')), cas: 'if-differs' })
      steps2.push({ op: 'del', key, cas: 'never' })
    }
    // in a batch, a cas that refuses a key of an internal node still marks the path changed
    steps2.push(batch({ op: 'put', key: internal[0], value: '', cas: 'never' }, put('zz', 'z')))
    steps2.push(batch(put('c00', 'q'), { op: 'put', key: internal[1], value: '', cas: 'never' }, put('c29', 'q')))
    const run2 = await runCase('cas-internal', 5, steps2)
    await finish(run2, rng(5), pickVersions(run2.c, 4))
  }
  // a three-level tree: a refused cas on a key of a middle node (not the root) marks the path
  // down to it changed; in a batch those nodes are then written by the next op of the batch
  {
    const key = (i) => 'd' + String(i).padStart(3, '0')
    const steps = [batch(...Array.from({ length: 70 }, (_, i) => put(key(i), 'v'))), put(key(70), 'v')]
    const probe = await runCase('probe', 8, steps)
    const mids = await internalKeys(probe.core, probe.c.lengths[1], true)
    await probe.bee.close()
    await probe.core.close()
    assert(mids.length >= 2, 'a three-level tree')
    const first = mids[0]
    const last = key(70)
    steps.push(
      { op: 'put', key: first, value: hex(B('x')), cas: 'never' },
      put(last, 'w'),
      batch({ op: 'put', key: first, value: hex(B('x')), cas: 'never' }, put(last, 'y')),
      batch(put(key(0), 'z'), { op: 'put', key: mids[mids.length - 1], value: '', cas: 'never' }, put(key(35), 'z')),
      batch({ op: 'del', key: first, cas: 'never' }, put(last, 'q'))
    )
    const run = await runCase('cas-deep', 8, steps)
    await finish(run, rng(8), pickVersions(run.c, 4))
  }
}

// The keys (hex) of the internal (non-leaf) nodes of the tree at `version` (without the root's
// when `belowRoot`).
async function internalKeys(core, version, belowRoot = false) {
  const Node = messages.Node
  const Yolo = messages.YoloIndex
  const out = []
  async function walk(seq, offset) {
    const blk = Node.decode(await core.get(seq, { valueEncoding: 'binary' }))
    const lvl = Yolo.decode(blk.index).levels[offset]
    if (!lvl.children.length) return
    if (!belowRoot || seq !== version - 1 || offset !== 0) for (const k of lvl.keys) out.push(hex(Node.decode(await core.get(k, { valueEncoding: 'binary' })).key))
    for (let i = 0; i < lvl.children.length; i += 2) await walk(lvl.children[i], lvl.children[i + 1])
  }
  await walk(version - 1, 0)
  return out
}

// Subs: puts and dels through sub views (steps record the full key), reads through them.
async function subs() {
  const n = (s) => hex(B(s))
  const S = [
    { sub: [n('name')] },
    { sub: [n('a'), n('b')] },
    { sub: [n('c')], seps: ['01'] },
    { sub: [n('c'), n('d')], seps: ['01'] }, // the nested sub uses the bee's sep (00), not 01
    { sub: [n('e')], seps: ['ff'] } // the default upper bound wraps ff to 00: the view reads nothing
  ]
  const r = rng(6)
  const steps = []
  const rel = ['', '00', '0001', 'ff', '61', '6162', '62', '00ff', '01']
  for (let round = 0; round < 3; round++) {
    for (const s of S) {
      const pre = prefixOf(s.sub, s.seps)
      for (const k of rel) {
        if (r.chance(0.25)) continue
        steps.push({ op: 'put', key: hex(b4a.concat([pre, H(k)])), value: hex(r.bytes(r.int(3))), ...s })
      }
      if (round > 0) steps.push({ op: 'del', key: hex(b4a.concat([pre, H(r.pick(rel))])), ...s })
    }
    // keys of the bee itself around the sub prefixes
    for (const k of ['6e616d65', '6e616d6500', '6e616d6501', '61', '6100', '610062', '63', '6300', '630100', '65ff']) {
      if (r.chance(0.5)) steps.push({ op: 'put', key: k, value: hex(r.bytes(1)) })
    }
  }
  const s0 = S[0]
  const pre0 = prefixOf(s0.sub)
  steps.push({
    op: 'batch',
    ...s0,
    ops: [
      { op: 'put', key: hex(b4a.concat([pre0, H('7a')])), value: '7a' },
      { op: 'del', key: hex(b4a.concat([pre0, H('61')])) },
      { op: 'put', key: hex(b4a.concat([pre0, H('')])), value: null }
    ]
  })
  const run = await runCase('subs', 6, steps)
  const versions = pickVersions(run.c, 3)
  for (const v of versions) {
    for (const s of S) {
      for (const k of rel.concat(['7a', '63'])) run.c.reads.push(await readSub(run.bee, v, s.sub, s.seps, { get: H(k) }))
      const qs = [{}, { reverse: true }, { gt: H('00') }, { gte: H('') }, { lt: H('62') }, { lte: H('ff'), reverse: true }, { gte: H('0001'), lte: H('6162'), limit: 2 }, { gt: H('61'), limit: 1, reverse: true }]
      for (const q of qs) run.c.reads.push(await readSub(run.bee, v, s.sub, s.seps, { range: q }))
    }
  }
  await finish(run, r, versions, {})
}

// Seeded random sequences.
function keySpace(r, n) {
  const seen = new Set()
  const out = []
  const prefixes = [r.bytes(1), r.bytes(2), H('00'), H('ff')]
  while (out.length < n) {
    const t = r.int(10)
    let k
    if (t < 4) k = b4a.concat([r.pick(prefixes), r.bytes(r.int(3))])
    else if (t < 9) k = r.bytes(1 + r.int(3))
    else k = r.pick([b4a.alloc(0), H('00'), H('ff'), H('0000'), H('ffff'), H('00ff')])
    const h = hex(k)
    if (seen.has(h)) continue
    seen.add(h)
    out.push(h)
  }
  return out
}

function randomValue(r, model, key) {
  const t = r.int(20)
  if (t === 0) return null
  if (t === 1) return ''
  if (t < 4 && model.map.has(key)) return model.map.get(key) // same value again
  return hex(r.bytes(1 + r.int(6)))
}

function randomOp(r, ks, model, pPut) {
  const key = r.pick(ks)
  let op
  if (r.chance(pPut)) op = { op: 'put', key, value: randomValue(r, model, key) }
  else op = { op: 'del', key: model.map.size && r.chance(0.85) ? r.pick([...model.map.keys()]) : key }
  if (r.chance(0.04)) op.cas = op.op === 'put' ? r.pick(['never', 'if-differs']) : 'never'
  return op
}

async function randomCase(name, seed, { ops, keys, batchP, maxBatch, phases }) {
  const r = rng(seed)
  const ks = keySpace(r, keys)
  const model = new Model()
  const steps = []
  let count = 0
  while (count < ops) {
    const phase = phases[Math.floor((count / ops) * phases.length)]
    if (r.chance(batchP)) {
      const n = 1 + r.int(maxBatch)
      const bops = []
      for (let i = 0; i < n; i++) {
        // bias towards keys already in this batch, so dels hit puts of the same batch
        let op = randomOp(r, ks, model, phase)
        if (bops.length && r.chance(0.2)) op = { ...op, key: r.pick(bops).key }
        bops.push(op)
        model.apply(op)
      }
      steps.push({ op: 'batch', ops: bops })
      count += n
    } else {
      const op = randomOp(r, ks, model, phase)
      steps.push(op)
      model.apply(op)
      count++
    }
  }
  const run = await runCase(name, seed, steps)
  await finish(run, r, pickVersions(run.c, 4), { gets: 16, fullScans: keys <= 80, fullHistoryUpTo: 120 })
}

async function randoms() {
  await randomCase('random-small', 101, { ops: 200, keys: 24, batchP: 0, maxBatch: 1, phases: [0.7, 0.4] })
  await randomCase('random-grow-shrink', 102, {
    ops: 1200,
    keys: 300,
    batchP: 0,
    maxBatch: 1,
    phases: [0.9, 0.9, 0.15, 0.15, 0.8, 0.1, 0.1, 0.6]
  })
  await randomCase('random-batches', 103, { ops: 800, keys: 60, batchP: 0.6, maxBatch: 24, phases: [0.8, 0.3, 0.7, 0.2] })
  await randomCase('random-2000', 104, { ops: 2000, keys: 120, batchP: 0.1, maxBatch: 6, phases: [0.75, 0.5, 0.3, 0.6] })
}

// Block 0 as JS writes it: Header.encode of lib/messages.js, and what a real bee appends with the
// `metadata` option (written by its first put).
async function headers() {
  const out = []
  const feed = crypto.hash(B('content feed'))
  const variants = [
    {},
    { metadata: { contentFeed: null } },
    { metadata: { contentFeed: feed } },
    { metadata: { userData: B('user data') } },
    { metadata: { contentFeed: feed, userData: b4a.alloc(0) } }
  ]
  for (const v of variants) {
    const bytes = hex(messages.Header.encode({ protocol: 'hyperbee', ...v }))
    const core = new Hypercore(tmpdir(), { keyPair: crypto.keyPair(crypto.hash(B('header'))) })
    const bee = new Hyperbee(core, { keyEncoding: 'binary', valueEncoding: 'binary', ...v })
    await bee.put(B('k'), B('v'))
    const block0 = hex(await core.get(0, { valueEncoding: 'binary' }))
    assert(block0 === bytes, 'header written by a bee: ' + block0)
    await bee.close()
    await core.close()
    const metadata = v.metadata
      ? { contentFeed: hex(v.metadata.contentFeed), userData: hex(v.metadata.userData) }
      : null
    out.push({ protocol: 'hyperbee', metadata, bytes })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// encodings.json

function encodings() {
  const vectors = []
  const strings = ['', 'a', 'hello world', 'é', '€', 'naïve ✓', '日本語', '😀', '\u0000\u007f\u0080\u00ff', 'A\nB\tC"\\']
  for (const enc of ['binary', 'utf-8', 'ascii']) {
    for (const s of strings) vectors.push({ encoding: enc, input: s, encoded: hex(codecs(enc).encode(s)) })
  }
  for (const s of ['', '00', 'deadbeef', 'DEADBEEF', 'abc', 'abz1', 'zz', '0g12']) {
    vectors.push({ encoding: 'hex', input: s, encoded: hex(codecs('hex').encode(s)) })
  }
  for (const s of ['', 'YQ==', 'YWI=', 'YWJj', 'YQ', 'Y W J j', '-_-_', '+/+/', 'YWJj====YQ', 'a', '!!']) {
    vectors.push({ encoding: 'base64', input: s, encoded: hex(codecs('base64').encode(s)) })
  }
  const json = [
    'null', 'true', 'false', '0', '-0', '1', '-1', '1.5', '0.1', '1e21', '1e20', '123456789012345678901',
    '1e-7', '1e-6', '0.000001', '1.7976931348623157e308', '5e-324', '9007199254740993', '100', '1E2',
    '2.50', '""', '"a"', '"é€😀"', '"\\u00e9"', '"\\u0000\\u001f\\u007f"', '"\\/"', '"a\\"b\\\\c\\n\\t"',
    '"\\u2028\\u2029"', '[]', '{}', '[1,"a",null,[true]]', '{"b":1,"a":2}', '{"a":{"z":1,"y":[1,{"x":null}]}}',
    '{"2":"two","1":"one","b":"b","a":"a"}', '{"a":1,"a":2}', ' { "sp" : [ 1 , 2 ] } ', '{"k":-0.0}'
  ]
  for (const enc of ['json', 'ndjson']) {
    for (const t of json) {
      const v = JSON.parse(t)
      vectors.push({ encoding: enc, input: v, inputText: t, encoded: hex(codecs(enc).encode(v)) })
    }
  }
  write('encodings.json', { codecs: pkgVersion('codecs'), vectors }, 2)
}

// ---------------------------------------------------------------------------------------------
// extension.json

function fieldsJ(o) {
  const out = {}
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue
    out[k] = b4a.isBuffer(v) ? hex(v) : v
  }
  return out
}

async function extension() {
  const E = messages.Extension
  const list = []
  const add = (message, fields) => {
    const bytes = hex(E.encode({ [message]: fields }))
    list.push({ message, fields: fieldsJ(fields), bytes })
  }
  add('get', { version: 5, key: B('a') })
  add('get', { version: 0, key: B('') })
  add('get', { version: 300, key: H('00ff') })
  add('get', { version: 5 })
  add('get', { key: B('k') })
  add('get', {})
  add('cache', { start: 2, end: 10, blocks: [9, 2, 4] })
  add('cache', { start: 0, end: 0, blocks: [] })
  add('cache', { start: 128, end: 100000, blocks: [99999, 128, 300, 16384] })
  add('cache', { start: 5, end: 6 })
  add('iterator', { version: 14, gte: B('a'), limit: 0, reverse: false, checkpoint: [14, 0, 1] })
  add('iterator', { version: 14, gt: B('a'), lt: B('z'), limit: 10, reverse: true, checkpoint: [] })
  add('iterator', { version: 2, gte: B(''), lte: H('ff'), limit: 1, reverse: false, checkpoint: [300, 2, 17, 5, 0, 0] })
  add('iterator', { version: 9 })
  add('iterator', {})
  add('iterator', { version: 7, gte: B('a'), gt: B('b'), lte: B('y'), lt: B('z'), limit: 200, reverse: true, checkpoint: [1, 2, 3] })
  // several messages in one
  {
    const fields = { cache: { start: 1, end: 3, blocks: [1, 2] }, get: { version: 3, key: B('x') } }
    list.push({
      message: 'extension',
      fields: { cache: fieldsJ(fields.cache), get: fieldsJ(fields.get) },
      bytes: hex(E.encode(fields))
    })
    const empty = {}
    list.push({ message: 'extension', fields: {}, bytes: hex(E.encode(empty)) })
  }

  // snapshots of real range iterators (what the requester broadcasts): a bee of 100 keys
  const { core, bee } = await openBee(7)
  const b = bee.batch()
  for (let i = 0; i < 100; i++) await b.put(B('k' + String(i).padStart(3, '0')), B('v' + i))
  await b.flush()
  for (let i = 0; i < 100; i += 7) await bee.put(B('k' + String(i).padStart(3, '0')), B('w' + i))
  const steps = []
  for (let i = 0; i < core.length; i++) steps.push(hex(await core.get(i, { valueEncoding: 'binary' })))
  const snaps = []
  const ranges = [
    {},
    { reverse: true },
    { gte: B('k020') },
    { gt: B('k020'), lt: B('k080'), limit: 30 },
    { lte: B('k050'), reverse: true, limit: 40 },
    { gte: B('k0555') }
  ]
  for (const q of ranges) {
    for (const nexts of [0, 1, 5, 13, 40]) {
      const snap = bee.checkout(core.length)
      const ite = snap.createRangeIterator({ ...q, extension: false })
      await ite.open()
      for (let i = 0; i < nexts; i++) await ite.next()
      const s = ite.snapshot(core.length)
      await ite.close()
      await snap.close()
      // as HyperbeeExtension.iterator sends it: nothing when ended or limit 0, limit -1 -> 0
      const sent = { ...s }
      let bytes = null
      if (!sent.ended && sent.limit !== 0) {
        if (sent.limit === -1) sent.limit = 0
        bytes = hex(E.encode({ iterator: sent }))
      }
      snaps.push({
        range: { ...rangeJ(q), reverse: !!q.reverse, limit: q.limit === undefined ? -1 : q.limit },
        nexts,
        snapshot: {
          version: s.version,
          gte: hex(s.gte),
          gt: hex(s.gt),
          lte: hex(s.lte),
          lt: hex(s.lt),
          limit: s.limit,
          reverse: s.reverse,
          ended: s.ended,
          checkpoint: s.checkpoint
        },
        bytes
      })
    }
  }
  await bee.close()
  await core.close()
  write('extension.json', { messages: list, snapshotBee: { blocks: steps }, snapshots: snaps }, 3)
}

// ---------------------------------------------------------------------------------------------

try {
  await golden()
  await edges()
  await subs()
  await randoms()
  write('ops.json', { headers: await headers(), cases }, 4)
  encodings()
  await extension()
} finally {
  fs.rmSync(TMP, { recursive: true, force: true })
}
