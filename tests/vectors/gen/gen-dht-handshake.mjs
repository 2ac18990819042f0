// Regenerates tests/vectors/dht/handshake.json: hyperdht's PEER_HANDSHAKE exchange with
// fixed keys. The payloads are the objects lib/connect.js (`connectThroughNode`) and
// lib/server.js (`_addHandshake`) hand to their NoiseWrap, filled from each case's
// inputs; the Noise messages come from hyperdht's own lib/noise-wrap.js (its ephemeral key
// pair set from a fixed seed before the first send, where noise-handshake would draw one)
// and the request value from lib/messages.js's `handshake` as lib/router.js encodes it.
//
// Usage (from this folder):   npm ci && node gen-dht-handshake.mjs [outdir]
// Default outdir: tests/vectors/dht. Deterministic.

import { createRequire } from 'module'
import fs from 'fs'
import path from 'path'
import { fileURLToPath } from 'url'
import { hex, pkgVersion } from './common.mjs'

const require = createRequire(import.meta.url)
const here = path.dirname(fileURLToPath(import.meta.url))
const OUT = path.resolve(process.argv[2] || path.join(here, '..', 'dht'))

const b4a = require('b4a')
const c = require('compact-encoding')
const curve = require('noise-curve-ed')
const NoiseWrap = require('hyperdht/lib/noise-wrap.js')
const m = require('hyperdht/lib/messages.js')
const { FIREWALL, ERROR } = require('hyperdht/lib/constants.js')

const seed = (byte) => b4a.alloc(32, byte)
const kp = (byte) => curve.generateKeyPair(seed(byte))

const CASES = [
  {
    name: 'firewalled-client-open-server',
    client: { static: 1, ephemeral: 3, ourAddress: null, lan: false, localAddresses: [], reusableSocket: false, streamId: 11, udx: true },
    server: {
      static: 2, ephemeral: 4, ourAddress: { host: '1.2.3.4', port: 49737 }, shareLocalAddress: true,
      localAddresses: [{ host: '192.168.1.5', port: 49737 }], reusableSocket: false, streamId: 22,
      relays: [], relayAddresses: [{ host: '1.2.3.4', port: 49737 }, { host: '5.6.7.8', port: 10001 }]
    }
  },
  {
    name: 'open-client-firewalled-server-with-relays',
    client: {
      static: 5, ephemeral: 7, ourAddress: { host: '9.9.9.9', port: 40000 }, lan: true,
      localAddresses: [{ host: '10.0.0.2', port: 40000 }], reusableSocket: true, streamId: 300, udx: true
    },
    server: {
      static: 6, ephemeral: 8, ourAddress: null, shareLocalAddress: false,
      localAddresses: [{ host: '10.0.0.3', port: 50000 }], reusableSocket: true, streamId: 70000,
      holepunchId: 0,
      relays: [
        { relayAddress: { host: '5.6.7.8', port: 10001 }, peerAddress: { host: '2.2.2.2', port: 50000 } },
        { relayAddress: { host: '5.6.7.9', port: 10002 }, peerAddress: { host: '2.2.2.2', port: 50001 } }
      ],
      relayAddresses: [{ host: '5.6.7.8', port: 10001 }, { host: '5.6.7.9', port: 10002 }]
    }
  },
  {
    name: 'client-without-udx-is-aborted',
    client: { static: 9, ephemeral: 11, ourAddress: null, lan: false, localAddresses: [], reusableSocket: false, streamId: 1, udx: false },
    server: {
      static: 10, ephemeral: 12, ourAddress: null, shareLocalAddress: true, localAddresses: [],
      reusableSocket: false, streamId: 5, holepunchId: 0, relays: [], relayAddresses: []
    }
  }
]

// connect.js connectThroughNode's payload.
function clientPayload (t) {
  const addresses4 = []
  if (t.ourAddress) addresses4.push(t.ourAddress)
  if (t.lan) addresses4.push(...t.localAddresses)
  return {
    error: ERROR.NONE,
    firewall: t.ourAddress ? FIREWALL.OPEN : FIREWALL.UNKNOWN,
    holepunch: null,
    addresses4,
    addresses6: [],
    udx: t.udx ? { reusableSocket: t.reusableSocket, id: t.streamId, seq: 0 } : null,
    secretStream: {},
    relayThrough: null
  }
}

// server.js _addHandshake's payload.
function serverPayload (t, remotePayload) {
  const error = remotePayload.version === 1 ? (remotePayload.udx ? ERROR.NONE : ERROR.ABORTED) : ERROR.VERSION_MISMATCH
  const addresses = []
  if (t.ourAddress) addresses.push(t.ourAddress)
  if (t.shareLocalAddress) addresses.push(...t.localAddresses)
  return {
    error,
    firewall: t.ourAddress ? FIREWALL.OPEN : FIREWALL.UNKNOWN,
    holepunch: t.ourAddress ? null : { id: t.holepunchId, relays: t.relays },
    addresses4: addresses,
    addresses6: null,
    udx: { reusableSocket: t.reusableSocket, id: error === ERROR.NONE ? t.streamId : 0, seq: 0 },
    secretStream: {},
    relayThrough: null,
    relayAddresses: t.relayAddresses.length ? t.relayAddresses : null
  }
}

function runCase (tc) {
  const cs = kp(tc.client.static)
  const ss = kp(tc.server.static)
  const client = new NoiseWrap(cs, ss.publicKey)
  const server = new NoiseWrap(ss, null)
  client.handshake.e = kp(tc.client.ephemeral)
  server.handshake.e = kp(tc.server.ephemeral)

  const cp = clientPayload(tc.client)
  const clientPayloadHex = hex(c.encode(m.noisePayload, cp))
  const msg1 = client.send(cp)
  const message1 = hex(msg1)
  const request = hex(c.encode(m.handshake, { mode: 0, noise: msg1, peerAddress: undefined, relayAddress: undefined }))
  const got = server.recv(msg1)
  const sp = serverPayload(tc.server, got)
  const serverPayloadHex = hex(c.encode(m.noisePayload, sp))
  const msg2 = server.send(sp)
  const message2 = hex(msg2)
  client.recv(msg2)
  const a = client.final()
  const b = server.final()
  if (!b4a.equals(a.hash, b.hash)) throw new Error('hashes differ')
  return {
    name: tc.name,
    client: tc.client,
    server: tc.server,
    clientPublicKey: hex(cs.publicKey),
    serverPublicKey: hex(ss.publicKey),
    clientPayload: clientPayloadHex,
    serverPayload: serverPayloadHex,
    message1,
    message2,
    request,
    serverError: sp.error,
    handshakeHash: hex(a.hash),
    holepunchSecret: hex(a.holepunchSecret)
  }
}

const out = {
  source: `hyperdht ${pkgVersion('hyperdht')} lib/noise-wrap.js, noise-handshake ${pkgVersion('noise-handshake')}`,
  peerHandshakes: CASES.map(runCase)
}
fs.mkdirSync(OUT, { recursive: true })
fs.writeFileSync(path.join(OUT, 'handshake.json'), JSON.stringify(out, null, 2) + '\n')
console.log('wrote', path.join(OUT, 'handshake.json'))
