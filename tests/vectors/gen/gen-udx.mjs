// Regenerates tests/vectors/udx/packets.json: UDX datagrams exactly as udx-native (libudx)
// sends them, captured on loopback by a plain `dgram` socket that plays the peer.
//
// Usage (from this folder):   npm ci && node gen-udx.mjs [outdir]
// Default outdir: tests/vectors/udx (../udx from this script).
//
// Each scenario uses a fresh udx-native stream with fixed local and remote ids, fixed
// payloads, and a controller that answers every data packet at once, so every run
// captures the same bytes: nothing depends on timing except retransmissions, which the
// capture ignores (only the first copy of each sequence number is kept) and which do not
// happen when every packet is acknowledged within a millisecond.
//
// Scenarios:
//  - send: udx-native writes data (one short and one long write, so a full-MTU packet and
//    a short one), then ends; DATA and END packets as sent, every one acked by us.
//  - message: stream.send() (a MESSAGE datagram).
//  - destroy: stream.destroy() (DESTROY).
//  - acks: we send DATA with gaps (seq 0, 2, 3, 5), a HEARTBEAT, then fill the gaps; the
//    state packets udx-native answers with (cumulative acks, SACK blocks), and what it read.
//  - mtuProbe: after the first acked flight, libudx pads one full DATA packet to probe
//    the next MTU step (first a probe at the base MTU, 1200, with no padding, then 1232
//    with 32 bytes of padding, then 1264 with 64).
//
// A libudx quirk shows in the captures: a stream's first packet is sized before
// `connect` knows the address family, with the IPv6 overhead (1200 - 68 = 1132 bytes of
// payload), so a long first write leaves in a 1132-byte packet and a short one.

import { createRequire } from 'module'
import dgram from 'dgram'
import fs from 'fs'
import path from 'path'
import { fileURLToPath } from 'url'
import { hex, pkgVersion } from './common.mjs'

const require = createRequire(import.meta.url)
const here = path.dirname(fileURLToPath(import.meta.url))
const OUT = path.resolve(process.argv[2] || path.join(here, '..', 'udx'))
const UDX = require('udx-native')
const b4a = require('b4a')

const RWND = 4 * 1024 * 1024
const HOST = '127.0.0.1'

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// The 20-byte header as libudx writes it.
function header(flags, streamId, seq, ack, dataOffset = 0, rwnd = RWND) {
  const b = b4a.alloc(20)
  b[0] = 0xff
  b[1] = 1
  b[2] = flags
  b[3] = dataOffset
  b.writeUInt32LE(streamId, 4)
  b.writeUInt32LE(rwnd, 8)
  b.writeUInt32LE(seq, 12)
  b.writeUInt32LE(ack, 16)
  return b
}

// Decodes a datagram the way libudx's process_packet reads it.
function decode(buf) {
  const flags = buf[2]
  const dataOffset = buf[3]
  const rest = buf.subarray(20)
  const sacks = []
  if (flags & 4) {
    const area = dataOffset > 0 && dataOffset < rest.length ? rest.subarray(0, dataOffset) : rest
    for (let i = 0; i + 8 <= area.length; i += 8) {
      sacks.push([area.readUInt32LE(i), area.readUInt32LE(i + 4)])
    }
  }
  return {
    flags,
    dataOffset,
    streamId: buf.readUInt32LE(4),
    rwnd: buf.readUInt32LE(8),
    seq: buf.readUInt32LE(12),
    ack: buf.readUInt32LE(16),
    sacks,
    paddingLen: dataOffset,
    payload: hex(rest.subarray(dataOffset))
  }
}

// A controller socket that records what udx-native sends it.
class Peer {
  constructor(sock) {
    this.sock = sock
    this.got = []
    this.waiters = []
    sock.on('message', (buf) => {
      this.got.push(b4a.from(buf))
      for (const w of this.waiters.slice()) w()
    })
  }

  // Distinct data-carrying sequence numbers received so far.
  dataSeqs() {
    return new Set(this.got.filter((b) => b[2] & 3).map((b) => b.readUInt32LE(12)))
  }

  // Waits until `n` distinct DATA/END sequence numbers arrived.
  async untilData(n, what) {
    const deadline = Date.now() + 5000
    while (this.dataSeqs().size < n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await sleep(1)
    }
  }

  // Acknowledges everything received (ack = highest DATA/END seq + 1).
  ackAll(localId, port) {
    const seqs = [...this.dataSeqs()]
    const ack = seqs.length ? Math.max(...seqs) + 1 : 0
    return this.send(header(0, localId, 0, ack), port)
  }

  send(buf, port) {
    return new Promise((resolve, reject) =>
      this.sock.send(buf, port, HOST, (err) => (err ? reject(err) : resolve()))
    )
  }

  // Waits until at least `n` datagrams arrived in total.
  async until(n, what) {
    const deadline = Date.now() + 5000
    while (this.got.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => {
        const w = () => {
          this.waiters = this.waiters.filter((x) => x !== w)
          resolve()
        }
        this.waiters.push(w)
        setTimeout(w, 50)
      })
    }
  }
}

const packets = []
function record(name, description, direction, buf, extra = {}) {
  packets.push({ name, description, direction, hex: hex(buf), decoded: decode(buf), ...extra })
}

// First copy of each (flags, seq) among datagrams from udx-native, in arrival order.
function firstCopies(bufs) {
  const seen = new Set()
  const out = []
  for (const b of bufs) {
    const k = b[2] + ':' + b.readUInt32LE(12) + ':' + b.length
    if (seen.has(k)) continue
    seen.add(k)
    out.push(b)
  }
  return out
}

async function setup(localId, remoteId) {
  const udx = new UDX()
  const socket = udx.createSocket()
  socket.bind(0, HOST)
  const ctl = dgram.createSocket('udp4')
  await new Promise((resolve) => ctl.bind(0, HOST, resolve))
  const peer = new Peer(ctl)
  const stream = udx.createStream(localId)
  stream.on('error', () => {})
  stream.connect(socket, remoteId, ctl.address().port, HOST)
  const port = socket.address().port
  const close = async () => {
    stream.destroy()
    await sleep(20)
    await socket.close()
    ctl.close()
  }
  return { udx, socket, stream, peer, port, close }
}

const pattern = (n, k) => {
  const b = b4a.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + k) & 0xff
  return b
}

async function scenarioSend() {
  const LOCAL = 0x0a0b0c0d
  const REMOTE = 0x01020304
  const { stream, peer, port, close } = await setup(LOCAL, REMOTE)
  stream.write(b4a.from('hello udx'))
  await peer.untilData(1, 'the first DATA')
  await peer.ackAll(LOCAL, port)
  await sleep(10)
  stream.write(pattern(2000, 1))
  await peer.untilData(3, 'two more DATA')
  await peer.ackAll(LOCAL, port)
  await sleep(10)
  stream.end()
  await peer.untilData(4, 'END')
  await peer.ackAll(LOCAL, port)
  await sleep(20)
  const [d0, d1, d2, end] = firstCopies(peer.got.filter((b) => b[2] & 3))
  record('data', 'DATA as udx-native sends a short write', 'fromUdx', d0)
  record('data-full', 'DATA filling a packet at the base MTU (1200 - 48)', 'fromUdx', d1)
  record('data-rest', 'DATA with the rest of the write', 'fromUdx', d2)
  record('end', 'END after the data (no payload)', 'fromUdx', end)
  assert(d1.length === 1200 - 28, 'a full packet at the base MTU: ' + d1.length)
  await close()
}

async function scenarioMessage() {
  const LOCAL = 0x11111111
  const REMOTE = 0x22222222
  const { stream, peer, close } = await setup(LOCAL, REMOTE)
  await stream.send(b4a.from('an unordered datagram'))
  await peer.until(1, 'MESSAGE')
  record('message', 'MESSAGE from stream.send()', 'fromUdx', peer.got[0])
  await close()
}

async function scenarioDestroy() {
  const LOCAL = 0x33333333
  const REMOTE = 0x44444444
  const { stream, peer, socket } = await setup(LOCAL, REMOTE)
  stream.destroy()
  await peer.until(1, 'DESTROY')
  record('destroy', 'DESTROY from stream.destroy() on an idle stream', 'fromUdx', peer.got[0])
  await sleep(20)
  await socket.close()
  peer.sock.close()
}

async function scenarioAcks() {
  const LOCAL = 0x55555555
  const REMOTE = 0x66666666
  const { stream, peer, port, close } = await setup(LOCAL, REMOTE)
  const read = []
  stream.on('data', (d) => read.push(b4a.from(d)))
  const steps = [
    ['ack-in-order', 'ack of DATA seq 0', header(1, LOCAL, 0, 0), 'a'],
    ['sack-one-gap', 'ack of DATA seq 2 (seq 1 missing): one SACK block', header(1, LOCAL, 2, 0), 'c'],
    ['sack-grows', 'ack of DATA seq 3: the block grows', header(1, LOCAL, 3, 0), 'd'],
    ['sack-two-blocks', 'ack of DATA seq 5: two SACK blocks', header(1, LOCAL, 5, 0), 'f'],
    ['heartbeat-ack', 'the ack a HEARTBEAT forces', header(32, LOCAL, 6, 0), null],
    ['sack-fill-first', 'ack of DATA seq 1: the first gap filled', header(1, LOCAL, 1, 0), 'b'],
    ['ack-all', 'ack of DATA seq 4: everything in order', header(1, LOCAL, 4, 0), 'e'],
    ['ack-duplicate', 'ack of a duplicate DATA seq 2', header(1, LOCAL, 2, 0), 'c']
  ]
  let n = 0
  for (const [name, description, h, payload] of steps) {
    const sent = payload === null ? h : b4a.concat([h, b4a.from(payload)])
    record(name + '-sent', 'what we sent: ' + description.replace('ack of ', ''), 'toUdx', sent)
    await peer.send(sent, port)
    n++
    await peer.until(n, name)
    record(name, description, 'fromUdx', peer.got[n - 1], { answers: name + '-sent' })
  }
  await sleep(20)
  const text = b4a.toString(b4a.concat(read))
  assert(text === 'abcdef', 'udx-native read ' + text)
  packets.push({ name: 'acks-read', description: 'what udx-native read from the DATA we sent', direction: 'note', readText: text })
  await close()
}

async function scenarioMtuProbe() {
  const LOCAL = 0x77777777
  const REMOTE = 0x88888888
  const { stream, peer, port, close } = await setup(LOCAL, REMOTE)
  const FULL = 1200 - 48
  // Each write is acked as soon as it arrived: the first ack starts the search, the
  // next full packet probes the base MTU (no padding), the one after that probes 1232.
  for (let i = 0; i < 4; i++) {
    const before = peer.dataSeqs().size
    stream.write(pattern(FULL, 2 + i))
    await peer.untilData(before + 1, 'write ' + i)
    await sleep(5)
    await peer.ackAll(LOCAL, port)
    await sleep(10)
  }
  const got = firstCopies(peer.got)
  const probes = got.filter((b) => b[3] > 0)
  assert(probes.length >= 2, 'two padded probes')
  record('mtu-probe-1232', 'a full DATA packet padded by 32 bytes to probe MTU 1232', 'fromUdx', probes[0])
  record('mtu-probe-1264', 'the next step: padded by 64 bytes to probe MTU 1264', 'fromUdx', probes[1])
  await close()
}

await scenarioSend()
await scenarioMessage()
await scenarioDestroy()
await scenarioAcks()
await scenarioMtuProbe()

fs.mkdirSync(OUT, { recursive: true })
const out = {
  generator: {
    script: 'tests/vectors/gen/gen-udx.mjs',
    packages: { 'udx-native': pkgVersion('udx-native') }
  },
  udxPackets: packets
}
fs.writeFileSync(path.join(OUT, 'packets.json'), JSON.stringify(out, null, 2) + '\n')
console.log('wrote packets.json,', packets.length, 'entries')
