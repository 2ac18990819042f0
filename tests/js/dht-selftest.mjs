#!/usr/bin/env node
// JS <-> JS self-test of dht-peer.mjs (hyperdht 6.34.0 on loopback): proves the peer script
// does what its header says before Rust tests lean on it.
//
//   node dht-selftest.mjs [--verbose]
//
// One peer runs a 5-node testnet in-process; two more (A, B) bootstrap from it as ephemeral
// clients. Checks: the testnet and ping; announce/lookup/unannounce of a topic; immutable
// put/get (and a miss); mutable put/get, a newer seq wins and a stale seq does not;
// listen/findPeer/connect with the keys checked on both ends and data both ways (echo and
// send); connections close when one side ends; Hyperswarm join (server/client) connects
// A and B with data across, flush, leave unannounces; every peer exits 0. Then a lone bootstrap
// node on a known port (persistent, id = hash of its address) with two --persistent clients
// that announce and look up through it.
// Prints one line per check and `N passed, N failed`; exit 1 on any failure.

import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { createSocket } from 'node:dgram'
import { createRequire } from 'node:module'
import { ChildPeer, Checks } from './child-peer.mjs'
import { hex } from './jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const { id: peerId } = require('dht-rpc/lib/peer.js')
const here = dirname(fileURLToPath(import.meta.url))
const script = join(here, 'dht-peer.mjs')
const verbose = process.argv.includes('--verbose')
const t = new Checks()
const rand = (n) => randomBytes(n).toString('hex')
const text = (s) => Buffer.from(s).toString('hex')
const started = performance.now()

// A lone bootstrap node on a known port (DHT.bootstrapper) and persistent clients of it.
async function bootstrapNode() {
  console.log('a bootstrap node and persistent clients')
  const port = await freePort()
  const boot = new ChildPeer('BOOT', script, ['--port', String(port), '--timeout', '60000'], verbose)
  peers.push(boot)
  const r0 = await boot.waitEvent((e) => e.event === 'ready', 'bootstrap ready', 30000)
  const expectId = hex(peerId('127.0.0.1', port))
  t.check(r0.port === port && !r0.ephemeral && r0.nodeId === expectId, 'the bootstrap node is persistent with id = hash(ip:port) from the start', r0)
  const args = ['--bootstrap', `127.0.0.1:${port}`, '--persistent', '--timeout', '60000']
  const p = new ChildPeer('P', script, args, verbose)
  const q = new ChildPeer('Q', script, args, verbose)
  peers.push(p, q)
  const rp = await p.waitEvent((e) => e.event === 'ready', 'P ready', 30000)
  const rq = await q.waitEvent((e) => e.event === 'ready', 'Q ready', 30000)
  t.check(!rp.ephemeral && rp.nodeId === hex(peerId('127.0.0.1', rp.port)) && !rq.ephemeral, '--persistent clients get their node ids', [rp, rq])
  const topic = rand(32)
  const ann = await p.cmd({ op: 'announce', topic })
  const found = await q.cmd({ op: 'lookup', topic })
  t.check(!ann.error && found.peers.some((x) => x.publicKey === rp.publicKey), `announce/lookup through the bootstrap node (${ann.closest} closest)`, [ann, found])
  const codes = [await p.close(), await q.close(), await boot.close()]
  t.check(codes.every((x) => x === 0), 'they exit 0', codes)
}

// A UDP port that was free a moment ago on loopback.
function freePort() {
  return new Promise((resolve) => {
    const sock = createSocket('udp4')
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address()
      sock.close(() => resolve(port))
    })
  })
}

const net = new ChildPeer('T', script, ['--testnet', '5', '--timeout', '60000'], verbose)
const peers = [net]
try {
  const rt = await net.waitEvent((e) => e.event === 'ready', 'testnet ready', 30000)
  t.check(rt.testnet.length === 5 && rt.bootstrap.length === 1, 'a 5-node testnet is up', rt)
  t.check(rt.testnet.filter((n) => /^[0-9a-f]{64}$/.test(n.nodeId || '')).length >= 4, 'persistent testnet nodes have node ids', rt.testnet)
  const boot = rt.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const a = new ChildPeer('A', script, ['--bootstrap', boot, '--timeout', '60000'], verbose)
  const b = new ChildPeer('B', script, ['--bootstrap', boot, '--timeout', '60000', '--seed', rand(32)], verbose)
  peers.push(a, b)
  const ra = await a.waitEvent((e) => e.event === 'ready', 'A ready', 30000)
  const rb = await b.waitEvent((e) => e.event === 'ready', 'B ready', 30000)
  t.check(ra.ephemeral && rb.ephemeral && ra.publicKey !== rb.publicKey, 'clients are ephemeral with their own keys', [ra, rb])

  const pong = await a.cmd({ op: 'ping', host: rt.bootstrap[0].host, port: rt.bootstrap[0].port })
  t.check(!pong.error && pong.pong.port === rt.bootstrap[0].port, 'ping the bootstrap node', pong)

  console.log('announce / lookup / unannounce')
  const topic = rand(32)
  const ann = await a.cmd({ op: 'announce', topic })
  t.check(!ann.error && ann.publicKey === ra.publicKey && ann.closest > 0, `announced to ${ann.closest} closest nodes`, ann)
  const found = await b.cmd({ op: 'lookup', topic })
  t.check(!found.error && found.peers.some((p) => p.publicKey === ra.publicKey), `lookup finds the announcer (${found.replies} replies)`, found)
  const other = await b.cmd({ op: 'lookup', topic: rand(32) })
  t.check(!other.error && other.peers.length === 0, 'lookup of another topic finds nobody', other)
  const un = await a.cmd({ op: 'unannounce', topic })
  const gone = await b.cmd({ op: 'lookup', topic })
  t.check(!un.error && !gone.error && gone.peers.length === 0, 'after unannounce the lookup is empty', [un, gone])

  console.log('immutable put / get')
  const value = rand(100)
  const ip = await a.cmd({ op: 'immutablePut', value })
  t.check(!ip.error && /^[0-9a-f]{64}$/.test(ip.hash) && ip.closest > 0, 'immutablePut stores', ip)
  const ig = await b.cmd({ op: 'immutableGet', hash: ip.hash })
  t.check(!ig.error && ig.value === value && ig.from !== null, 'immutableGet from the other peer returns the value', ig)
  const miss = await b.cmd({ op: 'immutableGet', hash: rand(32) })
  t.check(!miss.error && miss.value === null, 'immutableGet of an unknown hash is null', miss)

  console.log('mutable put / get')
  const seed = rand(32)
  const m1 = await a.cmd({ op: 'mutablePut', value: text('v1'), seq: 1, seed })
  const g1 = await b.cmd({ op: 'mutableGet', publicKey: m1.publicKey })
  t.check(!m1.error && g1.value === text('v1') && g1.seq === 1 && g1.signature === m1.signature, 'mutableGet returns value, seq and signature', [m1, g1])
  const m2 = await a.cmd({ op: 'mutablePut', value: text('v2'), seq: 2, seed })
  const g2 = await b.cmd({ op: 'mutableGet', publicKey: m1.publicKey })
  t.check(!m2.error && g2.value === text('v2') && g2.seq === 2, 'a newer seq replaces the value', g2)
  const stale = await b.cmd({ op: 'mutablePut', value: text('old'), seq: 1, seed })
  const g3 = await a.cmd({ op: 'mutableGet', publicKey: m1.publicKey })
  // hyperdht's mutablePut does not fail when nodes refuse a stale seq (the commit swallows
  // SEQ_TOO_LOW); what matters is that the stored value stays.
  t.check(g3.value === text('v2') && g3.seq === 2, `a stale seq does not replace the value (put ${stale.error ? 'failed: ' + stale.error : 'resolved'})`, [stale, g3])
  const nm = await b.cmd({ op: 'mutableGet', publicKey: rand(32) })
  t.check(!nm.error && nm.value === null, 'mutableGet of an unknown key is null', nm)

  console.log('listen / findPeer / connect')
  const l = await b.cmd({ op: 'listen' })
  t.check(!l.error && l.publicKey === rb.publicKey, 'B listens on its key pair', l)
  const fp = await a.cmd({ op: 'findPeer', publicKey: rb.publicKey })
  t.check(!fp.error && fp.found && fp.peer.publicKey === rb.publicKey, 'findPeer finds the server', fp)
  const c = await a.cmd({ op: 'connect', publicKey: rb.publicKey, data: text('hello from A') })
  t.check(!c.error && c.connected && c.remotePublicKey === rb.publicKey && c.publicKey === ra.publicKey, `A connected to B in ${c.ms} ms`, c)
  const inc = await b.waitEvent((e) => e.event === 'connection', 'B connection')
  t.check(inc.remotePublicKey === ra.publicKey && inc.server === rb.publicKey, 'B sees A by its public key', inc)
  const got = await b.waitEvent((e) => e.event === 'data' && e.conn === inc.conn, 'B data')
  t.check(got.data === text('hello from A'), 'B received A\'s data', got)
  const echo = await a.waitEvent((e) => e.event === 'data' && e.conn === c.conn, 'A echo')
  t.check(echo.data === text('hello from A'), 'A received the echo', echo)
  const s = await b.cmd({ op: 'send', conn: inc.conn, data: text('hi from B') })
  const got2 = await a.waitUntil((ev) => ev.some((e) => e.event === 'data' && e.data === text('hi from B')), 'A data from B').then(() => true, () => false)
  t.check(!s.error && got2, 'A received B\'s own data', s)
  const ce = await a.cmd({ op: 'end', conn: c.conn })
  const ca = await a.waitEvent((e) => e.event === 'closed' && e.conn === c.conn, 'A closed')
  const cb = await b.waitEvent((e) => e.event === 'closed' && e.conn === inc.conn, 'B closed')
  t.check(!ce.error && ca.error === null && cb.error === null, 'both ends close cleanly after A ends', [ca, cb])
  const bad = await a.cmd({ op: 'connect', publicKey: rand(32) }, 40000)
  t.check(bad.error !== undefined, 'connect to a key nobody listens on fails', bad)

  console.log('hyperswarm join')
  const st = rand(32)
  const ja = await a.cmd({ op: 'join', topic: st, client: false, seed: rand(32) })
  const jb = await b.cmd({ op: 'join', topic: st, server: false, echo: true })
  t.check(!ja.error && !jb.error && ja.publicKey !== ra.publicKey && jb.publicKey === rb.publicKey, 'A joins as server (own seed), B as client', [ja, jb])
  const sa = await a.waitEvent((e) => e.event === 'swarmConnection', 'A swarm connection')
  const sb = await b.waitEvent((e) => e.event === 'swarmConnection', 'B swarm connection')
  t.check(sa.remotePublicKey === jb.publicKey && sb.remotePublicKey === ja.publicKey, 'the swarm connects them, each sees the other\'s key', [sa, sb])
  t.check(!sa.client && sb.client && sb.topics.includes(st), 'B dialed (client) for the topic, A accepted', [sa, sb])
  await a.cmd({ op: 'send', conn: sa.conn, data: text('over the swarm') })
  const sEcho = await a.waitEvent((e) => e.event === 'data' && e.conn === sa.conn, 'A swarm echo')
  t.check(sEcho.data === text('over the swarm'), 'data over the swarm connection comes back (B echoes)', sEcho)
  const fl = await b.cmd({ op: 'flush' })
  t.check(!fl.error && fl.connections === 1, 'flush: one swarm connection', fl)
  const lv = await a.cmd({ op: 'leave', topic: st })
  const afterLeave = await b.cmd({ op: 'lookup', topic: st })
  t.check(!lv.error && !afterLeave.peers.some((x) => x.publicKey === ja.publicKey), 'after leave the server is no longer announced', afterLeave)

  const codes = [await a.close(), await b.close(), await net.close()]
  t.check(codes.every((x) => x === 0), 'every peer exits 0', codes)

  await bootstrapNode()
} catch (err) {
  t.check(false, 'no exception: ' + err.message)
  for (const p of peers) p.kill()
  for (const p of peers) if (p.stderr) console.log(`  [${p.name} stderr] ${p.stderr.slice(-800)}`)
}
console.log(`dht selftest: ${Math.round(performance.now() - started)} ms`)
console.log(`${t.passed} passed, ${t.failed} failed`)
process.exit(t.failed ? 1 : 0)
