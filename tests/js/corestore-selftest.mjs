#!/usr/bin/env node
// JS <-> JS self-test of corestore-peer.mjs (corestore 7.12.5 on hypercore 11.37.1 on both
// sides): spawns peers, drives them through the JSON protocol over loopback TCP and checks
// the results. Proves the driver works before the Rust tests replace one side of it.
//
//   node tests/js/corestore-selftest.mjs [--verbose]
//
// Scenarios, in order (one store directory W is shared by the first and second writer):
//   keys        two stores with the same primary key give the same keys for the same names
//               (root namespace, ["app"], ["app","sub"]) and match keyPair; another primary
//               key gives other keys; a name in another namespace gives another key
//   create      writer #1 creates 6 named cores in W (one encrypted, some in namespaces),
//               10 formula blocks each (50 for the sparse one), lists them, and exits
//   replicate   writer #2 reopens W, opens ONE core by name and listens; a reader connects
//               once and opens the 6 cores by key (5 non-sparse, one sparse): the writer
//               opens the other 5 on demand (core-open events without a get), everything
//               arrives over that one connection, byte for byte (encrypted core decrypted
//               with the key); the sparse core holds only the block asked for
//   live        the writer appends 3 blocks to its open core: the reader gets them live
//   reject      the reader opens a core the writer does not hold: the writer reports a
//               `reject` naming its discovery key, the reader's get times out
//   findingPeers a third store's update waits (background) under findingPeers until it
//               connected and called done, then sees the writer's length; without
//               findingPeers the same update returns at once
//   list        the writer lists all its cores and those of one namespace
//   disconnect  the reader drops the connection: both sides report it, the reader's cores
//               lose their peer and keep their data
// Prints one line per check and a summary; exits 1 on any failure.

import { fileURLToPath } from 'node:url'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { blockValue } from './blocks.mjs'
import { ChildPeer, Checks } from './child-peer.mjs'

const DIR = path.dirname(fileURLToPath(import.meta.url))
const PEER = path.join(DIR, 'corestore-peer.mjs')
const VERBOSE = process.argv.includes('--verbose')
const T = 20000

const checks = new Checks()
const check = checks.check.bind(checks)

// corestore-peer.mjs as a child process, with a hard timeout of 2 minutes.
class StorePeer extends ChildPeer {
  constructor(name) {
    super(name, PEER, ['--timeout', '120000'], VERBOSE)
  }

  // Resolves with true once pred(events) holds, false after the timeout.
  until(pred, timeout = T) {
    return this.waitUntil(pred, 'events', timeout).then(
      () => true,
      () => false
    )
  }

  // Closes the peer: true if it replied and exited with 0.
  async closes() {
    return (await this.close()) === 0
  }
}

const PK_A = '11'.repeat(32)
const PK_B = '22'.repeat(32)
const ENC = '33'.repeat(32)
// The cores of the writer: name, namespace, blocks, encrypted, sparse reader.
const CORES = [
  { name: 'zero', ns: [], blocks: 10 },
  { name: 'one', ns: [], blocks: 10 },
  { name: 'one', ns: ['app'], blocks: 10 },
  { name: 'two', ns: ['app', 'sub'], blocks: 10 },
  { name: 'secret', ns: ['app'], blocks: 10, enc: true },
  { name: 'big', ns: [], blocks: 50, sparse: true }
]

function expectedHex(k, i) {
  return blockValue(k, i, 1000).toString('hex')
}

async function keys() {
  console.log('keys')
  const a = new StorePeer('keys-a')
  const b = new StorePeer('keys-b')
  const c = new StorePeer('keys-c')
  await a.cmd({ op: 'open', primaryKey: PK_A })
  await b.cmd({ op: 'open', primaryKey: PK_A })
  const oc = await c.cmd({ op: 'open', primaryKey: PK_B })
  check(oc.primaryKey === PK_B, 'the store keeps the given primary key', oc)
  for (const { name, ns } of CORES) {
    const ra = await a.cmd({ op: 'get', name, namespace: ns })
    const rb = await b.cmd({ op: 'get', name, namespace: ns })
    const rc = await c.cmd({ op: 'get', name, namespace: ns })
    const kp = await a.cmd({ op: 'keyPair', name, namespace: ns })
    const what = `${JSON.stringify(ns)}/${name}`
    check(/^[0-9a-f]{64}$/.test(ra.key) && ra.key === rb.key && ra.writable, `same primary key, same key: ${what}`, [ra, rb])
    check(ra.discoveryKey === rb.discoveryKey, `same discovery key: ${what}`)
    check(rc.key !== ra.key, `another primary key, another key: ${what}`)
    check(/^[0-9a-f]{64}$/.test(kp.publicKey) && kp.publicKey !== ra.key, `keyPair answers (manifest core: key != public key): ${what}`, kp)
  }
  const x = await a.cmd({ op: 'get', name: 'one', namespace: [] })
  const y = await a.cmd({ op: 'get', name: 'one', namespace: ['app'] })
  check(x.key !== y.key, 'the namespace changes the key')
  check(await a.closes(), 'a closes, exit 0')
  check(await b.closes(), 'b closes, exit 0')
  check(await c.closes(), 'c closes, exit 0')
}

async function create(dir) {
  console.log('create')
  const w = new StorePeer('writer-1')
  await w.cmd({ op: 'open', dir, primaryKey: PK_A })
  const made = []
  for (let k = 0; k < CORES.length; k++) {
    const { name, ns, blocks, enc } = CORES[k]
    const r = await w.cmd({ op: 'get', name, namespace: ns, encryptionKey: enc ? ENC : undefined })
    const a = await w.cmd({ op: 'append', core: r.core, count: blocks, as: k })
    check(a.length === blocks && a.byteLength === blocks * 1000, `${name}: ${blocks} blocks appended`, a)
    made.push(r)
  }
  const l = await w.cmd({ op: 'list' })
  const dks = new Set(made.map((r) => r.discoveryKey))
  check(l.discoveryKeys.length === CORES.length && l.discoveryKeys.every((d) => dks.has(d)), 'list: every core', l)
  check(await w.closes(), 'writer #1 closes, exit 0')
  return made
}

async function replicate(dir, made) {
  console.log('replicate')
  const w = new StorePeer('writer-2')
  await w.cmd({ op: 'open', dir })
  const w0 = await w.cmd({ op: 'get', name: CORES[0].name })
  check(w0.key === made[0].key && w0.length === 10, 'reopened: same key, same length', w0)
  const { port } = await w.cmd({ op: 'listen' })
  check(Number.isInteger(port) && port > 0, 'listening', port)

  const r = new StorePeer('reader')
  await r.cmd({ op: 'open', primaryKey: PK_B })
  const conn = await r.cmd({ op: 'connect', port })
  check(conn.conn === 0 && conn.initiator === true && /^[0-9a-f]{128}$/.test(conn.handshakeHash), 'connected', conn)
  const handles = []
  for (let k = 0; k < CORES.length; k++) {
    const { enc, sparse } = CORES[k]
    const g = await r.cmd({ op: 'get', key: made[k].key, encryptionKey: enc ? ENC : undefined, sparse: !!sparse })
    check(!g.error && g.writable === false && g.discoveryKey === made[k].discoveryKey, `reader opened core ${k} by key`, g)
    handles.push(g.core)
  }
  const full = CORES.map((c, k) => k).filter((k) => !CORES[k].sparse)
  const sparseK = CORES.findIndex((c) => c.sparse)
  const got = (evs, h) => new Set(evs.filter((e) => e.event === 'download' && e.core === h).map((e) => e.index))
  const allIn = await r.until((evs) => full.every((k) => got(evs, handles[k]).size === CORES[k].blocks))
  check(allIn, 'reader downloaded every block of the 5 non-sparse cores')
  for (const k of full) {
    const info = await r.cmd({ op: 'info', core: handles[k] })
    check(info.length === 10 && info.contiguousLength === 10 && info.byteLength === 10000, `core ${k}: info`, info)
    let same = true
    for (let i = 0; i < 10; i++) {
      const b = await r.cmd({ op: 'getBlock', core: handles[k], index: i, wait: false })
      if (b.value !== expectedHex(k, i)) same = false
    }
    check(same, `core ${k}: every block byte for byte${CORES[k].enc ? ' (decrypted)' : ''}`)
  }
  const sb = await r.cmd({ op: 'getBlock', core: handles[sparseK], index: 7 })
  check(sb.value === expectedHex(sparseK, 7), 'sparse core: block 7 fetched on demand', sb)
  const si = await r.cmd({ op: 'info', core: handles[sparseK] })
  const sabsent = await r.cmd({ op: 'getBlock', core: handles[sparseK], index: 8, wait: false })
  check(si.length === 50 && si.contiguousLength === 0 && sabsent.value === null, 'sparse core: nothing else is local', [si, sabsent])
  const sd = await r.cmd({ op: 'download', core: handles[sparseK], start: 0, end: 5 })
  check(sd.contiguousLength === 5, 'sparse core: download 0..5 gives contiguous length 5', sd)

  const opened = new Set(w.events.filter((e) => e.event === 'core-open').map((e) => e.discoveryKey))
  check(
    made.every((m) => opened.has(m.discoveryKey)) && opened.size === CORES.length,
    'writer opened the 5 other cores on demand (core-open without a get)',
    [...opened]
  )
  check(w.events.filter((e) => e.event === 'connection').length === 1, 'everything over one connection (writer side)')
  check(r.events.some((e) => e.event === 'peer-add' && e.core === handles[0] && e.remotePublicKey === conn.remotePublicKey), 'reader: peer-add names the writer')
  return { w, r, w0, handles }
}

async function live({ w, r, w0, handles }) {
  console.log('live')
  const a = await w.cmd({ op: 'append', core: w0.core, count: 3, as: 0 })
  check(a.length === 13, 'writer appended 3', a)
  const ok = await r.until((evs) => [10, 11, 12].every((i) => evs.some((e) => e.event === 'download' && e.core === handles[0] && e.index === i)))
  check(ok, 'reader got blocks 10..12 live')
  check(r.events.some((e) => e.event === 'append' && e.core === handles[0] && e.length === 13), 'reader: append event, length 13')
  const b = await r.cmd({ op: 'getBlock', core: handles[0], index: 12, wait: false })
  check(b.value === expectedHex(0, 12), 'live block byte for byte')
}

async function reject({ w, r }) {
  console.log('reject')
  const unknown = await r.cmd({ op: 'get', key: '44'.repeat(32), sparse: false })
  const ok = await w.until((evs) => evs.some((e) => e.event === 'reject' && e.discoveryKey === unknown.discoveryKey))
  check(ok, 'writer rejected the unknown core, naming its discovery key', unknown.discoveryKey)
  const g = await r.cmd({ op: 'getBlock', core: unknown.core, index: 0, timeout: 300 })
  check(g.code === 'REQUEST_TIMEOUT', 'reader: get of the unknown core times out', g)
  check(!w.events.some((e) => e.event === 'core-open' && e.discoveryKey === unknown.discoveryKey), 'writer did not open it')
}

async function findingPeers({ w }, made) {
  console.log('findingPeers')
  const { port } = await w.cmd({ op: 'listen' })
  const c = new StorePeer('finder')
  await c.cmd({ op: 'open' })
  const g = await c.cmd({ op: 'get', key: made[1].key })
  const quick = await c.cmd({ op: 'update', core: g.core })
  check(quick.updated === false && quick.length === 0, 'without findingPeers: update returns at once, length 0', quick)
  const { token } = await c.cmd({ op: 'findingPeers' })
  let waited = null
  const pending = c.cmd({ op: 'update', core: g.core, background: true }).then((m) => (waited = m))
  await new Promise((resolve) => setTimeout(resolve, 300))
  check(waited === null, 'with findingPeers: update waits')
  await c.cmd({ op: 'connect', port })
  await c.cmd({ op: 'findingPeersDone', token })
  await pending
  check(waited.length === 10, 'after connect + done: update sees length 10', waited)
  check(await c.closes(), 'finder closes, exit 0')
}

async function list({ w }, made) {
  console.log('list')
  const all = await w.cmd({ op: 'list' })
  check(all.discoveryKeys.length === CORES.length, 'writer lists all 6 cores', all)
  const app = await w.cmd({ op: 'list', namespace: ['app'] })
  const want = CORES.map((c, k) => k).filter((k) => JSON.stringify(CORES[k].ns) === '["app"]')
  check(
    app.discoveryKeys.length === want.length && want.every((k) => app.discoveryKeys.includes(made[k].discoveryKey)),
    'list ["app"]: only its named cores',
    app
  )
}

async function disconnect({ w, r, handles }) {
  console.log('disconnect')
  const d = await r.cmd({ op: 'disconnect', conn: 0 })
  check(d.conn === 0 && !d.error, 'reader drops its connection', d)
  check(await r.until((evs) => evs.some((e) => e.event === 'connection-closed' && e.conn === 0)), 'reader: connection-closed')
  check(await w.until((evs) => evs.some((e) => e.event === 'connection-closed' && e.conn === 0)), 'writer: connection-closed')
  check(await r.until((evs) => evs.some((e) => e.event === 'peer-remove' && e.core === handles[0])), 'reader: peer-remove')
  const info = await r.cmd({ op: 'info', core: handles[0] })
  check(info.peers === 0 && info.length === 13, 'reader keeps its data, no peers left', info)
}

async function main() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferrocore-cs-selftest-'))
  const peers = []
  try {
    await keys()
    const made = await create(path.join(tmp, 'w'))
    const ctx = await replicate(path.join(tmp, 'w'), made)
    peers.push(ctx.w, ctx.r)
    await live(ctx)
    await reject(ctx)
    await findingPeers(ctx, made)
    await list(ctx, made)
    await disconnect(ctx)
    check(await ctx.r.closes(), 'reader closes, exit 0')
    check(await ctx.w.closes(), 'writer #2 closes, exit 0')
  } catch (err) {
    check(false, 'no exception', err && err.message)
    for (const p of peers) p.kill()
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`${checks.passed} passed, ${checks.failed} failed`)
  process.exit(checks.failed === 0 ? 0 : 1)
}

main()
