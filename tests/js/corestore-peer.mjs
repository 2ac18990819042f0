#!/usr/bin/env node
// Scriptable JS corestore 7.12.5 peer (on hypercore 11.37.1) for ferrocore's store interop
// tests: one process = one Corestore, any number of TCP connections (each one Noise
// secret-stream + one protomux, handed to `store.replicate(stream)`, so every core the
// store holds can ride on it). Driven by JSON lines on stdin, reports JSON lines on stdout
// (nothing else goes to stdout; logs go to stderr). Same conventions as hypercore-peer.mjs.
//
//   node corestore-peer.mjs [--timeout MS]
//
//   --timeout MS      hard exit (code 3) after MS milliseconds (default 0 = none).
//
// Everything else is a command. Commands run one at a time, in order (each is awaited),
// except those with "background": true, which start in order but let the next command run
// at once (their reply comes when they finish: use it for a `getBlock`/`update` that must
// wait for something a later command does, e.g. `findingPeersDone`).
// Every reply is {"reply":op,"id":<the command's id, null if none>, ...}; a failed command
// replies {"reply":op,"id":..,"error":msg,"code":hypercore error code or null}.
// Hex is lower-case; keys are 32 bytes (64 hex chars).
//
// Store:
//   {"op":"open","dir":path?,"primaryKey":hex?,"noiseSeed":hex?,"uploadEvents":bool?}
//       new Corestore(dir, {primaryKey, unsafe: true}) (without primaryKey: the one stored
//       in dir, or a fresh random one). dir defaults to a fresh temporary directory,
//       deleted on exit (not on SIGKILL: pass dir when the caller may kill -9). noiseSeed:
//       seed of the static Noise key pair of every connection (default: random, one per
//       process). uploadEvents: report `upload` events too.
//       → primaryKey, dir, noisePublicKey
//   {"op":"keyPair","name":s,"namespace":[s,...]?}   store.createKeyPair(name) in that
//       namespace (no core is created)                → publicKey
//   {"op":"get", one of "name":s | "key":hex | "discoveryKey":hex,
//    "namespace":[s,...]?, "encryptionKey":hex?, "blockKey":bool?, "sparse":bool?,
//    "exclusive":bool?, "wait":bool?, "timeout":ms?}
//       store[.namespace(n1).namespace(n2)...].get({name} | {key} | {discoveryKey}) and
//       await ready(). namespace applies to `name` only (chained namespace() calls, in
//       order). encryptionKey: hypercore's {encryption: {key}} (the block key is derived
//       from it and the core key), with blockKey: true the hex is the block key itself.
//       sparse: false starts a live core.download({start: 0, end: -1}) (everything, now and
//       later); the default (true) downloads only what is asked for. wait/timeout: the
//       session's defaults for get/update. A discoveryKey the store does not hold fails
//       with code STORAGE_EMPTY.
//       → core (a handle number for later commands and events: every `get` makes a new
//         session and a new handle), then the `info` fields
//   {"op":"info","core":h}  → core, key, discoveryKey, length, contiguousLength, fork,
//                             writable, byteLength (without encryption padding), peers
//                             (how many remote peers replicate this core)
//   {"op":"append","core":h,"values":[s,...],"encoding":"hex"|"utf8"}
//   {"op":"append","core":h,"count":n,"blockSize":b?,"as":k?}
//       append the values (encoding defaults to hex), or n formula blocks (blocks.mjs:
//       blockValue(k, index, b), k defaults to the handle, b to 1000), in batches of 1000
//                                                    → core, length, byteLength, fork
//   {"op":"getBlock","core":h,"index":i,"wait":bool?,"timeout":ms?,"encoding":"hex"|"utf8"?}
//       core.get(i, {wait (default true), timeout (default 10000)})
//                                                    → core, index, value (hex or utf-8
//                                                      string; null if absent and not
//                                                      waiting), or error + code
//                                                      (REQUEST_TIMEOUT, ...)
//   {"op":"update","core":h,"wait":bool?}   core.update({wait (default true)})
//                                                    → core, updated, length, fork
//   {"op":"download","core":h,"start":s?,"end":e?}  await core.download({start, end}).done()
//       (end exclusive, defaults to the core's length)  → core, start, end, contiguousLength
//   {"op":"closeCore","core":h}   close that session (the store closes the core once no
//                                 session holds it and it is idle)   → core
//   {"op":"list","namespace":[s,...]?}
//       store.list(): the discovery keys of every core the store holds (opened or not);
//       with namespace (an array, [] = the root namespace): only the named cores of that
//       namespace (store.list(ns))                   → discoveryKeys: [hex, ...]
//   {"op":"findingPeers"}      store.findingPeers(): gets and updates of every session
//                              wait for peers until the matching done  → token
//   {"op":"findingPeersDone","token":t}                                → token
//
// Connections (each: Noise XX over TCP with NoiseSecretStream, then store.replicate(it);
// store.replicate does not take a raw socket). TCP_NODELAY is set.
//   {"op":"listen","port":p?,"host":h?,"initiator":bool?}
//       listen on host (default 127.0.0.1) : port (default 0 = ephemeral); every accepted
//       connection is replicated, as the Noise responder unless initiator: true
//                                                    → port
//   {"op":"connect","host":h?,"port":p,"initiator":bool?}
//       connect (Noise initiator unless initiator: false) and reply once the handshake is
//       done                          → conn, publicKey, remotePublicKey, handshakeHash
//   {"op":"disconnect","conn":n}     destroy that connection          → conn
//   {"op":"close"}                   close the store and every connection, reply, exit 0.
//                                    EOF on stdin does the same (without the reply).
//
// Events, one JSON object per line, as they happen:
//   {"event":"connection","conn":n,"initiator":bool,"publicKey":hex,"remotePublicKey":hex,
//    "handshakeHash":hex}              a connection's Noise handshake completed (listen or
//                                       connect side; conn numbers count from 0)
//   {"event":"connection-closed","conn":n}
//   {"event":"core-open","discoveryKey":hex}   the store opened a core: by a `get`, or on
//                                       demand for a remote that opened its channel (the
//                                       corestore `ondiscoverykey` path; store.watch)
//   {"event":"reject","conn":n,"discoveryKey":hex}  a remote opened a hypercore/alpha
//                                       channel for a core this store does not hold and
//                                       protomux rejected it (corestore does this silently;
//                                       the driver sees it by wrapping the connection's
//                                       muxer `_rejectSession`, node_modules unchanged)
//   {"event":"append","core":h,"discoveryKey":hex,"length":n,"fork":f}  (local or remote)
//   {"event":"download","core":h,"discoveryKey":hex,"index":i,"byteLength":b}
//   {"event":"upload","core":h,"discoveryKey":hex,"index":i,"byteLength":b} (uploadEvents)
//   {"event":"peer-add","core":h,"discoveryKey":hex,"remotePublicKey":hex}
//   {"event":"peer-remove","core":h,"discoveryKey":hex,"remotePublicKey":hex}
//       (per session: two handles on one core both report)
//   {"event":"error","message":msg}     any failure outside a command

import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { blockValue } from './blocks.mjs'
import { out, hex, parseHex, guardProcess, serveCommands, removeDir, timeoutArg, listenTcp, storeOpenArgs, replicateConnection } from './jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const Corestore = require('corestore')
const crypto = require('hypercore-crypto')
const NoiseSecretStream = require('@hyperswarm/secret-stream')

const APPEND_BATCH = 1000

function log(...args) {
  process.stderr.write('[corestore-peer] ' + args.join(' ') + '\n')
}

const timeout = timeoutArg('corestore-peer.mjs')

let store = null
let tmpDir = null
let noiseKeyPair = null
let uploadEvents = false
const sessions = [] // handle -> Hypercore session (null once closed)
const namespaces = new Map() // JSON of the namespace path -> Corestore session
const connections = [] // conn -> NoiseSecretStream
const servers = []
const finding = new Map() // token -> done function
let nextToken = 1
let closing = null

guardProcess(timeout, cleanupDir, log)

function cleanupDir() {
  removeDir(tmpDir)
}

function needStore() {
  if (store === null) throw new Error('no store: send {"op":"open"} first')
  return store
}

// The store session for a namespace path (chained namespace() calls), cached.
function namespaceOf(names) {
  if (names === undefined || names === null) return needStore()
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
    throw new Error('namespace: expected an array of strings')
  }
  const id = JSON.stringify(names)
  let ns = namespaces.get(id)
  if (!ns) {
    ns = names.reduce((s, name) => s.namespace(name), needStore())
    namespaces.set(id, ns)
  }
  return ns
}

function sessionArg(cmd) {
  const h = cmd.core
  if (!Number.isInteger(h) || h < 0 || h >= sessions.length || sessions[h] === null) {
    throw new Error('no such core handle: ' + JSON.stringify(h))
  }
  return sessions[h]
}

function coreInfo(h) {
  const core = sessions[h]
  return {
    core: h,
    key: hex(core.key),
    discoveryKey: hex(core.discoveryKey),
    length: core.length,
    contiguousLength: core.contiguousLength,
    fork: core.fork,
    writable: core.writable,
    byteLength: core.byteLength,
    peers: core.peers.length
  }
}

function watchSession(h) {
  const core = sessions[h]
  const dk = hex(core.discoveryKey)
  const ev = (event, extra) => out({ event, core: h, discoveryKey: dk, ...extra })
  core.on('append', () => ev('append', { length: core.length, fork: core.fork }))
  core.on('download', (index, byteLength) => ev('download', { index, byteLength }))
  if (uploadEvents) core.on('upload', (index, byteLength) => ev('upload', { index, byteLength }))
  core.on('peer-add', (peer) => ev('peer-add', { remotePublicKey: hex(peer.remotePublicKey) }))
  core.on('peer-remove', (peer) => ev('peer-remove', { remotePublicKey: hex(peer.remotePublicKey) }))
}

async function getCore(cmd) {
  const opts = {}
  let from = needStore()
  const given = ['name', 'key', 'discoveryKey'].filter((k) => cmd[k] !== undefined)
  if (given.length !== 1) throw new Error('get: give exactly one of name, key, discoveryKey')
  if (cmd.name !== undefined) {
    if (typeof cmd.name !== 'string') throw new Error('name: expected a string')
    opts.name = cmd.name
    from = namespaceOf(cmd.namespace)
  } else if (cmd.key !== undefined) {
    opts.key = parseHex(cmd.key, 32, 'key')
  } else {
    opts.discoveryKey = parseHex(cmd.discoveryKey, 32, 'discoveryKey')
  }
  if (cmd.encryptionKey !== undefined) {
    opts.encryption = { key: parseHex(cmd.encryptionKey, 32, 'encryptionKey'), block: !!cmd.blockKey }
  }
  if (cmd.exclusive) opts.exclusive = true
  if (cmd.wait !== undefined) opts.wait = !!cmd.wait
  if (cmd.timeout !== undefined) opts.timeout = cmd.timeout
  const core = from.get(opts)
  try {
    await core.ready()
  } catch (err) {
    core.close().catch(() => {})
    throw err
  }
  const h = sessions.push(core) - 1
  watchSession(h)
  if (cmd.sparse === false) core.download({ start: 0, end: -1 })
  return coreInfo(h)
}

async function append(cmd) {
  const h = cmd.core
  const core = sessionArg(cmd)
  if (cmd.values !== undefined) {
    const enc = cmd.encoding === undefined ? 'hex' : cmd.encoding
    if (enc !== 'hex' && enc !== 'utf8') throw new Error('encoding: hex or utf8')
    if (!Array.isArray(cmd.values)) throw new Error('values: expected an array')
    const values = cmd.values.map((v, i) =>
      enc === 'hex' ? parseHex(v, 0, 'values[' + i + ']') : Buffer.from(String(v), 'utf8')
    )
    await core.append(values)
  } else {
    const size = cmd.blockSize === undefined ? 1000 : cmd.blockSize
    const as = cmd.as === undefined ? h : cmd.as
    let left = cmd.count === undefined ? 1 : cmd.count
    while (left > 0) {
      const n = Math.min(left, APPEND_BATCH)
      const start = core.length
      const batch = []
      for (let j = 0; j < n; j++) batch.push(blockValue(as, start + j, size))
      await core.append(batch)
      left -= n
    }
  }
  return { core: h, length: core.length, byteLength: core.byteLength, fork: core.fork }
}

// A connection: Noise over the socket, replicated by the store; its muxer reports the
// hypercore channels it rejects.
function attach(socket, initiator) {
  const ctx = { store, connections, keyPair: noiseKeyPair, NoiseSecretStream, closing: () => !!closing }
  return replicateConnection(ctx, socket, initiator, (mux, conn) => {
    const reject = mux._rejectSession
    mux._rejectSession = function (info, remoteId) {
      if (info && info.protocol === 'hypercore/alpha') {
        out({ event: 'reject', conn, discoveryKey: hex(info.id) })
      }
      return reject.call(this, info, remoteId)
    }
  })
}

async function listen(cmd) {
  needStore()
  const initiator = cmd.initiator === true
  return listenTcp(net, cmd, servers, (sock) => {
    if (closing) return sock.destroy()
    attach(sock, initiator)
  })
}

async function connect(cmd) {
  needStore()
  const sock = net.connect({ host: cmd.host || '127.0.0.1', port: cmd.port, noDelay: true })
  return attach(sock, cmd.initiator !== false)
}

async function list(cmd) {
  const ns = cmd.namespace === undefined || cmd.namespace === null ? null : namespaceOf(cmd.namespace)
  if (ns !== null && !ns.opened) await ns.ready()
  const s = needStore()
  if (!s.opened) await s.ready()
  const discoveryKeys = []
  for await (const dk of s.list(ns === null ? undefined : ns.ns)) discoveryKeys.push(hex(dk))
  return { discoveryKeys }
}

async function open(cmd) {
  if (store !== null) throw new Error('a store is already open')
  const { dir, tmp, opts } = storeOpenArgs(mkdtempSync, os, path, cmd, 'ferrocore-cs-peer-')
  if (tmp) tmpDir = dir
  noiseKeyPair = crypto.keyPair(cmd.noiseSeed === undefined ? undefined : parseHex(cmd.noiseSeed, 32, 'noiseSeed'))
  uploadEvents = !!cmd.uploadEvents
  store = new Corestore(dir, opts)
  await store.ready()
  store.watch((core) => out({ event: 'core-open', discoveryKey: hex(core.discoveryKey) }))
  return { primaryKey: hex(store.primaryKey), dir, noisePublicKey: hex(noiseKeyPair.publicKey) }
}

async function runCommand(cmd) {
  const op = cmd.op
  const base = { reply: op, id: cmd.id === undefined ? null : cmd.id }
  try {
    switch (op) {
      case 'open':
        return { ...base, ...(await open(cmd)) }
      case 'keyPair': {
        const kp = await namespaceOf(cmd.namespace).createKeyPair(cmd.name)
        return { ...base, publicKey: hex(kp.publicKey) }
      }
      case 'get':
        return { ...base, ...(await getCore(cmd)) }
      case 'info':
        sessionArg(cmd)
        return { ...base, ...coreInfo(cmd.core) }
      case 'append':
        return { ...base, ...(await append(cmd)) }
      case 'getBlock': {
        const core = sessionArg(cmd)
        const value = await core.get(cmd.index, {
          wait: cmd.wait !== false,
          timeout: cmd.timeout === undefined ? 10000 : cmd.timeout
        })
        const text = value === null ? null : cmd.encoding === 'utf8' ? value.toString('utf8') : hex(value)
        return { ...base, core: cmd.core, index: cmd.index, value: text }
      }
      case 'update': {
        const core = sessionArg(cmd)
        const updated = await core.update({ wait: cmd.wait !== false })
        return { ...base, core: cmd.core, updated, length: core.length, fork: core.fork }
      }
      case 'download': {
        const core = sessionArg(cmd)
        const start = cmd.start === undefined ? 0 : cmd.start
        const end = cmd.end === undefined ? core.length : cmd.end
        await core.download({ start, end }).done()
        return { ...base, core: cmd.core, start, end, contiguousLength: core.contiguousLength }
      }
      case 'closeCore': {
        const core = sessionArg(cmd)
        sessions[cmd.core] = null
        await core.close()
        return { ...base, core: cmd.core }
      }
      case 'list':
        return { ...base, ...(await list(cmd)) }
      case 'findingPeers': {
        const token = nextToken++
        finding.set(token, needStore().findingPeers())
        return { ...base, token }
      }
      case 'findingPeersDone': {
        const done = finding.get(cmd.token)
        if (!done) throw new Error('no such findingPeers token: ' + JSON.stringify(cmd.token))
        finding.delete(cmd.token)
        done()
        return { ...base, token: cmd.token }
      }
      case 'listen':
        return { ...base, ...(await listen(cmd)) }
      case 'connect':
        return { ...base, ...(await connect(cmd)) }
      case 'disconnect': {
        const stream = connections[cmd.conn]
        if (!stream) throw new Error('no such connection: ' + JSON.stringify(cmd.conn))
        stream.destroy()
        return { ...base, conn: cmd.conn }
      }
      case 'close':
        await shutdown()
        return base
      default:
        throw new Error('unknown op ' + JSON.stringify(op))
    }
  } catch (err) {
    return { ...base, error: (err && err.message) || String(err), code: (err && err.code) || null }
  }
}

async function shutdown() {
  if (closing) return closing
  closing = (async () => {
    for (const server of servers) server.close()
    for (const stream of connections) stream.destroy()
    if (store !== null) {
      try {
        await store.close()
      } catch (err) {
        log('close store', err && err.message)
      }
    }
  })()
  return closing
}

serveCommands(runCommand, shutdown, cleanupDir)
