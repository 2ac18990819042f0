// The dht-rpc part of gen-dht.mjs: rpc.json, from dht-rpc 6.27.0's own IO and Request
// classes (lib/io.js).

import { createRequire } from 'module'
import { assert, hex } from './common.mjs'
import { det, addrJ, V4, MAX, VALUES, v4s } from './dht-common.mjs'

const require = createRequire(import.meta.url)
const b4a = require('b4a')
const IO = require('dht-rpc/lib/io.js')
const rpcPeer = require('dht-rpc/lib/peer.js')
const rpcCommands = require('dht-rpc/lib/commands.js')
const RpcError = require('dht-rpc/lib/errors.js')

// ---------------------------------------------------------------------------------------
// rpc.json: dht-rpc requests and replies.

export function rpc(write) {
  const sent = []
  const socket = (name) => ({
    name,
    trySend(buf, port, host) {
      sent.push({ buf: b4a.from(buf), port, host })
    }
  })
  const serverSocket = socket('server')
  const clientSocket = socket('client')
  let closest = []
  const tableId = det('table id', 32)
  const table = { id: tableId, closest: () => closest }
  const udx = { watchNetworkInterfaces: () => ({ destroy() {} }) }
  const io = new IO(table, udx, {})
  io.serverSocket = serverSocket
  io.clientSocket = clientSocket
  const secrets = [det('token secret 0', 32), det('token secret 1', 32)]
  io._secrets = [b4a.from(secrets[0]), b4a.from(secrets[1])]

  const take = () => {
    assert(sent.length === 1, 'one datagram sent')
    return sent.pop()
  }

  const Request = io.createRequest(V4[0], null, true, 0, null, null, null, 0).constructor
  io.inflight.length = 0

  // Decoding a request: the real static decoder (what IO.onmessage calls for 0x03).
  function decodeRequest(buf, from) {
    if (buf.byteLength < 2 || buf[0] !== 0x03) return null
    const f = { id: null, host: from.host, port: from.port }
    const req = Request.decode(io, serverSocket, f, { start: 1, end: buf.byteLength, buffer: buf })
    if (req === null) return null
    return {
      tid: req.tid,
      to: addrJ(req.to),
      id: req.from.id === null ? null : hex(req.from.id),
      token: hex(req.token),
      internal: req.internal,
      command: req.command,
      target: hex(req.target),
      value: hex(req.value)
    }
  }

  // Decoding a reply: its decoder is private, so feed IO.onmessage with every tid in flight.
  let captured = null
  const pending = []
  for (let tid = 0; tid < 65536; tid++) {
    pending.push({
      tid,
      to: V4[0],
      sent: 1,
      session: null,
      _timeout: null,
      _timestamp: 0,
      internal: false,
      command: 99,
      onresponse(res) {
        captured = res
        io.inflight.push(this)
      }
    })
  }
  io.inflight = pending
  function decodeResponse(buf, from) {
    captured = null
    io.firewalled = true
    io.onmessage(clientSocket, buf, { host: from.host, port: from.port })
    assert(io.inflight.length === 65536, 'every tid stays in flight')
    if (captured === null) return null
    const r = captured
    return {
      tid: r.tid,
      to: addrJ(r.to),
      id: r.from.id === null ? null : hex(r.from.id),
      token: hex(r.token),
      closerNodes: r.closerNodes === null ? null : r.closerNodes.map(addrJ),
      error: r.error,
      value: hex(r.value)
    }
  }

  const requests = []
  const responses = []
  const from = { host: '192.168.1.20', port: 40000 }
  const fromId = rpcPeer.id(from.host, from.port)

  // Encoding requests: all 32 flag combinations, over commands, tids, addresses and values.
  let n = 0
  for (let flags = 0; flags < 32; flags++) {
    for (const [command, tid, value] of [
      [0, 0, VALUES[0]],
      [2, 1, VALUES[2]],
      [4, 65535, VALUES[3]],
      [10, 4660, VALUES[6]],
      [253, 300, VALUES[1]],
      [MAX, 7, VALUES[5]]
    ]) {
      const useId = (flags & 1) !== 0
      const token = flags & 2 ? det('req token ' + n, 32) : null
      const internal = (flags & 4) !== 0
      const target = flags & 8 ? det('req target ' + n, 32) : null
      const val = flags & 16 ? value : null
      const to = V4[n % V4.length]
      // Sent by `sender` (whose id is the table id when the id flag is set, so it
      // validates when decoded as coming from `sender`).
      const sender = useId ? { host: '10.1.2.3', port: 49737 } : from
      if (useId) table.id = rpcPeer.id(sender.host, sender.port)
      io.ephemeral = !useId
      io._tid = tid
      const req = io.createRequest(to, token, internal, command, target, val, null, 0)
      io.inflight.pop()
      req.socket = useId ? serverSocket : clientSocket
      req.send(true)
      if (req._timeout) clearTimeout(req._timeout)
      const { buf: buf2, port, host } = take()
      assert(port === to.port && host === to.host, 'request sent to its address')
      table.id = tableId
      requests.push({
        name: `request flags=${flags} command=${command} tid=${tid}`,
        from: sender,
        hex: hex(buf2),
        decoded: decodeRequest(buf2, sender),
        encode: true
      })
      // The same request seen from another address: the id does not validate.
      if (useId && n % 3 === 0) {
        requests.push({
          name: `request flags=${flags} id from another address`,
          from,
          hex: hex(buf2),
          decoded: decodeRequest(buf2, from),
          encode: false
        })
      }
      n++
    }
  }

  // Encoding replies: all 32 flag combinations of id, token, closer nodes, error, value.
  n = 0
  for (let flags = 0; flags < 32; flags++) {
    for (const [error, value, nodes, tid] of [
      [1, VALUES[2], 1, 0],
      [2, VALUES[0], 20, 65535],
      [16, VALUES[4], 3, 513],
      [MAX, VALUES[6], 2, 9]
    ]) {
      const useId = (flags & 1) !== 0
      const useToken = (flags & 2) !== 0
      const withNodes = (flags & 4) !== 0
      const err = flags & 8 ? error : 0
      const val = flags & 16 ? value : null
      const requester = V4[n % V4.length]
      // A request from `requester` (with a target, so closer nodes can be sent).
      io.ephemeral = true
      io._tid = tid
      const out = io.createRequest(V4[3], null, false, 3, det('target ' + n, 32), null, null, 0)
      io.inflight.pop()
      out.socket = clientSocket
      out.send(true)
      if (out._timeout) clearTimeout(out._timeout)
      const { buf: reqBuf } = take()
      const f = { id: null, host: requester.host, port: requester.port }
      const req = Request.decode(io, serverSocket, f, { start: 1, end: reqBuf.byteLength, buffer: reqBuf })
      closest = v4s(nodes, n).map((a) => ({ ...a, id: rpcPeer.id(a.host, a.port) }))
      io.ephemeral = !useId
      const responder = { host: '10.9.8.7', port: 49737 }
      if (useId) table.id = rpcPeer.id(responder.host, responder.port)
      req._sendReply(err, val, useToken, withNodes, f, serverSocket)
      table.id = tableId
      const { buf, port, host } = take()
      assert(port === requester.port && host === requester.host, 'reply sent to requester')
      responses.push({
        name: `response flags=${flags} error=${err} tid=${tid}`,
        from: responder,
        hex: hex(buf),
        decoded: decodeResponse(buf, responder),
        encode: true
      })
      n++
    }
  }

  // Bytes no JS encoder writes, and malformed ones: decoded (or rejected) by the real code.
  const push = (list, name, bytes, decode, sender = from) =>
    list.push({ name, from: sender, hex: hex(bytes), decoded: decode(bytes, sender), encode: false })
  const cat = (...parts) => b4a.concat(parts.map((p) => (Array.isArray(p) ? b4a.from(p) : p)))
  const to6 = [1, 2, 3, 4, 0x39, 0x30]
  push(requests, 'request flags as a 3-byte uint', cat([0x03, 0xfd, 0x04, 0x00, 0x01, 0x00], to6, [2]), decodeRequest)
  push(requests, 'request with unknown flag bits', cat([0x03, 0xe4, 0x01, 0x00], to6, [2]), decodeRequest)
  push(requests, 'request with trailing bytes', cat([0x03, 0x04, 0x01, 0x00], to6, [2, 9, 9, 9]), decodeRequest)
  push(requests, 'request command 2^53-1 as uint64', cat([0x03, 0x00, 0x01, 0x00], to6, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00]), decodeRequest)
  push(requests, 'request command 2^53', cat([0x03, 0x00, 0x01, 0x00], to6, [0xff, 0, 0, 0, 0, 0, 0, 0x20, 0]), decodeRequest)
  push(requests, 'request value length past the end', cat([0x03, 0x10, 0x01, 0x00], to6, [2, 5, 1, 2]), decodeRequest)
  push(requests, 'request without its command', cat([0x03, 0x00, 0x01, 0x00], to6), decodeRequest)
  push(requests, 'request one byte', cat([0x03]), decodeRequest)
  push(requests, 'request type 0x13 is a reply', cat([0x13, 0x00, 0x01, 0x00], to6), decodeRequest)
  push(requests, 'request version 2', cat([0x02, 0x00, 0x01, 0x00], to6, [0]), decodeRequest)
  push(responses, 'response flags as a 3-byte uint', cat([0x13, 0xfd, 0x08, 0x00, 0x05, 0x00], to6, [2]), decodeResponse)
  push(responses, 'response with unknown flag bits', cat([0x13, 0xe0, 0x05, 0x00], to6), decodeResponse)
  push(responses, 'response error flag with error 0', cat([0x13, 0x08, 0x05, 0x00], to6, [0]), decodeResponse)
  push(responses, 'response closer-nodes flag with no nodes', cat([0x13, 0x04, 0x05, 0x00], to6, [0]), decodeResponse)
  push(responses, 'response with trailing bytes', cat([0x13, 0x00, 0x05, 0x00], to6, [1, 2, 3]), decodeResponse)
  push(responses, 'response closer nodes count past the end', cat([0x13, 0x04, 0x05, 0x00], to6, [3, 1, 2, 3, 4, 5, 6]), decodeResponse)
  push(responses, 'response closer nodes count above 0x100000', cat([0x13, 0x04, 0x05, 0x00], to6, [0xfe, 0x01, 0x00, 0x10, 0x00]), decodeResponse)
  push(responses, 'response truncated address', cat([0x13, 0x00, 0x05, 0x00, 1, 2, 3]), decodeResponse)
  push(responses, 'response type 0x03 is a request', cat([0x03, 0x00, 0x05, 0x00], to6), decodeResponse)
  push(responses, 'response type 0x23', cat([0x23, 0x00, 0x05, 0x00], to6), decodeResponse)
  // Every prefix of a few encodings: where JS stops decoding, or what it still reads.
  for (const list of [requests, responses]) {
    const decode = list === requests ? decodeRequest : decodeResponse
    const sources = list.filter((x) => x.encode).filter((_, i) => i % 17 === 0)
    for (const s of sources) {
      const bytes = b4a.from(s.hex, 'hex')
      for (const cut of new Set([2, 5, 9, 10, 11, bytes.byteLength - 1])) {
        if (cut < bytes.byteLength && cut >= 2) {
          push(list, `${s.name} cut at ${cut}`, bytes.subarray(0, cut), decode, s.from)
        }
      }
    }
  }

  const nodeIds = []
  for (const a of [...V4, { host: '192.168.1.20', port: 40000 }]) {
    nodeIds.push({ host: a.host, port: a.port, id: hex(rpcPeer.id(a.host, a.port)) })
  }
  const tokens = []
  for (const host of ['1.2.3.4', '255.255.255.255', '0.0.0.0', '127.0.0.1', '88.99.3.86']) {
    for (const i of [0, 1]) {
      tokens.push({ host, secret: hex(secrets[i]), token: hex(io.token({ host, port: 1 }, i)) })
    }
  }

  write('rpc.json', {
    description:
      'dht-rpc 6.27.0 datagrams: requests (0x03) and replies (0x13) as lib/io.js encodes and decodes them; `decoded` is null where JS drops the datagram. `from` is the sender (a request id only validates as BLAKE2b-256 of its 6-byte address). nodeIds: BLAKE2b-256(ipv4 address). tokens: BLAKE2b-256(host string, key = secret).',
    rpcConstants: {
      requestId: 0x03,
      responseId: 0x13,
      commands: { ...rpcCommands },
      errors: { UNKNOWN_COMMAND: RpcError.UNKNOWN_COMMAND, INVALID_TOKEN: RpcError.INVALID_TOKEN }
    },
    requests,
    responses,
    nodeIds,
    tokens
  })
  return { requests: requests.length, responses: responses.length }
}
