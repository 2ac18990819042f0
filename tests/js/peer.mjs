#!/usr/bin/env node
// JS interop peer: TCP + @hyperswarm/secret-stream (Noise XX) + protomux, exactly the
// versions hypercore 11.37.1 uses. One process = one connection = one test.
//
//   node peer.mjs --role initiator|responder (--listen | --connect PORT)
//                 [--host 127.0.0.1] [--seed HEX32] [--bytes N] [--chunk N]
//                 [--protocol NAME] [--id HEX] [--handshake STRING] [--timeout MS]
//
//   --role       Noise role (required). Independent of who listens/connects.
//   --listen     listen on HOST port 0, print {"port":N} as the first stdout line,
//                accept ONE connection (the server is closed after it).
//   --connect P  connect to HOST:P.
//   --host       default 127.0.0.1.
//   --seed       32-byte hex seed of the static Noise key pair
//                (crypto_sign_seed_keypair, = hypercore-crypto keyPair(seed));
//                default: a random key pair.
//   --bytes      bytes to send on message type 0 (default 67108864; 0 is allowed).
//   --chunk      bytes per type-0 message (default 65536; last one may be shorter).
//   --protocol   channel protocol (default "ferrocore/interop").
//   --id         channel id bytes in hex (default: none).
//   --handshake  string sent in our channel open (default "hello from js").
//   --timeout    hard timeout in ms for the whole run (default 120000).
//
// Protocol on the channel (one protomux channel, handshake codec c.string):
//   message 0: c.raw     — content bytes (see content.mjs for the exact byte formula;
//                          the stream depends on the sender's Noise role)
//   message 1: c.fixed32 — SHA-256 of all bytes the sender sent on message 0,
//                          sent once after the last message 0.
// Each side verifies the received bytes against the formula for the remote role and
// compares SHA-256(received) with the remote's message 1. Once a side has sent its own
// digest and received the remote's, it closes the channel (if still open), ends the
// secret stream (TCP half-close) and waits for the stream to close; protomux ends
// its side when the remote ends.
//
// stdout: (listen mode) {"port":N}, then exactly one result JSON line:
//   {"ok", "role", "sent", "received", "sentDigest", "receivedDigest", "remoteDigest",
//    "contentOk", "firstMismatch", "publicKey", "remotePublicKey", "handshakeHash",
//    "remoteHandshake", "channelClosedBy", "ms"}
// exit 0 if ok, 1 otherwise (any error, with "error" in the JSON; hard timeout: --timeout, default 120 s).
// Diagnostics go to stderr only.

import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { fill, baseFor, firstMismatch } from './content.mjs'

const require = createRequire(import.meta.url)
const SecretStream = require('@hyperswarm/secret-stream')
const Protomux = require('protomux')
const c = require('compact-encoding')

const MAX_FRAME = 16_777_198 // max secret-stream plaintext (one protomux frame)

function log(...args) {
  process.stderr.write('[peer ' + (opts?.role || '?') + '] ' + args.join(' ') + '\n')
}

function usage(msg) {
  process.stderr.write('peer.mjs: ' + msg + '\n')
  process.stdout.write(JSON.stringify({ ok: false, error: 'usage: ' + msg }) + '\n', () => process.exit(2))
}

function parseArgs(argv) {
  const o = {
    role: null,
    listen: false,
    connect: null,
    host: '127.0.0.1',
    seed: null,
    bytes: 67108864,
    chunk: 65536,
    protocol: 'ferrocore/interop',
    id: null,
    handshake: 'hello from js',
    timeout: 120000
  }
  const int = (v, name) => {
    if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${name} needs a non-negative integer`)
    const n = Number(v)
    if (!Number.isSafeInteger(n)) throw new Error(`${name} too large`)
    return n
  }
  const hex = (v, name) => {
    if (v === undefined || !/^([0-9a-fA-F]{2})*$/.test(v)) throw new Error(`${name} needs hex`)
    return Buffer.from(v, 'hex')
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    switch (a) {
      case '--role':
        o.role = argv[++i]
        if (o.role !== 'initiator' && o.role !== 'responder') throw new Error('--role must be initiator or responder')
        break
      case '--listen': o.listen = true; break
      case '--connect': o.connect = int(argv[++i], a); break
      case '--host': o.host = argv[++i]; break
      case '--seed':
        o.seed = hex(argv[++i], a)
        if (o.seed.length !== 32) throw new Error('--seed must be 32 bytes (64 hex chars)')
        break
      case '--bytes': o.bytes = int(argv[++i], a); break
      case '--chunk': o.chunk = int(argv[++i], a); break
      case '--protocol': o.protocol = argv[++i]; if (o.protocol === undefined) throw new Error('--protocol needs a value'); break
      case '--id': o.id = hex(argv[++i], a); break
      case '--timeout': o.timeout = int(argv[++i], a); break
      case '--handshake': o.handshake = argv[++i]; if (o.handshake === undefined) throw new Error('--handshake needs a value'); break
      default: throw new Error('unknown argument ' + a)
    }
  }
  if (!o.role) throw new Error('--role is required')
  if (o.listen === (o.connect !== null)) throw new Error('exactly one of --listen / --connect PORT')
  if (o.chunk < 1 || o.chunk > MAX_FRAME - 16) throw new Error('--chunk out of range')
  return o
}

let opts = null
try {
  opts = parseArgs(process.argv.slice(2))
} catch (err) {
  usage(err.message)
}

if (opts) main()

function main() {
  const isInitiator = opts.role === 'initiator'
  const keyPair = SecretStream.keyPair(opts.seed || randomBytes(32))
  const sendBase = baseFor(isInitiator)
  const recvBase = baseFor(!isInitiator)

  const st = {
    sent: 0,
    received: 0,
    sentDigest: null,
    receivedDigest: null,
    remoteDigest: null,
    contentOk: true,
    firstMismatch: null, // stream offset of the first received byte that differs from the formula
    remotePublicKey: null,
    handshakeHash: null,
    remoteHandshake: null,
    channelClosedBy: null,
    channelOpened: false,
    digestSent: false,
    digestReceived: false,
    ending: false
  }

  let finished = false
  let t0 = null
  let server = null
  let socket = null
  let stream = null

  const sendHash = createHash('sha256')
  const recvHash = createHash('sha256')
  const scratch = Buffer.allocUnsafe(opts.chunk)

  const hardTimer = setTimeout(() => fail(new Error(`hard timeout ${opts.timeout} ms`)), opts.timeout)

  function result(ok, error) {
    const out = {
      ok,
      role: opts.role,
      sent: st.sent,
      received: st.received,
      sentDigest: st.sentDigest,
      receivedDigest: st.receivedDigest,
      remoteDigest: st.remoteDigest,
      contentOk: st.contentOk,
      firstMismatch: st.firstMismatch,
      publicKey: keyPair.publicKey.toString('hex'),
      remotePublicKey: st.remotePublicKey,
      handshakeHash: st.handshakeHash,
      remoteHandshake: st.remoteHandshake,
      channelClosedBy: st.channelClosedBy,
      ms: t0 === null ? null : Number(process.hrtime.bigint() - t0) / 1e6
    }
    if (error) out.error = error
    return out
  }

  function finish(ok, error) {
    if (finished) return
    finished = true
    clearTimeout(hardTimer)
    const line = JSON.stringify(result(ok, error)) + '\n'
    process.stdout.write(line, () => process.exit(ok ? 0 : 1))
  }

  function fail(err) {
    if (finished) return
    log('error:', err && err.stack ? err.stack : String(err))
    finish(false, err && err.message ? err.message : String(err))
    try { if (stream) stream.destroy() } catch {}
    try { if (socket) socket.destroy() } catch {}
    try { if (server) server.close() } catch {}
  }

  function onSocket(sock) {
    socket = sock
    t0 = process.hrtime.bigint()
    socket.setNoDelay(true)
    log('tcp connected', socket.remoteAddress + ':' + socket.remotePort)
    socket.on('error', (err) => log('socket error:', err.message)) // surfaced via the stream

    stream = new SecretStream(isInitiator, socket, { keyPair })
    stream.on('error', fail)
    stream.on('close', onStreamClose)
    stream.on('connect', () => {
      st.remotePublicKey = stream.remotePublicKey.toString('hex')
      st.handshakeHash = stream.handshakeHash.toString('hex')
      log('noise handshake done, remote key', st.remotePublicKey.slice(0, 16) + '...')
    })

    const mux = new Protomux(stream)
    const channel = mux.createChannel({
      protocol: opts.protocol,
      id: opts.id,
      handshake: c.string,
      messages: [
        { encoding: c.raw, onmessage: onData },
        { encoding: c.fixed32, onmessage: onDigest }
      ],
      onopen(handshake) {
        st.channelOpened = true
        st.remoteHandshake = handshake
        log('channel open, remote handshake', JSON.stringify(handshake))
        sendAll(channel).catch(fail)
      },
      onclose(isRemote) {
        st.channelClosedBy = isRemote ? 'remote' : 'local'
        log('channel closed by', st.channelClosedBy)
        if (!st.ending) fail(new Error('channel closed before the exchange completed (' + st.channelClosedBy + ')'))
      }
    })
    if (channel === null) return fail(new Error('createChannel returned null'))
    channel.open(opts.handshake)

    function onData(buf) {
      if (st.digestReceived) return fail(new Error('content message after the remote digest'))
      if (st.contentOk) {
        const i = firstMismatch(buf, st.received, recvBase, scratch)
        if (i !== -1) {
          st.contentOk = false
          st.firstMismatch = st.received + i
          log('content mismatch at stream offset', st.firstMismatch)
        }
      }
      recvHash.update(buf)
      st.received += buf.length
    }

    function onDigest(digest) {
      if (st.digestReceived) return fail(new Error('second digest message'))
      st.digestReceived = true
      st.remoteDigest = Buffer.from(digest).toString('hex')
      st.receivedDigest = recvHash.digest('hex')
      log('remote digest received after', st.received, 'bytes, match:', st.remoteDigest === st.receivedDigest)
      maybeDone(channel)
    }
  }

  async function sendAll(channel) {
    const total = opts.bytes
    while (st.sent < total) {
      if (finished) return
      const n = Math.min(opts.chunk, total - st.sent)
      const buf = fill(Buffer.allocUnsafe(n), st.sent, sendBase)
      sendHash.update(buf)
      st.sent += n
      if (channel.closed) throw new Error('channel closed while sending')
      if (!channel.messages[0].send(buf)) await drained()
    }
    st.sentDigest = sendHash.digest('hex')
    channel.messages[1].send(Buffer.from(st.sentDigest, 'hex'))
    st.digestSent = true
    log('sent', st.sent, 'bytes and digest')
    maybeDone(channel)
  }

  function drained() {
    return new Promise((resolve, reject) => {
      if (stream.destroying) return reject(new Error('stream destroyed while sending'))
      const ondrain = () => { stream.off('close', onclose); resolve() }
      const onclose = () => { stream.off('drain', ondrain); reject(new Error('stream closed while sending')) }
      stream.once('drain', ondrain)
      stream.once('close', onclose)
    })
  }

  function maybeDone(channel) {
    if (!st.digestSent || !st.digestReceived || st.ending) return
    st.ending = true
    if (!channel.closed) channel.close()
    log('exchange complete; ending stream')
    stream.end()
  }

  function onStreamClose() {
    if (finished) return
    if (!st.ending) return fail(new Error('stream closed before the exchange completed'))
    const ok = st.channelOpened && st.contentOk && st.remoteDigest !== null && st.remoteDigest === st.receivedDigest
    log('stream closed, ok =', ok)
    finish(ok, ok ? undefined : 'digest or content mismatch')
  }

  if (opts.listen) {
    server = net.createServer({ allowHalfOpen: true, noDelay: true })
    server.on('error', fail)
    server.once('connection', (sock) => {
      server.close() // accept ONE connection
      onSocket(sock)
    })
    server.listen(0, opts.host, () => {
      const { port } = server.address()
      log('listening on', opts.host + ':' + port)
      process.stdout.write(JSON.stringify({ port }) + '\n')
    })
  } else {
    const sock = net.connect({ host: opts.host, port: opts.connect, allowHalfOpen: true, noDelay: true })
    sock.once('connect', () => onSocket(sock))
    sock.once('error', (err) => { if (!socket) fail(err) })
  }
}
