#!/usr/bin/env node
// Scriptable hyperdht 6.34.0 (dht-rpc 6.27.0) and hyperswarm 4.17.2 peer for ferrocore's DHT interop tests: one
// process = one driven DHT node on loopback (optionally with an in-process testnet behind
// it). Driven by JSON lines on stdin, reports JSON lines on stdout (nothing else goes to
// stdout; logs go to stderr). Same plumbing as udx-peer.mjs (jsonl-peer.mjs).
//
//   node dht-peer.mjs [--testnet N] [--bootstrap h:p[,h:p..]] [--host 127.0.0.1] [--port 0]
//                     [--persistent] [--seed hex32] [--timeout MS]
//
//   --testnet N    first start N testnet nodes in this process (hyperdht/testnet.js
//                  createTestnet: persistent, unfirewalled, on --host) and bootstrap from them.
//   --bootstrap    bootstrap from these nodes instead (e.g. a Rust node or another dht-peer).
//                  With neither, the driven node IS a bootstrap node on --host/--port: with a
//                  --port, DHT.bootstrapper(port, host) (as JS's public bootstrap nodes: persistent
//                  with a node id from the start, exactly that port); with port 0, new DHT({
//                  bootstrap: [], ephemeral: false, firewalled: false}) like the testnet's first
//                  node (nodeId null until a peer tells it its address; still answers).
//   --persistent   the driven node is ephemeral: false, firewalled: false (default when it is
//                  a bootstrap node; otherwise it is a client: ephemeral, as testnet.createNode).
//   --seed         32-byte hex seed of the node's default key pair (DHT.keyPair(seed)).
//   --timeout MS   hard exit (code 3) after MS milliseconds (default 0 = none).
//
// First line, once the node is fully bootstrapped:
//   {"event":"ready","host","port","nodeId" (hex; null while ephemeral or before the node
//    has learned its own address, e.g. the first bootstrap node),"publicKey"
//    (default key pair),"ephemeral","firewalled","bootstrap":[{host,port}],
//    "testnet":[{host,port,nodeId}]}
//
// Commands run one at a time, in order (add "background":true to not hold up the next);
// every reply is {"reply":op,"id":<the command's id>,"ms":<elapsed, 0.1 ms>,...}; a failed
// command replies {"reply":op,"id","ms","error":msg}. Hex is lower-case; topics, hashes and
// keys are 32 bytes. "seed" (hex32) anywhere picks the key pair DHT.keyPair(seed); without
// it the node's default key pair is used.
//
//   {"op":"info"}  → host, port, nodeId, publicKey, ephemeral, firewalled
//   {"op":"lookup","topic"}  → peers: [{publicKey, relayAddresses:[{host,port}]}] (unique by
//        key, in arrival order), replies (nodes that answered with a value), from:[{host,port}]
//   {"op":"announce","topic","seed"?,"relayAddresses"?:[{host,port}]}  → publicKey, closest
//        (how many of the closest nodes were announced to)
//   {"op":"unannounce","topic","seed"?}  → publicKey
//   {"op":"immutablePut","value":hex}  → hash, closest
//   {"op":"immutableGet","hash"}  → value (hex or null), from ({host,port} or null)
//   {"op":"mutablePut","value":hex,"seq"?:n,"seed"?}  → publicKey, seq, signature, closest
//   {"op":"mutableGet","publicKey","seq"?:n,"latest"?:bool}  → value, seq, signature, from
//        (all null if not found)
//   {"op":"findPeer","publicKey"}  → found (bool), peer ({publicKey, relayAddresses} of the
//        first reply or null), replies, from
//   {"op":"ping","host","port"}  → pong: {host,port,nodeId} of the answering node
//   {"op":"listen","seed"?,"echo"?:bool}  → server.listen(keyPair) on this node; publicKey.
//        Each incoming connection: {"event":"connection","conn":n,"server":publicKey,
//        "remotePublicKey","remoteHost","remotePort"}; its data is reported as "data" events
//        and echoed back unless echo is false.
//   {"op":"unlisten","publicKey"}  → close that server
//   {"op":"connect","publicKey","seed"?,"data"?:hex}  → node.connect(publicKey); waits for
//        open: conn, connected: true, publicKey (ours), remotePublicKey, remoteHost,
//        remotePort; then writes data if given. Incoming data: "data" events.
//   {"op":"send","conn","data":hex}  → bytes
//   {"op":"end","conn"}  → end our side of a connection
//   {"op":"join","topic","server"?:bool,"client"?:bool,"seed"?,"echo"?:bool}
//        Hyperswarm 4.17.2 on this node's DHT (made on the first join, with the key pair of
//        that join's seed or the node's default one, echoing data if echo): swarm.join(topic,
//        {server, client}) (both default true), awaits discovery.flushed()  → publicKey
//        (the swarm's). Each swarm connection: {"event":"swarmConnection","conn",
//        "remotePublicKey","client" (we dialed),"topics":[hex]}; then data/closed events and
//        send/end as for DHT connections.
//   {"op":"leave","topic"}  → swarm.leave(topic)
//   {"op":"flush"}  → swarm.flush(): every peer found so far has been tried; connections (count)
//   {"op":"destroy"}  → swarm and node destroyed (and the testnet); later DHT commands fail
//   {"op":"close"}  destroy everything and exit 0 after replying
//
// Events:
//   {"event":"connection",...} (above)
//   {"event":"data","conn","data":hex}
//   {"event":"remoteEnded","conn"}   {"event":"closed","conn","error":msg|null}
//   {"event":"error","message"}      an uncaught error
// stdin EOF: like close, without the reply.

import { createRequire } from 'node:module'
import { out, hex, parseHex, guardProcess, serveCommands, arg, logger } from './jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const DHT = require('hyperdht')
const createTestnet = require('hyperdht/testnet.js')
const Hyperswarm = require('hyperswarm')

const log = logger('dht-peer')

const { host, port, timeout, testnetSize, seedArg } = {
  host: arg('--host', '127.0.0.1'),
  port: Number(arg('--port', '0')),
  timeout: Number(arg('--timeout', '0')),
  testnetSize: Number(arg('--testnet', '0')),
  seedArg: arg('--seed', null)
}

function parseAddrs(s) {
  return s.split(',').filter(Boolean).map((hp) => {
    const i = hp.lastIndexOf(':')
    return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) }
  })
}

const addr = (a) => (a ? { host: a.host, port: a.port } : null)
const round = (ms) => Math.round(ms * 10) / 10
const keyPairOf = (cmd) => (cmd.seed ? DHT.keyPair(parseHex(cmd.seed, 32, 'seed')) : node.defaultKeyPair)
const peerOut = (p) => ({ publicKey: hex(p.publicKey), relayAddresses: (p.relayAddresses || []).map(addr) })

let testnet = null
let bootstrap = arg('--bootstrap', null) ? parseAddrs(arg('--bootstrap')) : null
if (testnetSize > 0) {
  testnet = await createTestnet(testnetSize, { host })
  bootstrap = testnet.bootstrap
}
const isBootstrapNode = bootstrap === null
const persistent = isBootstrapNode || process.argv.includes('--persistent')
const seed = seedArg ? parseHex(seedArg, 32, '--seed') : undefined
// A bootstrap node on a known port is made the way JS's public ones are (DHT.bootstrapper:
// persistent, with its node id from the start); on port 0 it is made like the testnet's
// first node (persistent options, id-less until a peer tells it its address).
const node =
  isBootstrapNode && port
    ? DHT.bootstrapper(port, host, { host, seed })
    : new DHT({
      bootstrap: bootstrap || [],
      host,
      port,
      ephemeral: !persistent,
      firewalled: persistent ? false : undefined,
      seed
    })

const conns = new Map() // conn id -> secret stream
const servers = new Map() // public key hex -> server
let swarm = null
let nextConn = 1

function cleanup() {}

guardProcess(timeout, cleanup, log)

function info() {
  const a = node.address()
  return {
    host: a.host,
    port: a.port,
    nodeId: hex(node.id),
    publicKey: hex(node.defaultKeyPair.publicKey),
    ephemeral: node.ephemeral,
    firewalled: node.firewalled
  }
}

function track(socket, echo) {
  const conn = nextConn++
  conns.set(conn, socket)
  socket.on('data', (d) => {
    out({ event: 'data', conn, data: hex(d) })
    if (echo) socket.write(d)
  })
  socket.on('end', () => {
    out({ event: 'remoteEnded', conn })
    socket.end()
  })
  socket.on('error', (err) => {
    socket._lastError = err.message
    log(`conn ${conn}:`, err.message)
  })
  socket.on('close', () => {
    conns.delete(conn)
    out({ event: 'closed', conn, error: socket._lastError || null })
  })
  return conn
}

function remote(socket) {
  const r = socket.rawStream
  return { remoteHost: r ? r.remoteHost : null, remotePort: r ? r.remotePort : null }
}

function connOf(cmd) {
  const s = conns.get(cmd.conn)
  if (!s) throw new Error(`no connection ${cmd.conn}`)
  return s
}

async function collect(query, onData) {
  const from = []
  let replies = 0
  for await (const data of query) {
    replies++
    from.push(addr(data.from))
    onData(data)
  }
  return { replies, from }
}

const ops = {
  info: async () => info(),
  async lookup(cmd) {
    const peers = new Map()
    const r = await collect(node.lookup(parseHex(cmd.topic, 32, 'topic')), (d) => {
      for (const p of d.peers) if (!peers.has(hex(p.publicKey))) peers.set(hex(p.publicKey), peerOut(p))
    })
    return { peers: [...peers.values()], ...r }
  },
  async announce(cmd) {
    const kp = keyPairOf(cmd)
    const q = node.announce(parseHex(cmd.topic, 32, 'topic'), kp, cmd.relayAddresses || [])
    await q.finished()
    return { publicKey: hex(kp.publicKey), closest: q.closestReplies.length }
  },
  async unannounce(cmd) {
    const kp = keyPairOf(cmd)
    await node.unannounce(parseHex(cmd.topic, 32, 'topic'), kp)
    return { publicKey: hex(kp.publicKey) }
  },
  async immutablePut(cmd) {
    const r = await node.immutablePut(parseHex(cmd.value, 0, 'value'))
    return { hash: hex(r.hash), closest: r.closestNodes.length }
  },
  async immutableGet(cmd) {
    const r = await node.immutableGet(parseHex(cmd.hash, 32, 'hash'))
    return { value: r ? hex(r.value) : null, from: r ? addr(r.from) : null }
  },
  async mutablePut(cmd) {
    const kp = keyPairOf(cmd)
    const r = await node.mutablePut(kp, parseHex(cmd.value, 0, 'value'), { seq: cmd.seq || 0 })
    return { publicKey: hex(r.publicKey), seq: r.seq, signature: hex(r.signature), closest: r.closestNodes.length }
  },
  async mutableGet(cmd) {
    const opts = { seq: cmd.seq || 0, latest: cmd.latest !== false }
    const r = await node.mutableGet(parseHex(cmd.publicKey, 32, 'publicKey'), opts)
    if (!r) return { value: null, seq: null, signature: null, from: null }
    return { value: hex(r.value), seq: r.seq, signature: hex(r.signature), from: addr(r.from) }
  },
  async findPeer(cmd) {
    let peer = null
    const r = await collect(node.findPeer(parseHex(cmd.publicKey, 32, 'publicKey')), (d) => {
      if (!peer) peer = peerOut(d.peer)
    })
    return { found: peer !== null, peer, ...r }
  },
  async ping(cmd) {
    const r = await node.ping({ host: cmd.host || '127.0.0.1', port: cmd.port })
    return { pong: { ...addr(r.from), nodeId: hex(r.from.id) } }
  },
  async listen(cmd) {
    const kp = keyPairOf(cmd)
    const echo = cmd.echo !== false
    const server = node.createServer((socket) => {
      const conn = track(socket, echo)
      out({
        event: 'connection',
        conn,
        server: hex(kp.publicKey),
        remotePublicKey: hex(socket.remotePublicKey),
        ...remote(socket)
      })
    })
    await server.listen(kp)
    servers.set(hex(kp.publicKey), server)
    return { publicKey: hex(kp.publicKey) }
  },
  async unlisten(cmd) {
    const server = servers.get(cmd.publicKey)
    if (!server) throw new Error(`not listening on ${cmd.publicKey}`)
    servers.delete(cmd.publicKey)
    await server.close()
    return {}
  },
  async connect(cmd) {
    const kp = keyPairOf(cmd)
    const socket = node.connect(parseHex(cmd.publicKey, 32, 'publicKey'), { keyPair: kp })
    const conn = track(socket, false)
    await new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('close', () => reject(new Error(socket._lastError || 'closed before open')))
    })
    if (cmd.data) socket.write(parseHex(cmd.data, 0, 'data'))
    return {
      conn,
      connected: true,
      publicKey: hex(socket.publicKey),
      remotePublicKey: hex(socket.remotePublicKey),
      ...remote(socket)
    }
  },
  async send(cmd) {
    const data = parseHex(cmd.data, 0, 'data')
    connOf(cmd).write(data)
    return { bytes: data.length }
  },
  async end(cmd) {
    connOf(cmd).end()
    return {}
  },
  async join(cmd) {
    const topic = parseHex(cmd.topic, 32, 'topic')
    if (!swarm) {
      swarm = new Hyperswarm({ dht: node, keyPair: keyPairOf(cmd) })
      const echo = cmd.echo === true
      swarm.on('connection', (socket, peerInfo) => {
        const conn = track(socket, echo)
        out({
          event: 'swarmConnection',
          conn,
          remotePublicKey: hex(socket.remotePublicKey),
          client: socket.isInitiator,
          topics: peerInfo.topics.map(hex)
        })
      })
    }
    const discovery = swarm.join(topic, { server: cmd.server !== false, client: cmd.client !== false })
    await discovery.flushed()
    return { publicKey: hex(swarm.keyPair.publicKey) }
  },
  async leave(cmd) {
    if (!swarm) throw new Error('no swarm: join first')
    await swarm.leave(parseHex(cmd.topic, 32, 'topic'))
    return {}
  },
  async flush() {
    if (!swarm) throw new Error('no swarm: join first')
    await swarm.flush()
    return { connections: swarm.connections.size }
  },
  async destroy() {
    await shutdown()
    return {}
  },
  close: async () => ({})
}

let destroyed = false
async function shutdown() {
  if (destroyed) return
  destroyed = true
  for (const s of conns.values()) s.destroy()
  if (swarm) await swarm.destroy() // destroys the node too
  await node.destroy()
  if (testnet) await testnet.destroy()
}

async function run(cmd) {
  const t0 = performance.now()
  const op = ops[cmd.op]
  let reply
  try {
    if (!op) throw new Error(`unknown op ${cmd.op}`)
    if (destroyed && cmd.op !== 'close' && cmd.op !== 'destroy') throw new Error('node destroyed')
    reply = await op(cmd)
    if (cmd.op === 'close') await shutdown()
  } catch (err) {
    reply = { error: err.message }
  }
  return { ...reply, reply: cmd.op, id: cmd.id, ms: round(performance.now() - t0) }
}

await node.fullyBootstrapped()
out({
  event: 'ready',
  ...info(),
  bootstrap: (bootstrap || []).map(addr),
  testnet: testnet ? testnet.nodes.map((n) => ({ ...addr(n.address()), nodeId: hex(n.id) })) : []
})
serveCommands(run, shutdown, cleanup)
