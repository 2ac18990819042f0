#!/usr/bin/env node
// JS <-> JS self-test of hypercore-peer.mjs (hypercore 11.37.1 on both sides): spawns pairs
// of peers over loopback TCP, drives them through the JSON protocol and checks the results.
// Proves the peer script works before the Rust tests replace one side of it.
//
//   node tests/js/hypercore-selftest.mjs [--verbose] [--only NAME[,NAME...]]
//
// Scenarios (writer/reader = which side has the key pair; listen/connect and the Noise role
// are varied independently):
//   full-download   200 blocks x 1000 B, writer listens as responder, reader connects as
//                   initiator with --download-all; `check` on the reader
//   live-tail       (same connection) writer appends 5 more, reader gets `download` events
//                   for 200..204 and checks 0..205
//   truncate        (same connection) writer truncates to 150 and appends 10 different
//                   blocks (append-values); the reader `update`s and ends with the writer's
//                   length, fork and values (get 150..159 + hashes of every block)
//   sparse-get      roles swapped (reader listens as responder, writer connects as
//                   initiator); a fresh reader without --download-all gets blocks 7, 99, 150
//                   and nothing else is stored
//   encrypted       --encryption-key on both sides; a reader without the key, which
//                   receives the stored form (8-byte padding + ciphertext); --block-key
//   compat          --compat writer (key = signer public key) read by a --compat reader and
//                   by a reader opened without --compat
//   two-cores       --writer 2 and --reader K0,K1 over one connection
// Prints one line per check and a summary; exits 1 on any failure.

import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { createRequire } from 'node:module'
import { blockValue, sha256hex } from './blocks.mjs'
import { ChildPeer, Checks } from './child-peer.mjs'

const require = createRequire(import.meta.url)
const hcrypto = require('hypercore-crypto')

const DIR = path.dirname(fileURLToPath(import.meta.url))
const PEER = path.join(DIR, 'hypercore-peer.mjs')
const args = process.argv.slice(2)
const VERBOSE = args.includes('--verbose')
const onlyIdx = args.indexOf('--only')
const ONLY = onlyIdx >= 0 ? new Set(args[onlyIdx + 1].split(',')) : null

const checks = new Checks()
const check = checks.check.bind(checks)

// hypercore-peer.mjs as a child process, with a hard timeout of 2 minutes.
class Peer extends ChildPeer {
  constructor(name, argv) {
    super(name, PEER, ['--timeout', '120000', ...argv], VERBOSE)
  }

  async ready() {
    return this.waitEvent((e) => e.event === 'ready', 'ready', 60000)
  }

  async port() {
    return (await this.waitEvent((e) => e.event === 'listening', 'listening')).port
  }

  downloads(core = 0) {
    return new Set(this.events.filter((e) => e.event === 'download' && e.core === core).map((e) => e.index))
  }
}

// Starts `first` listening, then `second` connecting to it. Returns [listener, connector].
async function pair(listenName, listenArgs, connectName, connectArgsFn) {
  const l = new Peer(listenName, [...listenArgs, '--listen', '0'])
  const lr = await l.ready()
  const port = await l.port()
  const c = new Peer(connectName, [...connectArgsFn(lr), '--connect', '127.0.0.1:' + port])
  const cr = await c.ready()
  await Promise.all([
    l.waitEvent((e) => e.event === 'connected', 'connected'),
    c.waitEvent((e) => e.event === 'connected', 'connected')
  ])
  return { l, c, lr, cr }
}

const keyOf = (ready, i = 0) => ready.cores[i].key

function allHave(peer, core, n) {
  return (events) => {
    const s = new Set()
    for (const e of events) if (e.event === 'download' && e.core === core && e.index < n) s.add(e.index)
    return s.size >= n
  }
}

const scenarios = {
  // full-download, live-tail and truncate share one connection
  async 'full-download'() {
    const peers = []
    try {
      const { l: w, c: r, lr: wr, cr: rr } = await pair(
        'writer', ['--role', 'responder', '--writer', '1', '--blocks', '200', '--block-size', '1000'],
        'reader', (wr) => ['--role', 'initiator', '--reader', keyOf(wr), '--block-size', '1000', '--download-all']
      )
      peers.push(w, r)
      check(wr.cores[0].length === 200 && wr.cores[0].fork === 0, 'writer ready with 200 blocks', wr)
      check(rr.cores[0].key === wr.cores[0].key && rr.cores[0].discoveryKey === wr.cores[0].discoveryKey, 'reader opened the same key / discovery key')
      const wc = w.events.find((e) => e.event === 'connected')
      const rc = r.events.find((e) => e.event === 'connected')
      check(wc.remotePublicKey === rc.publicKey && rc.remotePublicKey === wc.publicKey && wc.handshakeHash === rc.handshakeHash, 'Noise keys and handshake hash agree')
      check(!wc.isInitiator && rc.isInitiator, 'listener is responder, connector initiator')
      await r.waitUntil(allHave(r, 0, 200), '200 downloads', 60000)
      check(true, 'reader got download events for 0..199')
      let ck = await r.cmd({ op: 'check', core: 0, start: 0, end: 200 })
      check(ck.ok && ck.missingCount === 0 && ck.wrongCount === 0, 'reader check 0..200 against the formula', ck)
      let ri = await r.cmd({ op: 'info', core: 0 })
      check(ri.length === 200 && ri.contiguousLength === 200 && ri.fork === 0 && ri.byteLength === 200000, 'reader info length 200, contiguous 200, 200000 bytes', ri)
      check(r.events.some((e) => e.event === 'peer-add') && w.events.some((e) => e.event === 'peer-add'), 'peer-add on both sides')

      console.log('live-tail')
      const ap = await w.cmd({ op: 'append', core: 0, count: 5 })
      check(ap.length === 205 && ap.fork === 0, 'writer append 5 → length 205', ap)
      await r.waitUntil(allHave(r, 0, 205), 'downloads 200..204', 20000)
      check([200, 201, 202, 203, 204].every((i) => r.downloads(0).has(i)), 'reader download events for 200..204')
      await r.waitEvent((e) => e.event === 'append' && e.length === 205, 'reader append event 205')
      check(true, 'reader append event with length 205')
      ck = await r.cmd({ op: 'check', core: 0, start: 0, end: 205 })
      check(ck.ok, 'reader check 0..205', ck)

      console.log('truncate')
      const tr = await w.cmd({ op: 'truncate', core: 0, length: 150 })
      check(tr.length === 150 && tr.fork === 1, 'writer truncate → length 150, fork 1', tr)
      const values = []
      for (let i = 0; i < 10; i++) values.push(Buffer.from(`replacement block ${150 + i} ` + 'x'.repeat(i * 37)).toString('hex'))
      const av = await w.cmd({ op: 'append-values', core: 0, values })
      check(av.length === 160 && av.fork === 1, 'writer append-values 10 → length 160, fork 1', av)
      let up = null
      for (let tries = 0; tries < 50; tries++) {
        up = await r.cmd({ op: 'update', core: 0 })
        if (up.length === 160 && up.fork === 1) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      check(up.length === 160 && up.fork === 1, 'reader update → length 160, fork 1', up)
      check(r.events.some((e) => e.event === 'truncate' && e.fork === 1), 'reader truncate event with fork 1')
      let allOk = true
      for (let i = 150; i < 160; i++) {
        const g = await r.cmd({ op: 'get', core: 0, index: i, timeout: 10000 })
        if (g.value !== values[i - 150]) allOk = false
      }
      check(allOk, 'reader get 150..159 returns the new values')
      // with --download-all the reader re-downloads everything; compare all hashes
      await r.cmd({ op: 'download', core: 0, start: 0, end: 160 })
      const wh = await w.cmd({ op: 'info', core: 0, hashes: true })
      const rh = await r.cmd({ op: 'info', core: 0, hashes: true })
      check(wh.hashes.length === 160 && JSON.stringify(wh.hashes) === JSON.stringify(rh.hashes), 'reader and writer hashes of all 160 blocks agree')
      check(rh.hashes[0] === sha256hex(blockValue(0, 0, 1000)) && rh.hashes[149] === sha256hex(blockValue(0, 149, 1000)), 'blocks 0..149 are still the formula')
      ck = await r.cmd({ op: 'check', core: 0, start: 0, end: 160 })
      check(!ck.ok && ck.wrongCount === 10 && ck.wrong[0] === 150, 'check flags exactly the 10 replaced blocks as wrong', ck)
      const pr = await w.cmd({ op: 'peers', core: 0 })
      check(pr.peers.length === 1 && pr.peers[0].remoteLength === 160 && pr.peers[0].remoteFork === 1, 'writer sees the reader at length 160, fork 1', pr)
      const code = await r.close()
      check(code === 0, 'reader close → exit 0')
      await w.waitEvent((e) => e.event === 'closed', 'writer closed event')
      check(true, 'writer sees the connection close')
      check((await w.close()) === 0, 'writer close → exit 0')
    } finally {
      peers.forEach((p) => p.kill())
    }
  },

  async 'sparse-get'() {
    const peers = []
    try {
      // writer must exist first to know the key: start it in connect mode after the reader
      // listens; the reader needs the key, so derive it from a throwaway writer run.
      const probe = new Peer('probe', ['--writer', '1'])
      peers.push(probe)
      const key = keyOf(await probe.ready())
      await probe.close()
      const { l: r, c: w } = await pair(
        'reader', ['--role', 'responder', '--reader', key, '--block-size', '1000'],
        'writer', () => ['--role', 'initiator', '--writer', '1', '--blocks', '200', '--block-size', '1000']
      )
      peers.push(r, w)
      check(w.events.find((e) => e.event === 'ready').cores[0].key === key, 'same seed gives the same key')
      check(r.events.find((e) => e.event === 'connected').isInitiator === false, 'listener (reader) is responder')
      for (const i of [7, 99, 150]) {
        const g = await r.cmd({ op: 'get', core: 0, index: i, timeout: 10000 })
        check(g.value === blockValue(0, i, 1000).toString('hex'), `sparse get ${i}`, g)
      }
      const absent = await r.cmd({ op: 'get', core: 0, index: 8, wait: false })
      check(absent.value === null && !absent.error, 'get 8 with wait:false → null', absent)
      const info = await r.cmd({ op: 'info', core: 0, hashes: true })
      const present = info.hashes.map((h, i) => (h ? i : -1)).filter((i) => i >= 0)
      check(info.length === 200 && JSON.stringify(present) === '[7,99,150]', 'reader stores exactly blocks 7, 99, 150', { length: info.length, present })
      const ck = await r.cmd({ op: 'check', core: 0, start: 0, end: 200 })
      check(!ck.ok && ck.missingCount === 197 && ck.wrongCount === 0, 'check: 197 missing, none wrong', ck)
      check(r.downloads(0).size === 3, 'exactly 3 download events', [...r.downloads(0)])
      check((await w.close()) === 0 && (await r.close()) === 0, 'both exit 0')
    } finally {
      peers.forEach((p) => p.kill())
    }
  },

  async encrypted() {
    const peers = []
    const ek = 'a5'.repeat(32)
    try {
      const { l: w, c: r, lr: wr } = await pair(
        'writer', ['--role', 'initiator', '--writer', '1', '--blocks', '100', '--block-size', '1000', '--encryption-key', ek],
        'reader', (wr) => ['--role', 'responder', '--reader', keyOf(wr), '--block-size', '1000', '--download-all', '--encryption-key', ek]
      )
      peers.push(w, r)
      check(w.events.find((e) => e.event === 'connected').isInitiator === true, 'listener (writer) is initiator here')
      await r.waitUntil(allHave(r, 0, 100), '100 downloads', 60000)
      const sizes = new Set(r.events.filter((e) => e.event === 'download').map((e) => e.byteLength))
      // hypercore reports byteLength minus the encryption padding in 'download' events
      check(sizes.size === 1 && sizes.has(1000), 'download events report 1000 bytes (the 8-byte padding not counted)', [...sizes])
      const ck = await r.cmd({ op: 'check', core: 0 })
      check(ck.ok && ck.end === 100, 'reader with the key: check 0..100 ok', ck)
      await w.cmd({ op: 'append', core: 0, count: 3 })
      await r.waitUntil(allHave(r, 0, 103), 'downloads 100..102')
      check((await r.cmd({ op: 'check', core: 0, start: 100, end: 103 })).ok, 'live encrypted blocks decrypt')
      await r.close()
      await w.close()

      // a reader without the key gets the stored form of block 0 (and writer restarts the
      // same core from the same seed: identical key)
      const p2 = await pair(
        'writer2', ['--role', 'responder', '--writer', '1', '--blocks', '10', '--block-size', '1000', '--encryption-key', ek],
        'keyless', (wr2) => ['--role', 'initiator', '--reader', keyOf(wr2), '--block-size', '1000']
      )
      peers.push(p2.l, p2.c)
      check(keyOf(p2.lr) === keyOf(wr), 'same key pair, same core key')
      const g = await p2.c.cmd({ op: 'get', core: 0, index: 0, timeout: 10000 })
      const raw = Buffer.from(g.value || '', 'hex')
      check(raw.length === 1008 && !raw.subarray(8).equals(blockValue(0, 0, 1000)), 'keyless reader sees 8 + 1000 bytes of ciphertext', { len: raw.length })
      await p2.c.close()
      await p2.l.close()

      // --block-key: the hex is the XSalsa20 block key itself
      const p3 = await pair(
        'writer3', ['--role', 'responder', '--writer', '1', '--blocks', '20', '--block-size', '1000', '--encryption-key', ek, '--block-key'],
        'reader3', (wr3) => ['--role', 'initiator', '--reader', keyOf(wr3), '--block-size', '1000', '--download-all', '--encryption-key', ek, '--block-key']
      )
      peers.push(p3.l, p3.c)
      await p3.c.waitUntil(allHave(p3.c, 0, 20), '20 downloads')
      check((await p3.c.cmd({ op: 'check', core: 0 })).ok, '--block-key: reader check 0..20 ok')
      await p3.c.close()
      await p3.l.close()
    } finally {
      peers.forEach((p) => p.kill())
    }
  },

  async compat() {
    const peers = []
    try {
      const { l: w, c: r, lr: wr } = await pair(
        'writer', ['--role', 'responder', '--writer', '1', '--blocks', '100', '--block-size', '1000', '--compat'],
        'reader', (wr) => ['--role', 'initiator', '--reader', keyOf(wr), '--block-size', '1000', '--download-all', '--compat']
      )
      peers.push(w, r)
      const pk = hcrypto.keyPair(Buffer.alloc(32, 1)).publicKey.toString('hex')
      check(keyOf(wr) === pk && wr.cores[0].compat === true, 'compat writer: key = signer public key', wr.cores[0])
      await r.waitUntil(allHave(r, 0, 100), '100 downloads', 60000)
      check((await r.cmd({ op: 'check', core: 0, end: 100 })).ok, 'compat reader: check 0..100 ok')
      await w.cmd({ op: 'truncate', core: 0, length: 90 })
      await w.cmd({ op: 'append', core: 0, count: 20 })
      let up = null
      for (let tries = 0; tries < 50; tries++) {
        up = await r.cmd({ op: 'update', core: 0 })
        if (up.length === 110 && up.fork === 1) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      check(up.length === 110 && up.fork === 1, 'compat truncate + append seen by the reader', up)
      await r.cmd({ op: 'download', core: 0, start: 0, end: 110 })
      check((await r.cmd({ op: 'check', core: 0, end: 110 })).ok, 'compat reader: check 0..110 ok after the fork')
      await r.close()
      await w.close()

      const p2 = await pair(
        'writer2', ['--role', 'responder', '--writer', '1', '--blocks', '50', '--block-size', '1000', '--compat'],
        'plain-reader', (wr2) => ['--role', 'initiator', '--reader', keyOf(wr2), '--block-size', '1000', '--download-all']
      )
      peers.push(p2.l, p2.c)
      await p2.c.waitUntil(allHave(p2.c, 0, 50), '50 downloads', 60000)
      check((await p2.c.cmd({ op: 'check', core: 0, end: 50 })).ok, 'reader opened without --compat reads a compat core')
      await p2.c.close()
      await p2.l.close()

      // and the default (non-compat) key is the manifest hash, not the public key
      const nc = new Peer('noncompat', ['--writer', '1'])
      peers.push(nc)
      const ncr = await nc.ready()
      check(keyOf(ncr) !== pk && ncr.cores[0].compat === false, 'default writer key is not the public key (manifest hash)')
      await nc.close()
    } finally {
      peers.forEach((p) => p.kill())
    }
  },

  async 'two-cores'() {
    const peers = []
    try {
      const { l: r, c: w, lr: rr, cr: wr } = await (async () => {
        const probe = new Peer('probe', ['--writer', '2'])
        peers.push(probe)
        const pr = await probe.ready()
        await probe.close()
        return pair(
          'reader', ['--role', 'initiator', '--reader', keyOf(pr, 0) + ',' + keyOf(pr, 1), '--block-size', '1000', '--download-all'],
          'writer', () => ['--role', 'responder', '--writer', '2', '--blocks', '50', '--block-size', '1000']
        )
      })()
      peers.push(r, w)
      check(keyOf(wr, 0) !== keyOf(wr, 1) && keyOf(rr, 0) === keyOf(wr, 0) && keyOf(rr, 1) === keyOf(wr, 1), 'two distinct cores, same keys on both sides')
      await r.waitUntil(allHave(r, 0, 50), 'core 0: 50 downloads', 60000)
      await r.waitUntil(allHave(r, 1, 50), 'core 1: 50 downloads', 60000)
      check((await r.cmd({ op: 'check', core: 0 })).ok, 'core 0 check ok')
      check((await r.cmd({ op: 'check', core: 1 })).ok, 'core 1 check ok (formula core 1)')
      check(!(await r.cmd({ op: 'check', core: 1, as: 0 })).ok, 'core 1 differs from formula core 0')
      await w.cmd({ op: 'append', core: 1, count: 2 })
      await r.waitUntil(allHave(r, 1, 52), 'core 1: downloads 50, 51')
      check(r.downloads(0).size === 50 && r.downloads(1).size === 52, 'live append on core 1 only reaches core 1')
      const conns = r.events.filter((e) => e.event === 'connected').length
      check(conns === 1 && r.events.filter((e) => e.event === 'peer-add').length === 2, 'one connection, a peer-add per core')
      await r.close()
      await w.close()
    } finally {
      peers.forEach((p) => p.kill())
    }
  }
}

const t0 = Date.now()
for (const [name, fn] of Object.entries(scenarios)) {
  if (ONLY && !ONLY.has(name)) continue
  console.log(name)
  try {
    await fn()
  } catch (err) {
    check(false, `${name}: ${err.message}`)
  }
}
console.log(`hypercore selftest: ${((Date.now() - t0) / 1000).toFixed(1)} s`)
console.log(`${checks.passed} passed, ${checks.failed} failed`)
if (checks.failed) {
  console.log('FAILED: ' + checks.failures.join('; '))
  process.exit(1)
}
