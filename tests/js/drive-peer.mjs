#!/usr/bin/env node
// Scriptable JS hyperdrive 13.3.4 peer (hyperblobs 2.12.1, hyperbee 2.27.3, on corestore 7.12.5
// and hypercore 11.37.1; localdrive 2.2.1 + mirror-drive 1.14.2 for folders) for ferrocore's
// Hyperdrive interop tests: one process = one Corestore holding any number of drives,
// replicated over any number of TCP connections (Noise secret-stream, then
// `store.replicate(stream)`). JSON lines on stdin, JSON lines on stdout (nothing else goes to
// stdout; logs go to stderr), as corestore-peer.mjs and bee-peer.mjs: commands run one at a
// time in order unless "background": true; every reply is {"reply":op,"id":..., ...}, a
// failure {"reply":op,"id":..,"error":msg,"code":hypercore error code or null}. Hex is
// lower-case. Paths are drive paths ("/a/b.txt"; hyperdrive normalises them with
// unix-path-resolve: "a/b.txt" and "/a/./b.txt" are "/a/b.txt").
//
//   node drive-peer.mjs [--timeout MS]
//
// Store and connections (as bee-peer.mjs):
//   {"op":"open","dir":path?,"primaryKey":hex?,"noiseSeed":hex?}
//       new Corestore(dir (default: a fresh temporary directory, removed on exit),
//       {primaryKey, unsafe: true})          → primaryKey, dir, noisePublicKey
//   {"op":"listen","port":p?,"host":h?}      accept connections (Noise responder), each
//                                            replicated by the store     → port
//   {"op":"connect","host":h?,"port":p}      connect (Noise initiator), replicate, reply
//                                            once the handshake is done  → conn, initiator,
//                                            publicKey, remotePublicKey, handshakeHash
//   {"op":"disconnect","conn":n}             destroy that connection     → conn
//   {"op":"close"}                           close everything, reply, exit 0 (EOF: the same)
// Drives (a handle `drive` numbers each; `checkout`: a version, to read that version instead):
//   {"op":"drive","key":hex?,"update":bool?}
//       new Hyperdrive(store.session()) (the store's own drive: its db core is the core named
//       "db", so its key follows from the primary key) or new Hyperdrive(store.session(), key)
//       (a remote drive, read sparsely through replication); ready(). update: as `update`,
//       first.                                → drive (handle), then the `info` fields
//   {"op":"info","drive":h}
//       → drive, key, discoveryKey, contentKey (the blobs core's key; null while unknown),
//         version (db length), writable, peers (remote peers of the db core),
//         db: {length, contiguousLength, byteLength, downloaded},
//         blobs: {length, contiguousLength, byteLength, downloaded, peers} | null,
//         (downloaded: blocks this process downloaded into that core, from the cores'
//         `download` events since the drive was opened)
//   {"op":"update","drive":h}  once a peer replicates the db core (10 s at most for the
//       first): db core update({wait, force}), then getBlobs() and, if the drive has
//       entries, the same for the blobs core   → the `info` fields
//   {"op":"fill","drive":h,"preset":"interop"|"bench"?,"seed":s?,"indices":[i,...]?,
//    "from":i?,"count":n?,"batch":b?,"metadata":bool?}
//       writes drive-data.mjs files (default preset interop; all of them, or `indices`, or
//       from..from+count-1) in index order: drive.put(path, content, {executable, metadata})
//       for a file (metadata: false leaves it null), drive.symlink(path, linkname) for a
//       symlink; with batch b > 1, in drive.batch()es of b files (one db flush each; blobs
//       are appended file by file either way)
//                                             → files, symlinks, bytes, then the `info` fields
//   {"op":"put","drive":h,"path":p,"content":utf8? | "base64":b64?,"executable":bool?,
//    "metadata":json?}                        drive.put → entry, then the `info` fields
//   {"op":"del","drive":h,"path":p}          drive.del → the `info` fields
//   {"op":"symlink","drive":h,"path":p,"target":linkname,"metadata":json?}
//                                             drive.symlink → entry, then the `info` fields
//   {"op":"get","drive":h,"path":p,"checkout":v?,"start":n?,"length":n?,"end":n?,
//    "encoding":"base64"|"utf8"?,"wait":bool?,"timeout":ms?}
//       drive.get(path, {wait, timeout}) (null for a missing path and for a symlink: not
//       followed); with start/length/end (end inclusive, as JS), createReadStream(path,
//       {start, length | end}) instead      → path, content (base64 unless utf8; or null),
//                                              byteLength (or null)
//   {"op":"entry","drive":h,"path":p,"follow":bool?,"checkout":v?}
//       drive.entry → entry: {seq, key, value: {executable, linkname, blob: {blockOffset,
//       byteOffset, blockLength, byteLength} | null, metadata}} | null (key order as JS
//       stores it). follow: JS follows up to 16 links, resolving a linkname with
//       unix-path-resolve(link's own path, linkname): relative to the link's path as if
//       it were a folder ("/a/l" -> "x" is "/a/l/x", not "/a/x")
//   {"op":"exists","drive":h,"path":p,"checkout":v?}   → exists
//   {"op":"list","drive":h,"folder":f?,"recursive":bool?,"checkout":v?,"keysOnly":bool?}
//       drive.list(folder (default "/"), {recursive (default true)}) → count, entries:
//       [entry, ...] in the order JS yields them (keysOnly: keys: [path, ...] instead)
//   {"op":"readdir","drive":h,"folder":f?,"checkout":v?}   drive.readdir → names: [name, ...]
//   {"op":"diff","drive":h,"from":v,"to":v?,"folder":f?}
//       checkout(to (default: now)).diff(from, folder) → entries: [{left: entry|null,
//       right: entry|null}, ...] (left: the entry at `to`, right: at `from`)
//   {"op":"download","drive":h,"path":p?}   await drive.download(path (default "/"): a
//       folder, or one file).done()          → the `info` fields
//   {"op":"clear","drive":h,"path":p}       drive.clear(path, {diff: true}) → cleared (its
//       `blocks`: always 0 in hypercore 11.37.1, whose clear never fills in the diff)
//   {"op":"watch","drive":h,"folder":f?}
//       w = drive.watch(folder (default "/")); await w.ready() (the watch starts from the
//       drive's version now), reply → watch (a handle), folder, version; then, for each
//       [current, previous] the watcher yields, an event
//       {"event":"change","watch":w,"drive":h,"folder":f,"version":current.version,
//        "previous":previous.version,"changes":[{key, left: entry|null, right: entry|null}]}
//       (changes: current.diff(previous.version, folder); JS yields one pair per observed
//       change of the folder, several appends may be coalesced into one; appends outside
//       the folder yield nothing but move the watcher on, so `previous` is the version it
//       last looked at, not the last event's `version`; a put of identical content is
//       still a change: a new seq and blob)
//   {"op":"unwatch","watch":w}               destroy that watcher       → watch
//   {"op":"checksum","drive":h,"folder":f?,"checkout":v?,"timeout":ms?}
//       SHA-256 over the entries drive.list(folder) yields, in that order, each contributing
//       utf8(key) ‖ 0x00 ‖ kind ‖ u64le(n) ‖ payload, kind "f"/"x" (executable) for a file
//       (payload its content; an entry without blob counts as empty), "l" for a symlink
//       (payload its linkname, UTF-8); metadata not hashed (drive-data.mjs `TreeHash`); each
//       file read with drive.get(entry, {timeout (default 30000)}): a block no peer has
//       fails the command (REQUEST_TIMEOUT) instead of hanging
//                                             → sha256, count, files, symlinks, bytes
//   {"op":"mirrorTo","drive":h,"folder":path,"prune":bool?,"dryRun":bool?,"changes":bool?}
//       drive.mirror(new Localdrive(folder), {prune (default true, as mirror-drive),
//       dryRun}), run to the end            → count: {files, add, remove, change},
//         bytesAdded, bytesRemoved (mirror-drive's), changes: [{op, key, bytesAdded,
//         bytesRemoved}, ...] (only with changes: true)
//   {"op":"mirrorFrom","drive":h,"folder":path,...}   new Localdrive(folder).mirror(drive,
//       ...) the same way                     → the same fields
//   {"op":"closeDrive","drive":h}            close that drive (its store session) → drive
// Generated data (drive-data.mjs), no drive needed:
//   {"op":"makeFolder","folder":path,"preset":p?,"seed":s?,"indices":[i,...]?}
//       writes the preset's files on disk      → files, symlinks, bytes
//   {"op":"expected","preset":p?,"seed":s?,"indices":[i,...]?}
//       the checksum a drive holding them gives → sha256, count, files, symlinks, bytes
// Events: {"event":"connection","conn":n,...}, {"event":"connection-closed","conn":n},
//   {"event":"change",...} (watch), {"event":"error","message":msg}.

import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { preset, files as dataFiles, content as dataContent, TreeHash, writeFolder, expectedChecksum } from './drive-data.mjs'
import { out, hex, parseHex, guardProcess, serveCommands, removeDir, logger, timeoutArg, listenTcp, storeOpenArgs, replicateConnection, updateCore } from './jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const Corestore = require('corestore')
const Hyperdrive = require('hyperdrive')
const Localdrive = require('localdrive')
const crypto = require('hypercore-crypto')
const NoiseSecretStream = require('@hyperswarm/secret-stream')

const log = logger('drive-peer')
const timeout = timeoutArg('drive-peer.mjs')

let store = null
let tmpDir = null
let noiseKeyPair = null
const drives = [] // handle -> { drive, db: {count}, blobs: {count} } (null once closed)
const watchers = [] // handle -> watcher (null once destroyed)
const connections = []
const servers = []
let closing = null

const cleanupDir = () => removeDir(tmpDir)
guardProcess(timeout, cleanupDir, log)

function needStore() {
  if (store === null) throw new Error('no store: send {"op":"open"} first')
  return store
}

function driveArg(cmd) {
  const h = cmd.drive
  if (!Number.isInteger(h) || h < 0 || h >= drives.length || drives[h] === null) throw new Error('no such drive: ' + JSON.stringify(h))
  return drives[h]
}

function pathArg(cmd, name = 'path') {
  if (typeof cmd[name] !== 'string') throw new Error(name + ': expected a string')
  return cmd[name]
}

function coreInfo(core, downloaded) {
  return { length: core.length, contiguousLength: core.contiguousLength, byteLength: core.byteLength, downloaded: downloaded.count }
}

function info(h) {
  const { drive, db, blobs } = drives[h]
  return {
    drive: h,
    key: hex(drive.key),
    discoveryKey: hex(drive.discoveryKey),
    contentKey: drive.contentKey ? hex(drive.contentKey) : null,
    version: drive.version,
    writable: drive.writable,
    peers: drive.core.peers.length,
    db: coreInfo(drive.core, db),
    blobs: drive.blobs ? { ...coreInfo(drive.blobs.core, blobs), peers: drive.blobs.core.peers.length } : null
  }
}

// The entry as JSON ({seq, key, value}), or null.
const entryJson = (e) => (e === null || e === undefined ? null : { seq: e.seq, key: e.key, value: e.value })

async function openDrive(cmd) {
  const s = needStore()
  const session = s.session()
  const drive = cmd.key !== undefined ? new Hyperdrive(session, parseHex(cmd.key, 32, 'key')) : new Hyperdrive(session)
  const rec = { drive, db: { count: 0 }, blobs: { count: 0 } }
  drive.core.on('download', () => rec.db.count++)
  drive.on('blobs', (blobs) => blobs.core.on('download', () => rec.blobs.count++))
  try {
    await drive.ready()
  } catch (err) {
    await drive.close().catch(() => {})
    throw err
  }
  const h = drives.push(rec) - 1
  if (cmd.update) await update(rec)
  return info(h)
}

async function update({ drive }) {
  await updateCore(drive.core)
  const blobs = await drive.getBlobs()
  // The blobs core's channel opens once getBlobs() opened it here: wait for its peer too
  // when the drive has entries.
  if (blobs && drive.version > 1) await updateCore(blobs.core)
}

// Runs fn(view) on the drive, or on its checkout at cmd.checkout (closed afterwards).
async function withView(cmd, fn) {
  const { drive } = driveArg(cmd)
  if (cmd.checkout === undefined || cmd.checkout === null) return fn(drive)
  const view = drive.checkout(cmd.checkout)
  try {
    await view.ready()
    return await fn(view)
  } finally {
    await view.close().catch(() => {})
  }
}

async function fill(cmd) {
  const { drive } = driveArg(cmd)
  const p = preset(cmd.preset || 'interop', cmd.seed)
  let indices = cmd.indices
  if (indices === undefined && (cmd.from !== undefined || cmd.count !== undefined)) {
    const from = cmd.from === undefined ? 0 : cmd.from
    const count = cmd.count === undefined ? p.count - from : cmd.count
    indices = Array.from({ length: count }, (_, k) => from + k)
  }
  const list = dataFiles(p, indices)
  const size = cmd.batch === undefined ? 1 : cmd.batch
  let nfiles = 0
  let symlinks = 0
  let bytes = 0
  for (let i = 0; i < list.length; i += size) {
    const target = size > 1 ? drive.batch() : drive
    for (const f of list.slice(i, i + size)) {
      if (f.kind === 'symlink') {
        await target.symlink(f.path, f.linkname)
        symlinks++
        continue
      }
      const metadata = cmd.metadata === false ? null : f.metadata
      await target.put(f.path, dataContent(p, f), { executable: f.executable, metadata })
      nfiles++
      bytes += f.size
    }
    if (size > 1) await target.flush()
  }
  return { files: nfiles, symlinks, bytes }
}

async function put(cmd) {
  const { drive } = driveArg(cmd)
  const p = pathArg(cmd)
  let buf
  if (cmd.base64 !== undefined) buf = Buffer.from(String(cmd.base64), 'base64')
  else if (cmd.content !== undefined) buf = Buffer.from(String(cmd.content), 'utf8')
  else throw new Error('put: content (utf-8) or base64')
  await drive.put(p, buf, { executable: !!cmd.executable, metadata: cmd.metadata === undefined ? null : cmd.metadata })
  return { entry: entryJson(await drive.entry(p)) }
}

async function readAll(stream) {
  const chunks = []
  for await (const c of stream) chunks.push(c)
  return Buffer.concat(chunks)
}

async function get(cmd) {
  const p = pathArg(cmd)
  const buf = await withView(cmd, async (view) => {
    if (cmd.start !== undefined || cmd.length !== undefined || cmd.end !== undefined) {
      const e = await view.entry(p)
      if (e === null || !e.value.blob) return null
      const opts = {}
      for (const k of ['start', 'length', 'end', 'wait', 'timeout']) if (cmd[k] !== undefined) opts[k] = cmd[k]
      return readAll(view.createReadStream(p, opts))
    }
    const opts = {}
    if (cmd.wait !== undefined) opts.wait = cmd.wait
    if (cmd.timeout !== undefined) opts.timeout = cmd.timeout
    return view.get(p, opts)
  })
  const enc = cmd.encoding === 'utf8' ? 'utf8' : 'base64'
  return { path: p, content: buf === null ? null : buf.toString(enc), byteLength: buf === null ? null : buf.length }
}

async function list(cmd) {
  return withView(cmd, async (view) => {
    const entries = []
    for await (const e of view.list(cmd.folder || '/', { recursive: cmd.recursive !== false })) entries.push(cmd.keysOnly ? e.key : entryJson(e))
    return cmd.keysOnly ? { count: entries.length, keys: entries } : { count: entries.length, entries }
  })
}

async function readdir(cmd) {
  return withView(cmd, async (view) => {
    const names = []
    for await (const name of view.readdir(cmd.folder || '/')) names.push(name)
    return { names }
  })
}

async function diffEntries(view, from, folder) {
  const entries = []
  for await (const d of view.diff(from, folder || '/')) entries.push({ key: (d.left || d.right).key, left: entryJson(d.left), right: entryJson(d.right) })
  return entries
}

async function diff(cmd) {
  if (!Number.isInteger(cmd.from)) throw new Error('diff: from (a version)')
  const entries = await withView({ ...cmd, checkout: cmd.to }, (view) => diffEntries(view, cmd.from, cmd.folder))
  return { entries }
}

async function watch(cmd) {
  const h = cmd.drive
  const { drive } = driveArg(cmd)
  const folder = cmd.folder || '/'
  const watcher = drive.watch(folder)
  await watcher.ready()
  const w = watchers.push(watcher) - 1
  ;(async () => {
    for await (const [current, previous] of watcher) {
      let changes = null
      try {
        changes = await diffEntries(current, previous.version, folder)
      } catch (err) {
        if (closing) return
        log('watch diff', err && err.message)
      }
      out({ event: 'change', watch: w, drive: h, folder, version: current.version, previous: previous.version, changes })
    }
  })().catch((err) => {
    if (!closing && watchers[w] !== null) out({ event: 'error', message: `watch ${w}: ` + (err && err.message) })
  })
  return { watch: w, folder, version: drive.version }
}

async function checksum(cmd) {
  return withView(cmd, async (view) => {
    const h = new TreeHash()
    for await (const e of view.list(cmd.folder || '/')) {
      const v = e.value
      if (v.linkname) h.add(e.key, 'l', Buffer.from(v.linkname, 'utf8'))
      else {
        const buf = v.blob ? await view.get(e, { timeout: cmd.timeout === undefined ? 30000 : cmd.timeout }) : Buffer.alloc(0)
        h.add(e.key, v.executable ? 'x' : 'f', buf || Buffer.alloc(0))
      }
    }
    return h.digest()
  })
}

async function mirror(src, dst, cmd) {
  const m = src.mirror(dst, { prune: cmd.prune !== false, dryRun: !!cmd.dryRun })
  const changes = []
  for await (const d of m) if (cmd.changes) changes.push({ op: d.op, key: d.key, bytesAdded: d.bytesAdded, bytesRemoved: d.bytesRemoved })
  const r = { count: { ...m.count }, bytesAdded: m.bytesAdded, bytesRemoved: m.bytesRemoved }
  if (cmd.changes) r.changes = changes
  return r
}

function attach(socket, initiator) {
  const ctx = { store, connections, keyPair: noiseKeyPair, NoiseSecretStream, closing: () => !!closing }
  return replicateConnection(ctx, socket, initiator)
}

async function open(cmd) {
  if (store !== null) throw new Error('a store is already open')
  const { dir, tmp, opts } = storeOpenArgs(mkdtempSync, os, path, cmd, 'ferrocore-drive-peer-')
  if (tmp) tmpDir = dir
  noiseKeyPair = crypto.keyPair(cmd.noiseSeed === undefined ? undefined : parseHex(cmd.noiseSeed, 32, 'noiseSeed'))
  store = new Corestore(dir, opts)
  await store.ready()
  return { primaryKey: hex(store.primaryKey), dir, noisePublicKey: hex(noiseKeyPair.publicKey) }
}

async function run(cmd) {
  switch (cmd.op) {
    case 'open':
      return open(cmd)
    case 'listen':
      needStore()
      return listenTcp(net, cmd, servers, (sock) => (closing ? sock.destroy() : attach(sock, false)))
    case 'connect':
      needStore()
      return attach(net.connect({ host: cmd.host || '127.0.0.1', port: cmd.port, noDelay: true }), true)
    case 'disconnect': {
      const stream = connections[cmd.conn]
      if (!stream) throw new Error('no such connection: ' + JSON.stringify(cmd.conn))
      stream.destroy()
      return { conn: cmd.conn }
    }
    case 'drive':
      return openDrive(cmd)
    case 'info':
      driveArg(cmd)
      return info(cmd.drive)
    case 'update':
      await update(driveArg(cmd))
      return info(cmd.drive)
    case 'fill': {
      const r = await fill(cmd)
      return { ...r, ...info(cmd.drive) }
    }
    case 'put': {
      const r = await put(cmd)
      return { ...r, ...info(cmd.drive) }
    }
    case 'del':
      await driveArg(cmd).drive.del(pathArg(cmd))
      return info(cmd.drive)
    case 'symlink': {
      const { drive } = driveArg(cmd)
      await drive.symlink(pathArg(cmd), pathArg(cmd, 'target'), { metadata: cmd.metadata === undefined ? null : cmd.metadata })
      return { entry: entryJson(await drive.entry(cmd.path)), ...info(cmd.drive) }
    }
    case 'get':
      return get(cmd)
    case 'entry':
      return { entry: entryJson(await withView(cmd, (v) => v.entry(pathArg(cmd), { follow: !!cmd.follow }))) }
    case 'exists':
      return { exists: await withView(cmd, (v) => v.exists(pathArg(cmd))) }
    case 'list':
      return list(cmd)
    case 'readdir':
      return readdir(cmd)
    case 'diff':
      return diff(cmd)
    case 'download':
      await driveArg(cmd).drive.download(cmd.path || '/').done()
      return info(cmd.drive)
    case 'clear': {
      const r = await driveArg(cmd).drive.clear(pathArg(cmd), { diff: true })
      return { cleared: r ? r.blocks : 0 }
    }
    case 'watch':
      return watch(cmd)
    case 'unwatch': {
      const w = watchers[cmd.watch]
      if (!w) throw new Error('no such watch: ' + JSON.stringify(cmd.watch))
      watchers[cmd.watch] = null
      await w.destroy()
      return { watch: cmd.watch }
    }
    case 'checksum':
      return checksum(cmd)
    case 'mirrorTo':
      return mirror(driveArg(cmd).drive, new Localdrive(pathArg(cmd, 'folder')), cmd)
    case 'mirrorFrom':
      return mirror(new Localdrive(pathArg(cmd, 'folder')), driveArg(cmd).drive, cmd)
    case 'closeDrive': {
      const { drive } = driveArg(cmd)
      drives[cmd.drive] = null
      await drive.close()
      return { drive: cmd.drive }
    }
    case 'makeFolder':
      return writeFolder(pathArg(cmd, 'folder'), preset(cmd.preset || 'interop', cmd.seed), cmd.indices)
    case 'expected':
      return expectedChecksum(preset(cmd.preset || 'interop', cmd.seed), cmd.indices)
    case 'close':
      await shutdown()
      return {}
    default:
      throw new Error('unknown op ' + JSON.stringify(cmd.op))
  }
}

async function runCommand(cmd) {
  const base = { reply: cmd.op, id: cmd.id === undefined ? null : cmd.id }
  try {
    return { ...base, ...(await run(cmd)) }
  } catch (err) {
    return { ...base, error: (err && err.message) || String(err), code: (err && err.code) || null }
  }
}

async function shutdown() {
  if (closing) return closing
  closing = (async () => {
    // Watchers and drives first (their pending reads fail), then the network, then the store.
    await Promise.all(watchers.filter((w) => w).map((w) => w.destroy().catch(() => {})))
    await Promise.all(drives.filter((d) => d).map(({ drive }) => drive.close().catch(() => {})))
    servers.forEach((server) => server.close())
    connections.forEach((stream) => stream.destroy())
    if (store !== null) await store.close().catch((err) => log('close store', err && err.message))
  })()
  return closing
}

serveCommands(runCommand, shutdown, cleanupDir)
