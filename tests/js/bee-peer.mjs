#!/usr/bin/env node
// Scriptable JS hyperbee 2.27.3 peer (on corestore 7.12.5 and hypercore 11.37.1) for
// ferrocore's Hyperbee interop tests: one process = one Corestore holding any number of
// bees, replicated over any number of TCP connections (Noise secret-stream, then
// `store.replicate(stream)`). JSON lines on stdin, JSON lines on stdout (nothing else goes
// to stdout; logs go to stderr), as corestore-peer.mjs: commands run one at a time in
// order unless "background": true; every reply is {"reply":op,"id":..., ...}, a failure
// {"reply":op,"id":..,"error":msg,"code":..}. Keys and values are utf-8 strings (the
// bee's key and value encodings are utf-8).
//
//   node bee-peer.mjs [--timeout MS]
//
// Store and connections (as corestore-peer.mjs):
//   {"op":"open","dir":path?,"primaryKey":hex?,"noiseSeed":hex?}
//       new Corestore(dir (default: a fresh temporary directory, removed on exit),
//       {primaryKey, unsafe: true})          → primaryKey, dir, noisePublicKey
//   {"op":"listen","port":p?,"host":h?}      accept connections (Noise responder), each
//                                            replicated by the store     → port
//   {"op":"connect","host":h?,"port":p}      connect (Noise initiator), replicate, reply
//                                            once the handshake is done  → conn, initiator,
//                                            publicKey, remotePublicKey, handshakeHash
//   {"op":"close"}                           close everything, reply, exit 0 (EOF: the same)
// Bees:
//   {"op":"bee","name":s?|"key":hex?,"update":bool?,"extension":bool?}
//       store.get({name}) (default name "bee": the key pair corestore derives from the
//       primary key and the name, as `ferrocore create --name`) or store.get({key}) (a
//       remote bee, read sparsely through replication), then new Hyperbee(core, utf-8
//       keys and values). update: as the `update` command, first (do it before
//       writing to a bee another peer extended: hyperbee writes its header to an empty
//       writable core).                      → bee (a handle), then the `info` fields
//   {"op":"info","bee":h}    → bee, key, discoveryKey, length, contiguousLength, version,
//                              writable, downloaded (blocks this session downloaded), peers,
//                              extensionRx, extensionTx (extension messages from/to peers)
//   {"op":"update","bee":h}  await core.update({wait: true, force: true}), once a peer replicates the
//                            core (waiting at most 10 s for the first)  → the `info` fields
//   {"op":"fill","bee":h,"count":n,"from":i?,"order":"seq"|"reverse"|"shuffle"?,
//    "seed":s?,"batch":b?}
//       put key(i) → value(i) of bee-data.mjs for i in from (default 1) .. from+count-1 in
//       that order (default seq; shuffle with seed, default 1), one put each, or in batches
//       of b puts (one append each)          → the `info` fields
//   {"op":"put","bee":h,"key":k,"value":v}    {"op":"del","bee":h,"key":k}
//   {"op":"batch","bee":h,"ops":[{"put":[k,v]} | {"del":k}, ...]}   one batch, one flush
//                                            → the `info` fields
//   {"op":"get","bee":h,"key":k,"checkout":v?}   → key, value (null if absent), seq
//   {"op":"range","bee":h,"gt"|"gte"|"lt"|"lte":k?,"reverse":bool?,"limit":n?,
//    "checkout":v?,"countOnly":bool?}
//       createReadStream → entries: [{seq, key, value}, ...] (countOnly: only count)
//   {"op":"history","bee":h,"gt"|"gte"|"lt"|"lte":n?,"reverse":bool?,"limit":n?}
//       createHistoryStream → entries: [{type, seq, key, value}, ...]
//   {"op":"diff","bee":h,"from":v,"to":v?}   checkout(to).createDiffStream(from)
//       → entries: [{left: {seq,key,value}|null, right: ...}, ...]
//   {"op":"version","bee":h}                 → version, length
//   {"op":"blocks","bee":h,"start":s?,"end":e?}
//       the hex of every block in [start, end) (default the whole core; waits for blocks
//       it lacks, 10 s at most each)          → blocks: [hex, ...]
// Events: {"event":"connection","conn":n,...}, {"event":"connection-closed","conn":n},
//   {"event":"error","message":msg}.

import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { key as keyOf, value as valueOf, indices } from './bee-data.mjs'
import { out, hex, parseHex, guardProcess, serveCommands, removeDir, logger, timeoutArg, listenTcp, storeOpenArgs, replicateConnection, updateCore } from './jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const Corestore = require('corestore')
const Hyperbee = require('hyperbee')
const crypto = require('hypercore-crypto')
const NoiseSecretStream = require('@hyperswarm/secret-stream')

const log = logger('bee-peer')
const timeout = timeoutArg('bee-peer.mjs')

let store = null
let tmpDir = null
let noiseKeyPair = null
const bees = [] // handle -> { bee, core, downloaded }
const connections = []
const servers = []
let closing = null

const cleanupDir = () => removeDir(tmpDir)
guardProcess(timeout, cleanupDir, log)

function needStore() {
  if (store === null) throw new Error('no store: send {"op":"open"} first')
  return store
}

function beeArg(cmd) {
  const h = cmd.bee
  if (!Number.isInteger(h) || h < 0 || h >= bees.length) throw new Error('no such bee: ' + JSON.stringify(h))
  return bees[h]
}

function info(h) {
  const { bee, core, downloaded } = bees[h]
  return {
    bee: h,
    key: hex(core.key),
    discoveryKey: hex(core.discoveryKey),
    length: core.length,
    contiguousLength: core.contiguousLength,
    version: bee.version,
    writable: core.writable,
    downloaded: downloaded.count,
    peers: core.peers.length,
    ...extensionStats(core)
  }
}

// Extension messages (any name) received from and sent to the core's peers so far.
function extensionStats(core) {
  let rx = 0
  let tx = 0
  for (const peer of core.peers) {
    rx += peer.stats.wireExtension.rx
    tx += peer.stats.wireExtension.tx
  }
  return { extensionRx: rx, extensionTx: tx }
}

async function openBee(cmd) {
  const s = needStore()
  if (cmd.name !== undefined && cmd.key !== undefined) throw new Error('bee: name or key, not both')
  const core =
    cmd.key !== undefined ? s.get({ key: parseHex(cmd.key, 32, 'key') }) : s.get({ name: cmd.name === undefined ? 'bee' : String(cmd.name) })
  await core.ready()
  const downloaded = { count: 0 }
  core.on('download', () => downloaded.count++)
  if (cmd.update) await update(core)
  const bee = new Hyperbee(core, { keyEncoding: 'utf-8', valueEncoding: 'utf-8', extension: cmd.extension !== false })
  await bee.ready()
  const h = bees.push({ bee, core, downloaded }) - 1
  return info(h)
}

// core.update({wait: true, force: true}) once a peer replicates the core (jsonl-peer.mjs).
const update = (core) => updateCore(core)

// The bee itself, or its checkout at `checkout` when given.
function view(cmd) {
  const { bee } = beeArg(cmd)
  return cmd.checkout === undefined ? bee : bee.checkout(cmd.checkout)
}

function bounds(cmd) {
  const opts = {}
  for (const k of ['gt', 'gte', 'lt', 'lte', 'reverse', 'limit']) if (cmd[k] !== undefined) opts[k] = cmd[k]
  return opts
}

const entry = (e) => (e === null ? null : { seq: e.seq, key: e.key, value: e.value })

async function collect(stream, map, countOnly) {
  const entries = []
  let count = 0
  for await (const e of stream) {
    count++
    if (!countOnly) entries.push(map(e))
  }
  return countOnly ? { count } : { count, entries }
}

async function fill(cmd) {
  const { bee } = beeArg(cmd)
  const order = indices(cmd.from === undefined ? 1 : cmd.from, cmd.count, cmd.order || 'seq', cmd.seed === undefined ? 1 : cmd.seed)
  const size = cmd.batch === undefined ? 1 : cmd.batch
  for (let i = 0; i < order.length; i += size) {
    const part = order.slice(i, i + size)
    if (size === 1) {
      await bee.put(keyOf(part[0]), valueOf(part[0]))
      continue
    }
    const b = bee.batch()
    for (const j of part) await b.put(keyOf(j), valueOf(j))
    await b.flush()
  }
}

async function batch(cmd) {
  const { bee } = beeArg(cmd)
  const b = bee.batch()
  for (const op of cmd.ops) {
    if (op.put !== undefined) await b.put(op.put[0], op.put[1])
    else if (op.del !== undefined) await b.del(op.del)
    else throw new Error('batch: each op is {"put":[k,v]} or {"del":k}')
  }
  await b.flush()
}

async function blocks(cmd) {
  const { core } = beeArg(cmd)
  const start = cmd.start === undefined ? 0 : cmd.start
  const end = cmd.end === undefined ? core.length : cmd.end
  const list = []
  for (let i = start; i < end; i++) list.push(hex(await core.get(i, { timeout: 10000 })))
  return { blocks: list }
}

function attach(socket, initiator) {
  const ctx = { store, connections, keyPair: noiseKeyPair, NoiseSecretStream, closing: () => !!closing }
  return replicateConnection(ctx, socket, initiator)
}

async function listen(cmd) {
  needStore()
  return listenTcp(net, cmd, servers, (sock) => (closing ? sock.destroy() : attach(sock, false)))
}

async function open(cmd) {
  if (store !== null) throw new Error('a store is already open')
  const { dir, tmp, opts } = storeOpenArgs(mkdtempSync, os, path, cmd, 'ferrocore-bee-peer-')
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
      return listen(cmd)
    case 'connect':
      return attach(net.connect({ host: cmd.host || '127.0.0.1', port: cmd.port, noDelay: true }), true)
    case 'bee':
      return openBee(cmd)
    case 'info':
      beeArg(cmd)
      return info(cmd.bee)
    case 'update':
      await update(beeArg(cmd).core)
      return info(cmd.bee)
    case 'fill':
      await fill(cmd)
      return info(cmd.bee)
    case 'put':
      await beeArg(cmd).bee.put(cmd.key, cmd.value)
      return info(cmd.bee)
    case 'del':
      await beeArg(cmd).bee.del(cmd.key)
      return info(cmd.bee)
    case 'batch':
      await batch(cmd)
      return info(cmd.bee)
    case 'get': {
      const e = await view(cmd).get(cmd.key)
      return { key: cmd.key, value: e === null ? null : e.value, seq: e === null ? null : e.seq }
    }
    case 'range':
      return collect(view(cmd).createReadStream(bounds(cmd)), entry, !!cmd.countOnly)
    case 'history':
      return collect(
        beeArg(cmd).bee.createHistoryStream(bounds(cmd)),
        (e) => ({ type: e.type, seq: e.seq, key: e.key, value: e.value }),
        false
      )
    case 'diff': {
      const { bee } = beeArg(cmd)
      const to = cmd.to === undefined ? bee : bee.checkout(cmd.to)
      return collect(to.createDiffStream(cmd.from), (d) => ({ left: entry(d.left), right: entry(d.right) }), false)
    }
    case 'version': {
      const { bee, core } = beeArg(cmd)
      return { version: bee.version, length: core.length }
    }
    case 'blocks':
      return blocks(cmd)
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
    // The bees first (their pending reads fail), then the network, then the store.
    await Promise.all(bees.map(({ bee }) => bee.close().catch(() => {})))
    servers.forEach((server) => server.close())
    connections.forEach((stream) => stream.destroy())
    if (store !== null) await store.close().catch((err) => log('close store', err && err.message))
  })()
  return closing
}

serveCommands(runCommand, shutdown, cleanupDir)
