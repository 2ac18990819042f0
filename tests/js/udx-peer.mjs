#!/usr/bin/env node
// Scriptable udx-native 1.21.3 peer for ferrocore's UDX interop tests and the UDX benchmark:
// one process = one UDX instance = one UDP socket bound on loopback, carrying any number of
// raw UDX streams (no encryption: that is secret-stream's job, not UDX's). Driven by JSON
// lines on stdin, reports JSON lines on stdout (nothing else goes to stdout; logs go to
// stderr). Same plumbing as corestore-peer.mjs (jsonl-peer.mjs).
//
//   node udx-peer.mjs [--host 127.0.0.1] [--port 0] [--id N] [--timeout MS]
//
//   --host/--port  where the socket binds (default 127.0.0.1 and 0 = an ephemeral port).
//   --id N         local id of the first stream (default: a random u32, as JS apps draw it).
//   --timeout MS   hard exit (code 3) after MS milliseconds (default 0 = none).
//
// First line: {"event":"ready","host":h,"port":p,"stream":id}: the socket is bound and the
// first stream exists (created, not yet connected). UDX has no handshake: a stream sends to
// (remote id, remote address) once connected, and receives every packet addressed to its
// own id on this socket.
//
// Commands run one at a time, in order; every reply is {"reply":op,"id":<the command's id>,
// ...}; a failed command replies {"reply":op,"id":..,"error":msg}. Every command about a
// stream takes "stream": its local id (default: the first stream). Hex is lower-case.
//
//   {"op":"stream","streamId":n?}    create another stream (id n, default random)  → stream
//   {"op":"connect","remoteId":n,"port":p,"host":h?}
//       stream.connect(socket, remoteId, port, host (default 127.0.0.1))           → stream
//   {"op":"sink","bytes":N,"base":b?,"verify":bool?}
//       read the stream until the peer's END; every byte is checked against the content
//       formula of content.mjs with base b (default 0 = content.mjs BASE_INITIATOR) unless
//       verify is false; after the END, end our side too. Replies at once; when done:
//       {"event":"sinkDone","stream","ok","bytes","expected","firstMismatch" (stream
//        offset or -1),"sha256" (of all bytes received),"elapsedMs" (first byte to END),
//        "mbps" (MB/s = 10^6 bytes/s over elapsedMs),"error"?}
//       ok = no error, bytes == N and every checked byte matched.
//   {"op":"source","bytes":N,"base":b?,"chunk":c?}
//       write N bytes of that content (writes of c bytes, default 65536), wait until the
//       peer acked all of them (stream.flush()), then end. Replies at once; when done:
//       {"event":"sourceDone","stream","bytes","sha256","elapsedMs" (first write to all
//        acked),"mbps","error"?}
//   {"op":"echo"}   write back everything received, end when the peer ends        → stream
//   {"op":"send","data":hex}   one MESSAGE datagram (unordered, unreliable; must fit one
//       packet): await stream.send(data)                                         → sent (bool)
//   {"op":"end"}   end our side (stream.end())                                     → stream
//   {"op":"destroy"}   stream.destroy() (a DESTROY packet)                         → stream
//   {"op":"stats"}   → stream, connected, remoteId, remotePort, mtu, rtt, cwnd, inflight,
//       retransmits, rtoCount, fastRecoveries, bytesTransmitted, packetsTransmitted,
//       bytesReceived, packetsReceived, packetsDroppedByKernel (the socket's; null if unknown)
//   {"op":"close"}   destroy every stream, close the socket, exit 0 after replying
//
// Events (besides sinkDone/sourceDone):
//   {"event":"message","stream","data":hex}    a MESSAGE datagram received on a stream
//   {"event":"socketMessage","from":port,"len":n,"data":hex of the first 64 bytes}
//       a datagram on the socket that no stream took (e.g. a UDX packet for an unknown id)
//   {"event":"remoteEnded","stream"}           the peer's END, in order
//   {"event":"closed","stream","error":msg|null}   the stream closed (both ended and
//       acked, destroyed by either side, or timed out)
//   {"event":"error","message"}                an uncaught error
// stdin EOF: like close, without the reply.

import { createHash, randomInt } from 'node:crypto'
import { createRequire } from 'node:module'
import { fill, firstMismatch } from './content.mjs'
import { out, hex, parseHex, guardProcess, serveCommands, arg, logger, waitDrain } from './jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const UDX = require('udx-native')

const log = logger('udx-peer')

const host = arg('--host', '127.0.0.1')
const port = Number(arg('--port', '0'))
const timeout = Number(arg('--timeout', '0'))

const udx = new UDX()
const socket = udx.createSocket()
const streams = new Map() // local id -> stream

// A random u32 stream id not in use here.
function freshId() {
  for (;;) {
    const id = randomInt(0, 2 ** 32 - 1)
    if (!streams.has(id)) return id
  }
}

function createStream(id) {
  if (!Number.isInteger(id) || id < 0 || id >= 2 ** 32) throw new Error('stream id must be a u32')
  if (streams.has(id)) throw new Error(`stream ${id} exists`)
  const stream = udx.createStream(id)
  streams.set(id, stream)
  stream.on('message', (data) => out({ event: 'message', stream: id, data: hex(data) }))
  stream.on('end', () => out({ event: 'remoteEnded', stream: id }))
  stream.on('error', (err) => {
    stream._lastError = err.message
    log(`stream ${id}:`, err.message)
  })
  stream.on('close', () => out({ event: 'closed', stream: id, error: stream._lastError || null }))
  return stream
}

function streamOf(cmd) {
  const id = cmd.stream === undefined ? firstId : cmd.stream
  const stream = streams.get(id)
  if (!stream) throw new Error(`no stream ${id}`)
  return [id, stream]
}

function mbps(bytes, ms) {
  return ms > 0 ? Math.round((bytes / 1e6 / (ms / 1000)) * 100) / 100 : null
}

function sink(id, stream, cmd) {
  const expected = Number(cmd.bytes)
  const base = Number(cmd.base ?? 0) >>> 0
  const verify = cmd.verify !== false
  const sha = createHash('sha256')
  let bytes = 0
  let mismatch = -1
  let first = 0
  let scratch = Buffer.allocUnsafe(65536)
  let done = false
  const finish = (error) => {
    if (done) return
    done = true
    const elapsedMs = first ? performance.now() - first : 0
    out({
      event: 'sinkDone',
      stream: id,
      ok: !error && bytes === expected && mismatch === -1,
      bytes,
      expected,
      firstMismatch: mismatch,
      sha256: sha.digest('hex'),
      elapsedMs: Math.round(elapsedMs * 10) / 10,
      mbps: mbps(bytes, elapsedMs),
      ...(error ? { error } : {})
    })
  }
  stream.on('data', (buf) => {
    if (!first) first = performance.now()
    if (verify && mismatch === -1) {
      if (scratch.length < buf.length) scratch = Buffer.allocUnsafe(buf.length)
      const at = firstMismatch(buf, bytes, base, scratch)
      if (at >= 0) mismatch = bytes + at
    }
    sha.update(buf)
    bytes += buf.length
  })
  stream.on('end', () => {
    finish(null)
    stream.end()
  })
  stream.on('close', () => finish(stream._lastError || 'closed before the END'))
}

async function source(id, stream, cmd) {
  const total = Number(cmd.bytes)
  const base = Number(cmd.base ?? 0) >>> 0
  const chunk = Number(cmd.chunk ?? 65536)
  const sha = createHash('sha256')
  const start = performance.now()
  let error = null
  try {
    let off = 0
    while (off < total) {
      const n = Math.min(chunk, total - off)
      const buf = fill(Buffer.allocUnsafe(n), off, base)
      sha.update(buf)
      off += n
      if (!stream.write(buf)) await waitDrain(stream)
    }
    if (!(await stream.flush())) throw new Error(stream._lastError || 'flush failed (stream destroyed)')
    stream.end()
  } catch (err) {
    error = err.message
  }
  const elapsedMs = performance.now() - start
  out({
    event: 'sourceDone',
    stream: id,
    bytes: total,
    sha256: sha.digest('hex'),
    elapsedMs: Math.round(elapsedMs * 10) / 10,
    mbps: mbps(total, elapsedMs),
    ...(error ? { error } : {})
  })
}

function echo(stream) {
  stream.on('data', (buf) => {
    if (!stream.write(buf)) {
      stream.pause()
      stream.once('drain', () => stream.resume())
    }
  })
  stream.on('end', () => stream.end())
}

// the socket's kernel drop count, null where udx-native cannot tell (it reports -1 as u64)
function kernelDrops() {
  const n = socket.packetsDroppedByKernel
  return Number.isSafeInteger(n) && n >= 0 ? n : null
}

function stats(id, stream) {
  return {
    stream: id,
    connected: stream.connected,
    remoteId: stream.remoteId,
    remotePort: stream.remotePort,
    mtu: stream.mtu,
    rtt: stream.rtt,
    cwnd: stream.cwnd,
    inflight: stream.inflight,
    retransmits: stream.retransmits,
    rtoCount: stream.rtoCount,
    fastRecoveries: stream.fastRecoveries,
    bytesTransmitted: stream.bytesTransmitted,
    packetsTransmitted: stream.packetsTransmitted,
    bytesReceived: stream.bytesReceived,
    packetsReceived: stream.packetsReceived,
    packetsDroppedByKernel: kernelDrops()
  }
}

async function run(cmd) {
  const reply = { reply: cmd.op, id: cmd.id ?? null }
  try {
    switch (cmd.op) {
      case 'stream': {
        const id = cmd.streamId ?? freshId()
        createStream(id)
        return { ...reply, stream: id }
      }
      case 'connect': {
        const [id, stream] = streamOf(cmd)
        stream.connect(socket, cmd.remoteId, cmd.port, cmd.host || '127.0.0.1')
        return { ...reply, stream: id }
      }
      case 'sink': {
        const [id, stream] = streamOf(cmd)
        sink(id, stream, cmd)
        return { ...reply, stream: id }
      }
      case 'source': {
        const [id, stream] = streamOf(cmd)
        source(id, stream, cmd)
        return { ...reply, stream: id }
      }
      case 'echo': {
        const [id, stream] = streamOf(cmd)
        echo(stream)
        return { ...reply, stream: id }
      }
      case 'send': {
        const [id, stream] = streamOf(cmd)
        const sent = await stream.send(parseHex(cmd.data, 0, 'data'))
        return { ...reply, stream: id, sent }
      }
      case 'end': {
        const [id, stream] = streamOf(cmd)
        stream.end()
        return { ...reply, stream: id }
      }
      case 'destroy': {
        const [id, stream] = streamOf(cmd)
        stream.destroy()
        return { ...reply, stream: id }
      }
      case 'stats': {
        const [id, stream] = streamOf(cmd)
        return { ...reply, ...stats(id, stream) }
      }
      case 'close':
        await shutdown()
        return reply
      default:
        throw new Error(`unknown op ${cmd.op}`)
    }
  } catch (err) {
    return { ...reply, error: err.message }
  }
}

let closed = false
async function shutdown() {
  if (closed) return
  closed = true
  for (const s of streams.values()) s.destroy()
  // a stream whose peer is gone may hold the socket open until libudx times it out
  await Promise.race([socket.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000))])
}

guardProcess(timeout, () => {}, log)
socket.on('message', (data, from) =>
  out({ event: 'socketMessage', from: from.port, len: data.length, data: hex(data.subarray(0, 64)) })
)
socket.bind(port, host)
const firstId = arg('--id') === undefined ? freshId() : Number(arg('--id'))
createStream(firstId)
out({ event: 'ready', host, port: socket.address().port, stream: firstId })
serveCommands(run, shutdown, () => {})
