#!/usr/bin/env node
// The JS side of scripts/bench-drive: hyperdrive 13.3.4 / hyperblobs 2.12.1 (hyperbee 2.27.3)
// on corestore 7.12.5 / hypercore 11.37.1 (default storage: RocksDB on disk, no sync), with
// localdrive 2.2.1 + mirror-drive 1.14.2 for folders. The ferrocore side takes the same modes
// and options and prints the same rows. Each mode runs in a fresh process; the store's and
// drive's open and close are never timed. Every drive is `new Hyperdrive(store)` on a
// Corestore with primary key 32 x 0x07 (so both sides make the same drive key).
//
//   node bench-drive.mjs make-folder --dst FOLDER [--preset bench|interop] [--seed S]
//        [--count N]
//        writes the drive-data.mjs preset (default bench: 1,000 files of 1 KiB..4 MiB, about
//        502 MiB; --count N: only its files 0..N-1, e.g. 100 files ~ 50 MiB) into FOLDER
//        (must not exist). Not a benchmark: its row has phase "make-folder".
//   node bench-drive.mjs import --src FOLDER --dir DIR
//        a fresh store in DIR (must not exist), its drive; timed: new Localdrive(FOLDER)
//        .mirror(drive).done() (mirror-drive with its defaults: files read in 64 KiB chunks,
//        each written with drive.createWriteStream, one db put per file, in the order
//        localdrive lists the folder: readdir order, depth first).
//   node bench-drive.mjs export --dir DIR --dst FOLDER
//        reopens DIR's drive; timed: drive.mirror(new Localdrive(FOLDER)).done() (FOLDER
//        must not exist; files written in drive list order).
//   node bench-drive.mjs clone --dir DIR
//        in this one process: DIR's store serves its drive over one loopback TCP connection
//        (Noise via NoiseSecretStream, store.replicate on each end) to a fresh store in a
//        temporary directory, which opens the drive by key and downloads both cores whole:
//        db core update (once the peer is there), getBlobs(), blobs core update, then
//        core.download({start: 0, end: length}).done() of both cores at once. Timed from
//        the connect to both downloads' completion; checked: both cores complete
//        (contiguousLength = length) with the writer's lengths and byte lengths. CPU time
//        counts both ends (one process).
//   node bench-drive.mjs list --dir DIR --count N
//        if DIR does not exist: a fresh drive there with N small files, untimed: file i
//        (0..N-1) is "/list/" + floor(i / 1000) zero-padded to 3 digits + "/" + i zero-padded
//        to 6 digits + ".txt" (so "/list/000/000000.txt"), content "file " + i + "\n", put
//        in drive.batch()es of 1,000 (one db flush each; drive.put appends each blob); then
//        the drive is closed. Then (DIR reused as it is otherwise) the drive is reopened and
//        one full recursive drive.list('/') is timed, checked (N entries, in path order).
//   node bench-drive.mjs reads --dir DIR --reads R [--preset bench] [--seed S]
//        reopens DIR's drive (an `import` of a make-folder folder); its large files are the
//        entries with blob.byteLength >= 1 MiB (2^20), in drive list order; R reads, each
//        with next() of xorshift32 seed 2 (bee-data.mjs): file = large[next() % L], then
//        start = next() % (byteLength - 65536 + 1), and createReadStream(path, {start,
//        length: 65536}) read to the end. Timed: the sum over the reads of each read's
//        time (wall and CPU); checked outside the timing: every read has 65,536 bytes and
//        equals drive-data's bytes of that file (its index from its path, the preset's
//        content), and digest = SHA-256 of all read bytes in order.
//
// Output: one JSON line per run on stdout (logs on stderr):
//   bench "drive", impl "js" | "ferrocore", phase "import" | "export" | "clone" | "list" |
//   "reads" (or "make-folder"),
//   count     entries in the drive (files + symlinks; list: N; make-folder: files written)
//   ops       operations timed: import/export: files mirror-drive added; clone: blocks
//             downloaded (both cores); list: entries listed; reads: R
//   bytes     import/export: mirror-drive's bytesAdded (file contents); clone: db + blobs
//             byte lengths; list: sum of the listed files' sizes; reads: bytes read
//   wall_s, cpu_s (user + system over the timed part), ops_per_s (ops / wall_s),
//   mb_per_s  bytes / 1e6 / wall_s (import, export, clone, reads; absent for list)
//   length    the db core's length (the drive's version), blobs_length the blobs core's,
//   blobs_bytes the blobs core's byte length,
//   digest    (reads) SHA-256 hex of the bytes read, in order,
//   ok        every check passed.

import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import fs from 'node:fs'
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { xorshift32 } from './bee-data.mjs'
import { preset, writeFolder, range, file as dataFile, indexOfPath } from './drive-data.mjs'
import { arg, logger, timed } from './jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const Corestore = require('corestore')
const Hyperdrive = require('hyperdrive')
const Localdrive = require('localdrive')
const NoiseSecretStream = require('@hyperswarm/secret-stream')

const log = logger('bench-drive')
const PRIMARY = Buffer.alloc(32, 7)
const READ = 65536
const LARGE = 1 << 20

const mode = process.argv[2]
const dir = arg('--dir')
const src = arg('--src')
const dst = arg('--dst')
const count = Number(arg('--count', '0'))
const reads = Number(arg('--reads', '0'))
const presetName = arg('--preset', 'bench')
const seed = arg('--seed') === undefined ? undefined : Number(arg('--seed'))

function usage(msg) {
  if (msg) process.stderr.write('bench-drive.mjs: ' + msg + '\n')
  process.stderr.write(
    'usage: bench-drive.mjs make-folder --dst FOLDER [--preset P] [--seed S] [--count N]\n' +
      '       bench-drive.mjs import --src FOLDER --dir DIR | export --dir DIR --dst FOLDER | clone --dir DIR\n' +
      '       bench-drive.mjs list --dir DIR --count N | reads --dir DIR --reads R [--preset P] [--seed S]\n'
  )
  process.exit(2)
}

function row(phase, n, ops, bytes, t, extra, mb = true) {
  const r = { bench: 'drive', impl: 'js', phase, count: n, ops, bytes, wall_s: t.wall_s, cpu_s: t.cpu_s, ops_per_s: ops / t.wall_s }
  if (mb) r.mb_per_s = bytes / 1e6 / t.wall_s
  process.stdout.write(JSON.stringify({ ...r, ...extra }) + '\n')
}

async function openDrive(storeDir) {
  const store = new Corestore(storeDir, { primaryKey: PRIMARY, unsafe: true })
  const drive = new Hyperdrive(store)
  await drive.ready()
  return drive // drive.close() closes the store too
}

function cores(drive) {
  return { length: drive.core.length, blobs_length: drive.blobs ? drive.blobs.core.length : 0, blobs_bytes: drive.blobs ? drive.blobs.core.byteLength : 0 }
}

// Entries, files, bytes of a drive (untimed).
async function census(drive) {
  let n = 0
  let files = 0
  let bytes = 0
  for await (const e of drive.list('/')) {
    n++
    if (e.value.blob) {
      files++
      bytes += e.value.blob.byteLength
    }
  }
  return { n, files, bytes }
}

// Regular files and their bytes under a folder, symlinks (untimed).
function walk(root) {
  const r = { files: 0, symlinks: 0, bytes: 0 }
  const visit = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) visit(p)
      else if (e.isSymbolicLink()) r.symlinks++
      else if (e.isFile()) {
        r.files++
        r.bytes += fs.statSync(p).size
      }
    }
  }
  visit(root)
  return r
}

function mustNotExist(p, what) {
  if (!p) usage(what + ' is required')
  if (fs.existsSync(p)) throw new Error(p + ' exists')
}

async function makeFolder() {
  mustNotExist(dst, '--dst')
  const p = preset(presetName, seed)
  const indices = count > 0 ? Array.from({ length: Math.min(count, p.count) }, (_, i) => i) : undefined
  const t = await timed(() => writeFolder(dst, p, indices))
  const r = t.result
  row('make-folder', r.files + r.symlinks, r.files + r.symlinks, r.bytes, t, { files: r.files, symlinks: r.symlinks, preset: presetName, seed: p.seed, ok: true })
}

async function importFolder() {
  if (!src) usage('--src is required')
  mustNotExist(dir, '--dir')
  const want = walk(src)
  const drive = await openDrive(dir)
  const t = await timed(async () => {
    const m = new Localdrive(src).mirror(drive)
    await m.done()
    return m
  })
  const m = t.result
  const ok = m.count.add === want.files + want.symlinks && m.bytesAdded === want.bytes && drive.core.length === 1 + m.count.add
  row('import', m.count.files, m.count.add, m.bytesAdded, t, { ...cores(drive), ok })
  await drive.close()
}

async function exportFolder() {
  if (!dir) usage('--dir is required')
  mustNotExist(dst, '--dst')
  const drive = await openDrive(dir)
  const c = await census(drive)
  const t = await timed(async () => {
    const m = drive.mirror(new Localdrive(dst))
    await m.done()
    return m
  })
  const m = t.result
  const got = walk(dst)
  const ok = m.count.add === c.n && m.bytesAdded === c.bytes && got.bytes === c.bytes && got.files + got.symlinks === c.n
  row('export', c.n, m.count.add, m.bytesAdded, t, { ...cores(drive), ok })
  await drive.close()
}

// Resolves once core has a peer (10 s at most).
function peerOf(core) {
  if (core.peers.length > 0) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 10000)
    core.once('peer-add', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

async function clone() {
  if (!dir) usage('--dir is required')
  const writer = await openDrive(dir)
  const wblobs = await writer.getBlobs()
  const c = await census(writer)
  const readerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrocore-bench-drive-'))
  const readerStore = new Corestore(readerDir)
  const conns = []
  const server = net.createServer({ noDelay: true }, (sock) => {
    const s = new NoiseSecretStream(false, sock)
    conns.push(s)
    writer.corestore.replicate(s)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  let blocks = 0
  let reader = null
  const t = await timed(async () => {
    const sock = net.connect({ host: '127.0.0.1', port: server.address().port, noDelay: true })
    const s = new NoiseSecretStream(true, sock)
    conns.push(s)
    readerStore.replicate(s)
    reader = new Hyperdrive(readerStore, writer.key)
    reader.core.on('download', () => blocks++)
    reader.on('blobs', (b) => b.core.on('download', () => blocks++))
    await reader.ready()
    await peerOf(reader.core)
    await reader.core.update({ wait: true })
    const blobs = await reader.getBlobs()
    await peerOf(blobs.core)
    await blobs.core.update({ wait: true })
    await Promise.all([reader.core.download({ start: 0, end: reader.core.length }).done(), blobs.core.download({ start: 0, end: blobs.core.length }).done()])
  })
  const rb = reader.blobs.core
  const ok =
    reader.core.length === writer.core.length &&
    reader.core.contiguousLength === reader.core.length &&
    reader.core.byteLength === writer.core.byteLength &&
    rb.length === wblobs.core.length &&
    rb.contiguousLength === rb.length &&
    rb.byteLength === wblobs.core.byteLength
  const bytes = reader.core.byteLength + rb.byteLength
  row('clone', c.n, blocks, bytes, t, { ...cores(reader), ok })
  await reader.close()
  for (const s of conns) s.destroy()
  server.close()
  await writer.close()
  fs.rmSync(readerDir, { recursive: true, force: true })
}

export const listPath = (i) => '/list/' + String(Math.floor(i / 1000)).padStart(3, '0') + '/' + String(i).padStart(6, '0') + '.txt'

async function list() {
  if (!dir || !(count > 0)) usage('list needs --dir and --count')
  if (!fs.existsSync(dir)) {
    const drive = await openDrive(dir)
    for (let i = 0; i < count; i += 1000) {
      const b = drive.batch()
      for (let j = i; j < Math.min(count, i + 1000); j++) await b.put(listPath(j), Buffer.from('file ' + j + '\n'))
      await b.flush()
    }
    await drive.close()
  }
  const drive = await openDrive(dir)
  const t = await timed(async () => {
    let n = 0
    let bytes = 0
    let ordered = true
    for await (const e of drive.list('/')) {
      if (e.key !== listPath(n)) ordered = false
      n++
      if (e.value.blob) bytes += e.value.blob.byteLength
    }
    return { n, bytes, ordered }
  })
  const r = t.result
  row('list', count, r.n, r.bytes, t, { ...cores(drive), ok: r.ordered && r.n === count }, false)
  await drive.close()
}

async function readRanges() {
  if (!dir || !(reads > 0)) usage('reads needs --dir and --reads')
  const p = preset(presetName, seed)
  const drive = await openDrive(dir)
  await drive.getBlobs()
  const c = await census(drive)
  const large = []
  for await (const e of drive.list('/')) if (e.value.blob && e.value.blob.byteLength >= LARGE) large.push({ path: e.key, size: e.value.blob.byteLength })
  if (large.length === 0) throw new Error('no file of 1 MiB or more in the drive')
  const next = xorshift32(2)
  const digest = createHash('sha256')
  let ok = true
  let bytes = 0
  let wall = 0n
  let cpu = 0
  for (let k = 0; k < reads; k++) {
    const f = large[next() % large.length]
    const start = next() % (f.size - READ + 1)
    const cpu0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    const chunks = []
    for await (const chunk of drive.createReadStream(f.path, { start, length: READ })) chunks.push(chunk)
    wall += process.hrtime.bigint() - t0
    const u = process.cpuUsage(cpu0)
    cpu += u.user + u.system
    const buf = Buffer.concat(chunks)
    bytes += buf.length
    digest.update(buf)
    const i = indexOfPath(f.path)
    if (buf.length !== READ || i < 0 || i >= p.count) ok = false
    else {
      const df = dataFile(p, i)
      if (df.path !== f.path || df.size !== f.size || !buf.equals(range(p, df, start, READ))) ok = false
    }
  }
  const t = { wall_s: Number(wall) / 1e9, cpu_s: cpu / 1e6 }
  row('reads', c.n, reads, bytes, t, { ...cores(drive), large: large.length, digest: digest.digest('hex'), ok })
  await drive.close()
}

const modes = { 'make-folder': makeFolder, import: importFolder, export: exportFolder, clone, list, reads: readRanges }
if (!modes[mode]) usage('mode: make-folder, import, export, clone, list or reads')
modes[mode]().catch((err) => {
  log(err && err.stack)
  process.exit(1)
})
