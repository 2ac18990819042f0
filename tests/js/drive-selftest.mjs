#!/usr/bin/env node
// JS <-> JS self-test of drive-peer.mjs (hyperdrive 13.3.4 / hyperblobs 2.12.1 on corestore
// 7.12.5 and hypercore 11.37.1 on both sides): two drive-peer processes over loopback TCP.
// Proves the driver works before the Rust tests replace one side of it.
//
//   node tests/js/drive-selftest.mjs [--verbose]
//
// Scenarios, in order:
//   keys      two stores with the same primary key make drives with the same key and content
//             key (the db core is the store's core "db"); another primary key, other keys
//   fill      the writer fills its drive with the drive-data `interop` preset (1,000 files,
//             ~19 MiB): version, blobs length, checksum equal to drive-data's expected one
//   clone     the reader opens the drive by key over one connection: same content key and
//             version after update; nothing of the blobs core downloaded yet
//   sparse    the reader reads one multi-block file: exactly its blocks are downloaded, its
//             bytes are the generated ones; a range read of another file fetches only the
//             blocks of that range
//   list      list (recursive, in UTF-8 byte order of the paths: the generated paths sorted
//             so), list non-recursive and readdir of the root, entry, exists, a symlink's
//             entry and get (null: not followed)
//   download  download('/') fetches every block of both cores; checksum equal to the writer's
//   watch     the reader watches a folder; the writer puts a file in it, then deletes it: the
//             reader's watch reports each change (the key, left/right entries); a put outside
//             the folder is not reported
//   mirror    the reader mirrors its clone to a folder (mirror-drive counts 1,001 adds and the
//             total bytes), a fresh third drive mirrors that folder in (same checksum:
//             executables and symlinks kept); after changing one file and deleting another in
//             the folder, a dry run lists exactly those two (prune), without applying them
// Prints one line per check, then one summary line; exits 1 on any failure (about 13 s).

import { fileURLToPath } from 'node:url'
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { preset, files as dataFiles, content, range, expectedChecksum, compareUtf8 } from './drive-data.mjs'
import { ChildPeer, Checks } from './child-peer.mjs'

const DIR = path.dirname(fileURLToPath(import.meta.url))
const PEER = path.join(DIR, 'drive-peer.mjs')
const VERBOSE = process.argv.includes('--verbose')
const T = 30000

const checks = new Checks()
const check = checks.check.bind(checks)

const PK_A = '44'.repeat(32)
const PK_B = '55'.repeat(32)
const P = preset('interop')
const FILES = dataFiles(P)

class DrivePeer extends ChildPeer {
  constructor(name) {
    super(name, PEER, ['--timeout', '120000'], VERBOSE)
  }

  // Sends a command; a reply with an error fails the check named after it (and returns it).
  async ok(obj, timeout = T) {
    const r = await this.cmd(obj, timeout)
    check(r.error === undefined, `${this.name}: ${obj.op} answers`, r.error === undefined ? undefined : r)
    return r
  }

  async closes() {
    return (await this.close()) === 0
  }
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-drive-selftest-'))
const started = Date.now()
const peers = []

function peer(name) {
  const p = new DrivePeer(name)
  peers.push(p)
  return p
}

async function keys() {
  console.log('keys')
  const a = peer('keys-a')
  const b = peer('keys-b')
  const c = peer('keys-c')
  for (const [p, pk] of [[a, PK_A], [b, PK_A], [c, PK_B]]) await p.ok({ op: 'open', primaryKey: pk })
  const da = await a.ok({ op: 'drive' })
  const db = await b.ok({ op: 'drive' })
  const dc = await c.ok({ op: 'drive' })
  check(/^[0-9a-f]{64}$/.test(da.key) && da.key === db.key && da.writable, 'same primary key, same drive key', [da, db])
  check(/^[0-9a-f]{64}$/.test(da.contentKey) && da.contentKey === db.contentKey && da.contentKey !== da.key, 'same content key (not the drive key)', [da.contentKey, db.contentKey])
  check(dc.key !== da.key && dc.contentKey !== da.contentKey, 'another primary key, other keys')
  check(da.version === 1 && da.db.length === 0 && da.blobs.length === 0, 'a fresh drive: version 1, empty cores (hyperbee writes its header with the first put)', da)
  for (const p of [a, b, c]) check(await p.closes(), `${p.name} closes, exit 0`)
}

async function fill(w) {
  console.log('fill')
  await w.ok({ op: 'open', primaryKey: PK_A })
  const d = await w.ok({ op: 'drive' })
  const f = await w.ok({ op: 'fill', drive: d.drive, preset: 'interop' }, 120000)
  const want = expectedChecksum(P)
  check(f.files === want.files && f.symlinks === want.symlinks && f.bytes === want.bytes, `fill: ${want.files} files, ${want.symlinks} symlinks, ${want.bytes} bytes`, f)
  check(f.version === 1 + 1000 && f.db.length === 1001, 'version = 1 + one put per file', f)
  const sum = await w.ok({ op: 'checksum', drive: d.drive }, 60000)
  check(sum.sha256 === want.sha256 && sum.count === 1000, "the writer's checksum is drive-data's", [sum, want])
  const { port } = await w.ok({ op: 'listen' })
  return { d, f, port, sum }
}

async function clone(r, w, port) {
  console.log('clone')
  await r.ok({ op: 'open', primaryKey: PK_B })
  await r.ok({ op: 'connect', port })
  const d = await r.ok({ op: 'drive', key: w.d.key, update: true })
  check(d.key === w.d.key && d.contentKey === w.d.contentKey, 'the clone has the same key and content key', [d, w.d])
  check(d.version === w.f.version && !d.writable, 'same version after update, read-only', d)
  check(d.blobs !== null && d.blobs.length === w.f.blobs.length && d.blobs.downloaded === 0, 'blobs core known, nothing of it downloaded', d.blobs)
  return d
}

const blocksOf = (size) => Math.ceil(size / 65536)

async function sparse(r, h) {
  console.log('sparse')
  const big = FILES.find((f) => f.kind === 'file' && f.size > 3 * 65536)
  const e = await r.ok({ op: 'entry', drive: h, path: big.path })
  check(e.entry && e.entry.value.blob && e.entry.value.blob.byteLength === big.size && e.entry.value.blob.blockLength === blocksOf(big.size), `entry of ${big.path}: ${big.size} bytes in ${blocksOf(big.size)} blocks`, e)
  const before = (await r.ok({ op: 'info', drive: h })).blobs.downloaded
  const g = await r.ok({ op: 'get', drive: h, path: big.path })
  const after = await r.ok({ op: 'info', drive: h })
  check(g.byteLength === big.size && Buffer.from(g.content, 'base64').equals(content(P, big)), 'its content is the generated one', g.byteLength)
  check(after.blobs.downloaded - before === blocksOf(big.size), `only its ${blocksOf(big.size)} blocks downloaded`, [before, after.blobs])
  // A range read in another big file: start in block 1, 70,000 bytes -> blocks 1..2.
  const other = FILES.find((f) => f.kind === 'file' && f.size > 3 * 65536 && f !== big)
  const s = await r.ok({ op: 'get', drive: h, path: other.path, start: 65536 + 100, length: 70000 })
  const after2 = await r.ok({ op: 'info', drive: h })
  check(s.byteLength === 70000 && Buffer.from(s.content, 'base64').equals(range(P, other, 65636, 70000)), 'a range read returns those bytes', s.byteLength)
  check(after2.blobs.downloaded - after.blobs.downloaded === 2, 'and downloads only the 2 blocks of the range', [after.blobs, after2.blobs])
}

async function list(r, h) {
  console.log('list')
  const want = FILES.map((f) => f.path).sort(compareUtf8)
  const l = await r.ok({ op: 'list', drive: h, keysOnly: true }, 60000)
  check(l.count === 1000 && JSON.stringify(l.keys) === JSON.stringify(want), 'list: every path, in UTF-8 byte order', l.keys && l.keys.slice(0, 5))
  const js = [...want].sort()
  check(JSON.stringify(js) !== JSON.stringify(want), '(that order differs from JS string order here: fullwidth vs emoji)')
  const top = new Set(FILES.map((f) => f.path.split('/')[1]))
  const rd = await r.ok({ op: 'readdir', drive: h })
  check(rd.names && rd.names.length === top.size && rd.names.every((n) => top.has(n)), `readdir /: ${top.size} names`, rd.names)
  const shallow = await r.ok({ op: 'list', drive: h, recursive: false })
  const files = FILES.filter((f) => f.depth === 0).length
  check(shallow.count === top.size, `list / non-recursive: one entry per name (${top.size})`, shallow.count)
  check(shallow.entries.filter((e) => !e.key.slice(1).includes('/')).length === files, `  of which ${files} files at the root`)
  const link = FILES.find((f) => f.kind === 'symlink')
  const le = await r.ok({ op: 'entry', drive: h, path: link.path })
  check(le.entry && le.entry.value.linkname === link.linkname && le.entry.value.blob === null, `symlink entry: ${link.path} -> ${link.linkname}`, le)
  const lg = await r.ok({ op: 'get', drive: h, path: link.path })
  check(lg.content === null, 'get of a symlink: null (not followed)', lg)
  const ex = await r.ok({ op: 'exists', drive: h, path: '/no/such/file' })
  check(ex.exists === false, 'exists of a missing path: false')
  const meta = FILES.find((f) => f.metadata !== null)
  const me = await r.ok({ op: 'entry', drive: h, path: meta.path })
  check(me.entry && JSON.stringify(me.entry.value.metadata) === JSON.stringify(meta.metadata), 'metadata kept', me.entry && me.entry.value)
  const exe = FILES.find((f) => f.executable)
  const xe = await r.ok({ op: 'entry', drive: h, path: exe.path })
  check(xe.entry && xe.entry.value.executable === true, 'executable flag kept')
}

async function download(r, h, wsum, wf) {
  console.log('download')
  await r.ok({ op: 'download', drive: h }, 60000)
  const i = await r.ok({ op: 'info', drive: h })
  check(i.db.contiguousLength === i.db.length && i.blobs.contiguousLength === wf.blobs.length, 'download("/"): every block of both cores', i)
  const sum = await r.ok({ op: 'checksum', drive: h }, 60000)
  check(sum.sha256 === wsum.sha256, 'the clone checksum equals the writer checksum', [sum, wsum])
}

async function watch(r, w, rh, wh) {
  console.log('watch')
  const folder = '/docs'
  const wr = await r.ok({ op: 'watch', drive: rh, folder })
  const base = r.events.length
  const changes = () => r.events.slice(base).filter((e) => e.event === 'change' && e.watch === wr.watch)
  await w.ok({ op: 'put', drive: wh, path: '/docs/live.txt', content: 'hello live' })
  let ok = await r.waitUntil(() => changes().length >= 1, 'a change event', 15000).then(() => true, () => false)
  const c1 = changes()[0]
  check(ok && c1.changes.length === 1 && c1.changes[0].key === '/docs/live.txt' && c1.changes[0].left && c1.changes[0].right === null, 'a put in the folder is seen live by the reader', c1)
  check(ok && c1.version === c1.previous + 1, '  (version = previous + 1)', c1)
  const g = await r.ok({ op: 'get', drive: rh, path: '/docs/live.txt', encoding: 'utf8' })
  check(g.content === 'hello live', '  and read', g)
  await w.ok({ op: 'put', drive: wh, path: '/src/elsewhere.txt', content: 'not watched' })
  await w.ok({ op: 'del', drive: wh, path: '/docs/live.txt' })
  ok = await r.waitUntil(() => changes().length >= 2, 'a second change event', 15000).then(() => true, () => false)
  const all = changes()
  const c2 = all[1]
  check(ok && c2.changes.length === 1 && c2.changes[0].key === '/docs/live.txt' && c2.changes[0].left === null && c2.changes[0].right, 'the delete is seen, the put outside the folder is not', all)
  await new Promise((resolve) => setTimeout(resolve, 300))
  check(changes().length === 2, 'no other change event', changes())
  await r.ok({ op: 'unwatch', watch: wr.watch })
}

async function mirror(r, rh) {
  console.log('mirror')
  const out = path.join(tmp, 'out')
  // The reader's clone now also holds /src/elsewhere.txt (watch): 1,001 entries.
  await r.ok({ op: 'update', drive: rh })
  const sum = await r.ok({ op: 'checksum', drive: rh })
  const m = await r.ok({ op: 'mirrorTo', drive: rh, folder: out }, 60000)
  check(m.count && m.count.add === sum.count && m.count.files === sum.count && m.bytesAdded === sum.bytes, `mirrorTo: ${sum.count} adds, ${sum.bytes} bytes`, [m, sum])
  const third = peer('third')
  await third.ok({ op: 'open' })
  const d3 = await third.ok({ op: 'drive' })
  const m3 = await third.ok({ op: 'mirrorFrom', drive: d3.drive, folder: out }, 60000)
  check(m3.count && m3.count.add === sum.count && m3.bytesAdded === sum.bytes, 'mirrorFrom into a fresh drive: the same counts', m3)
  const s3 = await third.ok({ op: 'checksum', drive: d3.drive })
  check(s3.sha256 === sum.sha256, 'same checksum (executables, symlinks and contents kept through the folder)', [s3, sum])
  // Change one file and delete another in the folder: a dry run lists exactly those two
  // (every other file compared equal), without applying them.
  writeFileSync(path.join(out, 'src', 'elsewhere.txt'), 'changed!')
  const gone = FILES.find((f) => f.kind === 'file' && f.depth === 0 && f.size > 0)
  rmSync(path.join(out, gone.path.slice(1)))
  const dry = await third.ok({ op: 'mirrorFrom', drive: d3.drive, folder: out, dryRun: true, changes: true }, 60000)
  const ops = dry.changes ? dry.changes.map((c) => c.op + ' ' + c.key).sort() : null
  check(
    dry.count.change === 1 && dry.count.remove === 1 && dry.count.add === 0 && JSON.stringify(ops) === JSON.stringify(['change /src/elsewhere.txt', 'remove ' + gone.path].sort()),
    'a dry run lists the changed and the deleted file (prune), nothing else',
    dry
  )
  check(dry.bytesRemoved === gone.size + 'not watched'.length && dry.bytesAdded === 'changed!'.length, '  with the bytes mirror-drive counts', dry)
  const s4 = await third.ok({ op: 'checksum', drive: d3.drive })
  check(s4.sha256 === s3.sha256, '  without applying it', s4)
  check(await third.closes(), 'third closes, exit 0')
  check(readdirSync(out).length > 0, '(the folder holds the files)')
}

let phase = Date.now()
function lap(name) {
  const now = Date.now()
  if (VERBOSE) console.log(`  (${name}: ${now - phase} ms)`)
  phase = now
}

async function main() {
  await keys()
  lap('keys')
  const w = peer('writer')
  const r = peer('reader')
  const wr = await fill(w)
  lap('fill')
  const d = await clone(r, wr, wr.port)
  lap('clone')
  await sparse(r, d.drive)
  lap('sparse')
  await list(r, d.drive)
  lap('list')
  await download(r, d.drive, wr.sum, wr.f)
  lap('download')
  await watch(r, w, d.drive, wr.d.drive)
  lap('watch')
  await mirror(r, d.drive)
  lap('mirror')
  check(await r.closes(), 'reader closes, exit 0')
  check(await w.closes(), 'writer closes, exit 0')
}

let crashed = null
try {
  await main()
} catch (err) {
  crashed = err
  checks.check(false, 'no crash', err && err.stack)
} finally {
  for (const p of peers) p.kill()
  rmSync(tmp, { recursive: true, force: true })
}
const secs = ((Date.now() - started) / 1000).toFixed(1)
console.log(`drive-selftest: ${checks.passed} passed, ${checks.failed} failed (${secs} s)` + (checks.failed ? ' — ' + checks.failures.join('; ') : ''))
process.exit(checks.failed || crashed ? 1 : 0)
