#!/usr/bin/env node
// JS <-> JS self-test of udx-peer.mjs (udx-native 1.21.3 on loopback): proves the peer
// script does what its header says before Rust tests lean on it.
//
//   node udx-selftest.mjs [--bytes N] [--verbose]
//
// 1. bulk: peer A sources N bytes (default 256 MiB) of content.mjs base 0 to peer B's sink;
//    B checks every byte, both report the same SHA-256, both streams close cleanly.
// 2. a corrupted expectation is caught: the sink is told base 0x80000000 while the source
//    sends base 0, so it must report a mismatch at offset 0 (the check can fail).
// 3. echo + messages: B echoes; A sources 1 MiB and sinks the echo on a second stream pair;
//    MESSAGE datagrams both ways arrive with their content.
// 4. a datagram for an unknown stream id reaches the socket as `socketMessage`.
// Prints one line per check and `N passed, N failed`; exit 1 on any failure.

import { createHash } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { ChildPeer, Checks } from './child-peer.mjs'
import { fill } from './content.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const script = join(here, 'udx-peer.mjs')
const verbose = process.argv.includes('--verbose')
const bi = process.argv.indexOf('--bytes')
const BYTES = bi >= 0 ? Number(process.argv[bi + 1]) : 256 * 1024 * 1024
const t = new Checks()

async function pair() {
  const a = new ChildPeer('A', script, ['--timeout', '300000'], verbose)
  const b = new ChildPeer('B', script, ['--timeout', '300000'], verbose)
  const ra = await a.waitEvent((e) => e.event === 'ready', 'ready')
  const rb = await b.waitEvent((e) => e.event === 'ready', 'ready')
  return { a, b, ra, rb }
}

async function connect(a, sa, pa, b, sb, pb) {
  await a.cmd({ op: 'connect', stream: sa, remoteId: sb, port: pb })
  await b.cmd({ op: 'connect', stream: sb, remoteId: sa, port: pa })
}

const sha = (n, base) => createHash('sha256').update(fill(Buffer.allocUnsafe(n), 0, base)).digest('hex')

async function bulk() {
  console.log(`bulk: ${BYTES} bytes A -> B`)
  const { a, b, ra, rb } = await pair()
  await connect(a, ra.stream, ra.port, b, rb.stream, rb.port)
  await b.cmd({ op: 'sink', bytes: BYTES })
  await a.cmd({ op: 'source', bytes: BYTES })
  const sunk = await b.waitEvent((e) => e.event === 'sinkDone', 'sinkDone', 240000)
  const sourced = await a.waitEvent((e) => e.event === 'sourceDone', 'sourceDone', 240000)
  t.check(sunk.ok && sunk.bytes === BYTES && sunk.firstMismatch === -1, 'sink received every byte, content checked', sunk)
  t.check(!sourced.error && sourced.sha256 === sunk.sha256, 'source and sink SHA-256 match', [sourced, sunk])
  await a.waitEvent((e) => e.event === 'closed', 'A closed')
  const cb = await b.waitEvent((e) => e.event === 'closed', 'B closed')
  t.check(cb.error === null, 'both streams closed without error', cb)
  const st = await a.cmd({ op: 'stats' })
  t.check(st.bytesTransmitted >= BYTES && st.packetsTransmitted >= BYTES / 1500, 'stats count what was sent', st)
  console.log(`  ${sunk.mbps} MB/s (sink, first byte to END), ${sourced.mbps} MB/s (source, to all acked)`)
  t.check((await a.close()) === 0 && (await b.close()) === 0, 'both peers exit 0')
  return sunk.mbps
}

async function mismatch() {
  console.log('mismatch: the sink expects the other base')
  const { a, b, ra, rb } = await pair()
  await connect(a, ra.stream, ra.port, b, rb.stream, rb.port)
  await b.cmd({ op: 'sink', bytes: 100000, base: 0x80000000 })
  await a.cmd({ op: 'source', bytes: 100000 })
  const sunk = await b.waitEvent((e) => e.event === 'sinkDone', 'sinkDone')
  t.check(!sunk.ok && sunk.firstMismatch === 0 && sunk.bytes === 100000, 'mismatch reported at offset 0', sunk)
  t.check(sunk.sha256 === sha(100000, 0), 'the sink hashes what it got', sunk)
  await a.close()
  await b.close()
}

async function echoAndMessages() {
  console.log('echo + messages')
  const { a, b, ra, rb } = await pair()
  await connect(a, ra.stream, ra.port, b, rb.stream, rb.port)
  await b.cmd({ op: 'echo' })
  await a.cmd({ op: 'sink', bytes: 1 << 20, base: 7 })
  await a.cmd({ op: 'source', bytes: 1 << 20, base: 7, chunk: 1000 })
  const sunk = await a.waitEvent((e) => e.event === 'sinkDone', 'sinkDone')
  t.check(sunk.ok && sunk.sha256 === sha(1 << 20, 7), 'echoed 1 MiB came back intact', sunk)

  // a second stream pair on the same sockets for the datagrams
  const s2a = (await a.cmd({ op: 'stream' })).stream
  const s2b = (await b.cmd({ op: 'stream', streamId: 12345 })).stream
  t.check(s2b === 12345, 'stream with a chosen id')
  await connect(a, s2a, ra.port, b, s2b, rb.port)
  const r1 = await a.cmd({ op: 'send', stream: s2a, data: 'deadbeef' })
  const r2 = await b.cmd({ op: 'send', stream: s2b, data: '00ff00ff' + 'ab'.repeat(1000) })
  t.check(r1.sent === true && r2.sent === true, 'send replies sent: true', [r1, r2])
  const m1 = await b.waitEvent((e) => e.event === 'message', 'message at B', 5000)
  const m2 = await a.waitEvent((e) => e.event === 'message', 'message at A', 5000)
  t.check(m1.stream === s2b && m1.data === 'deadbeef', 'A -> B message', m1)
  t.check(m2.stream === s2a && m2.data === '00ff00ff' + 'ab'.repeat(1000), 'B -> A message (1004 bytes)', m2.data.length)
  await a.close()
  await b.close()
}

async function unknownStream() {
  console.log('a datagram for an unknown stream')
  const a = new ChildPeer('A', script, ['--timeout', '30000'], verbose)
  const ra = await a.waitEvent((e) => e.event === 'ready', 'ready')
  // a UDX DATA header (magic 0xff, version 1, flags DATA, data offset 0, id, rwnd, seq, ack)
  const pkt = Buffer.alloc(24)
  pkt[0] = 0xff
  pkt[1] = 1
  pkt[2] = 1
  pkt.writeUInt32LE((ra.stream + 1) >>> 0, 4)
  pkt.writeUInt32LE(65536, 8)
  pkt.write('ping', 20)
  const u = createSocket('udp4')
  await new Promise((resolve) => u.send(pkt, ra.port, '127.0.0.1', resolve))
  const m = await a.waitEvent((e) => e.event === 'socketMessage', 'socketMessage', 5000)
  t.check(m.len === 24 && m.data === pkt.toString('hex'), 'socketMessage carries the datagram', m)
  u.close()
  await a.close()
}

try {
  await bulk()
  await mismatch()
  await echoAndMessages()
  await unknownStream()
} catch (err) {
  t.check(false, 'no exception', err.stack)
}
console.log(`${t.passed} passed, ${t.failed} failed`)
process.exit(t.failed ? 1 : 0)
