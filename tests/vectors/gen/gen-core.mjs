// Regenerates the Hypercore core-format test vectors (tests/vectors/core/*.json)
// by running the JavaScript reference implementation (npm package versions are
// pinned in package.json next to this script).
//
// Usage (from this folder):   npm ci && node gen-core.mjs [outDir]
// Default outDir: tests/vectors/core (../core from this script). scripts/gen-vectors
// passes a temporary folder instead and compares it with tests/vectors/core.
//
// Everything is deterministic: key pairs come from fixed seeds, block contents
// are fixed, and Ed25519 signatures are deterministic.

import fs from 'fs'
import os from 'os'
import path from 'path'
import { fileURLToPath } from 'url'
import { createRequire } from 'module'
import { hex, manifestJ, pkgVersion } from './common.mjs'

const require = createRequire(import.meta.url)

const Hypercore = require('hypercore')
const crypto = require('hypercore-crypto')
const flat = require('flat-tree')
const c = require('compact-encoding')
const b4a = require('b4a')
const sodium = require('sodium-universal')
const z32 = require('z32')
const hid = require('hypercore-id-encoding')
const caps = require('hypercore/lib/caps.js')
const Verifier = require('hypercore/lib/verifier.js')
const messages = require('hypercore/lib/messages.js')
const { MerkleTree } = require('hypercore/lib/merkle-tree.js')
const DefaultEncryption = require('hypercore/lib/default-encryption.js')

const here = path.dirname(fileURLToPath(import.meta.url))
const OUT = path.resolve(process.argv[2] || path.join(here, '..', 'core'))
fs.mkdirSync(OUT, { recursive: true })

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'hc-vectors-'))
let tmpCount = 0
const tmpdir = () => path.join(TMP, 'c' + tmpCount++)

const GENERATOR = {
  script: 'tests/vectors/gen/gen-core.mjs',
  packages: Object.fromEntries(
    [
      'hypercore',
      'hypercore-crypto',
      'flat-tree',
      'compact-encoding',
      'sodium-universal',
      'z32',
      'hypercore-id-encoding',
      'b4a'
    ].map((n) => [n, pkgVersion(n)])
  )
}

// ---------------------------------------------------------------- helpers

const fromHex = (s) => b4a.from(s, 'hex')
const nodeJ = (n) => ({ index: n.index, size: n.size, hash: hex(n.hash) })
const nodesJ = (ns) => (ns ? ns.map(nodeJ) : ns)

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg)
}

function write(name, obj) {
  const file = path.join(OUT, name)
  fs.writeFileSync(file, JSON.stringify({ generator: GENERATOR, ...obj }, null, 2) + '\n')
  console.log('wrote', name)
}

function seedFromString(s) {
  // 32-byte seed = BLAKE2b-256(utf8(s))
  return crypto.hash(b4a.from(s))
}

// Fixed block contents. Block i = utf8("block " + i) followed by (i % 5) '!' characters,
// so blocks have different lengths.
function blockContent(i, tag = '') {
  return b4a.from(tag + 'block ' + i + '!'.repeat(i % 5))
}

function proofJ(p) {
  return {
    fork: p.fork,
    block: p.block
      ? { index: p.block.index, value: hex(p.block.value), nodes: nodesJ(p.block.nodes) }
      : null,
    hash: p.hash ? { index: p.hash.index, nodes: nodesJ(p.hash.nodes) } : null,
    seek: p.seek ? { bytes: p.seek.bytes, nodes: nodesJ(p.seek.nodes) } : null,
    upgrade: p.upgrade
      ? {
          start: p.upgrade.start,
          length: p.upgrade.length,
          nodes: nodesJ(p.upgrade.nodes),
          additionalNodes: nodesJ(p.upgrade.additionalNodes),
          signature: hex(p.upgrade.signature)
        }
      : null,
    manifest: manifestJ(p.manifest)
  }
}

// --- independent re-implementation of the tree maths (cross-checked against the reference)

function leafNode(i, data) {
  return { index: 2 * i, size: data.byteLength, hash: crypto.data(data) }
}

function buildTree(blocks) {
  // returns Map index -> node for every node that exists once all blocks are appended
  const nodes = new Map()
  for (let i = 0; i < blocks.length; i++) nodes.set(2 * i, leafNode(i, blocks[i]))
  let changed = true
  while (changed) {
    changed = false
    for (const [idx] of [...nodes]) {
      const parent = flat.parent(idx)
      if (nodes.has(parent)) continue
      const sib = flat.sibling(idx)
      if (!nodes.has(sib)) continue
      const a = nodes.get(Math.min(idx, sib))
      const b = nodes.get(Math.max(idx, sib))
      nodes.set(parent, { index: parent, size: a.size + b.size, hash: crypto.parent(a, b) })
      changed = true
    }
  }
  return nodes
}

function rootsAt(nodes, length) {
  return flat.fullRoots(2 * length).map((i) => {
    const n = nodes.get(i)
    assert(n, 'missing root ' + i)
    return n
  })
}

// Same sequence the replicator uses to answer a request (hypercore lib/replicator.js _getProof):
// MerkleTree.proof() is awaited *before* the read batch is flushed (Hypercore#proof() flushes
// too early for seek proofs).
async function refProof(core, opts) {
  const rx = core.state.storage.read()
  const block = opts.block ? rx.getBlock(opts.block.index) : null
  const p = await MerkleTree.proof(core.state, rx, opts)
  rx.tryFlush()
  const settled = await p.settle()
  if (block) settled.block.value = await block
  return settled
}

function encodeData(request, proof) {
  return c.encode(messages.wire.data, { request, ...proof })
}

function encodeRequest(id, fork, req) {
  return c.encode(messages.wire.request, {
    id,
    fork,
    block: req.block || null,
    hash: req.hash || null,
    seek: req.seek || null,
    upgrade: req.upgrade || null,
    manifest: !!req.manifest,
    priority: 0
  })
}

// ---------------------------------------------------------------- 1. flat-tree

function genFlatTree() {
  const indexes = []
  for (let i = 0; i <= 40; i++) {
    indexes.push({
      index: i,
      depth: flat.depth(i),
      offset: flat.offset(i),
      parent: flat.parent(i),
      sibling: flat.sibling(i),
      children: flat.children(i),
      leftSpan: flat.leftSpan(i),
      rightSpan: flat.rightSpan(i),
      spans: flat.spans(i),
      count: flat.count(i),
      countLeaves: flat.countLeaves(i)
    })
  }
  const fullRoots = []
  for (let len = 0; len <= 40; len++) {
    fullRoots.push({ length: len, head: 2 * len, roots: flat.fullRoots(2 * len) })
  }
  const indexOf = []
  for (let d = 0; d <= 4; d++) for (let o = 0; o <= 4; o++) indexOf.push({ depth: d, offset: o, index: flat.index(d, o) })
  write('flat-tree.json', {
    description: 'flat-tree (in-order, bin-numbering) index arithmetic. children is null for leaves.',
    indexes,
    indexOf,
    fullRoots
  })
}

// ---------------------------------------------------------------- 2. crypto / keys / caps / manifests

function genCrypto() {
  const seedText = 'hypercore-rs test vector seed 1'
  const seed = seedFromString(seedText)
  const kp = crypto.keyPair(seed)
  const seed2 = seedFromString('hypercore-rs test vector seed 2')
  const kp2 = crypto.keyPair(seed2)

  // namespaces
  const nsBase = crypto.hash(b4a.from('hypercore'))
  const ns = crypto.namespace('hypercore', 6)
  const names = ['TREE', 'REPLICATE_INITIATOR', 'REPLICATE_RESPONDER', 'MANIFEST', 'DEFAULT_NAMESPACE', 'DEFAULT_ENCRYPTION']
  assert(b4a.equals(ns[3], caps.MANIFEST), 'MANIFEST')
  assert(b4a.equals(ns[4], caps.DEFAULT_NAMESPACE), 'DEFAULT_NAMESPACE')
  assert(b4a.equals(ns[5], caps.DEFAULT_ENCRYPTION), 'DEFAULT_ENCRYPTION')

  const namespaces = names.map((name, i) => ({
    name,
    id: i,
    preimage: hex(b4a.concat([nsBase, b4a.from([i])])),
    value: hex(ns[i])
  }))

  // replication capability
  const handshakeHash = crypto.hash(b4a.from('example handshake hash'))
  const capability = {
    key: hex(kp.publicKey),
    handshakeHash: hex(handshakeHash),
    initiator: hex(caps.replicate(true, kp.publicKey, handshakeHash)),
    responder: hex(caps.replicate(false, kp.publicKey, handshakeHash))
  }

  // manifests
  const manifests = []
  const addManifest = (name, input, notes) => {
    const m = Verifier.createManifest(input)
    const encoded = Verifier.encodeManifest(m)
    const mh = Verifier.manifestHash(m)
    // independent recomputation
    const mh2 = crypto.hash(b4a.concat([caps.MANIFEST, encoded]))
    assert(b4a.equals(mh, mh2), 'manifest hash ' + name)
    const decoded = Verifier.decodeManifest(encoded)
    manifests.push({
      name,
      notes,
      manifest: manifestJ(m),
      encoded: hex(encoded),
      hashPreimage: hex(b4a.concat([caps.MANIFEST, encoded])),
      manifestHash: hex(mh),
      key: hex(mh),
      discoveryKey: hex(crypto.discoveryKey(mh)),
      id: z32.encode(mh),
      decodedRoundTrip: manifestJ(decoded)
    })
  }

  addManifest('default-v1-single-signer', Verifier.defaultSignerManifest(kp.publicKey),
    'What Verifier.defaultSignerManifest(publicKey) returns; used by new Hypercore(storage, { keyPair, compat: false })')
  addManifest('v0-single-signer', { version: 0, signers: [{ publicKey: kp.publicKey }] },
    'Legacy v0 encoding, single signer (type 1)')
  addManifest('v0-multisig', { version: 0, quorum: 2, allowPatch: true, signers: [{ publicKey: kp.publicKey }, { publicKey: kp2.publicKey }] },
    'Legacy v0 encoding, type 2 (flags, quorum, signer array)')
  addManifest('v1-multisig-2of2-patch', { version: 1, quorum: 2, allowPatch: true, signers: [{ publicKey: kp.publicKey }, { publicKey: kp2.publicKey }] },
    'v1, two signers, quorum 2, allowPatch')
  addManifest('v1-default-quorum-2-signers', { version: 1, signers: [{ publicKey: kp.publicKey }, { publicKey: kp2.publicKey }] },
    'quorum omitted => (signers.length >> 1) + 1 = 2')
  addManifest('v1-custom-namespace', { version: 1, signers: [{ publicKey: kp.publicKey, namespace: crypto.hash(b4a.from('my namespace')) }] },
    'signer with a non-default namespace (the namespace is only *used* for signing in version-0 manifests)')
  addManifest('v1-prologue', { version: 1, signers: [{ publicKey: kp.publicKey }], prologue: { hash: crypto.hash(b4a.from('prologue tree hash')), length: 5 } },
    'prologue: { hash, length }')
  addManifest('v1-prologue-no-signers', { version: 1, quorum: 0, signers: [], prologue: { hash: crypto.hash(b4a.from('prologue tree hash')), length: 5 } },
    'static core: no signers, prologue only')
  addManifest('v2-userdata-linked', { version: 2, signers: [{ publicKey: kp.publicKey }], linked: [kp2.publicKey], userData: b4a.from('hello user data') },
    'version 2 adds linked (array of 32-byte keys) and userData (length-prefixed bytes)')

  // compat keys
  const defaultMan = Verifier.defaultSignerManifest(kp.publicKey)
  const keys = {
    seedText,
    seed: hex(seed),
    publicKey: hex(kp.publicKey),
    secretKey: hex(kp.secretKey),
    compatKey: hex(Hypercore.key(kp.publicKey, { compat: true })),
    manifestKey: hex(Hypercore.key(defaultMan)),
    keyFromPublicKeyDefault: hex(Hypercore.key(kp.publicKey)),
    compat: {
      key: hex(kp.publicKey),
      discoveryKey: hex(crypto.discoveryKey(kp.publicKey)),
      discoveryKeyPreimage: { key: hex(kp.publicKey), message: hex(b4a.from('hypercore')) },
      id: z32.encode(kp.publicKey),
      idViaHypercoreIdEncoding: hid.encode(kp.publicKey)
    },
    manifest: {
      key: hex(Verifier.manifestHash(defaultMan)),
      discoveryKey: hex(crypto.discoveryKey(Verifier.manifestHash(defaultMan))),
      id: z32.encode(Verifier.manifestHash(defaultMan))
    },
    second: { seedText: 'hypercore-rs test vector seed 2', seed: hex(seed2), publicKey: hex(kp2.publicKey), secretKey: hex(kp2.secretKey) }
  }

  // z32 edge vectors
  const z32vectors = [b4a.alloc(32, 0), b4a.alloc(32, 0xff), b4a.from([0, 1, 2, 3, 4]), b4a.from('hello')].map((b) => ({
    bytes: hex(b),
    z32: z32.encode(b)
  }))

  // hashing primitives
  const leafData = b4a.from('hello world')
  const l0 = { index: 0, size: 5, hash: crypto.data(b4a.from('hello')) }
  const l1 = { index: 2, size: 5, hash: crypto.data(b4a.from('world')) }
  const hashing = {
    leaf: {
      data: hex(leafData),
      preimage: hex(b4a.concat([b4a.from([0]), c.encode(c.uint64, leafData.byteLength), leafData])),
      hash: hex(crypto.data(leafData))
    },
    emptyLeaf: { data: '', hash: hex(crypto.data(b4a.alloc(0))) },
    parent: {
      left: nodeJ(l0),
      right: nodeJ(l1),
      preimage: hex(b4a.concat([b4a.from([1]), c.encode(c.uint64, 10), l0.hash, l1.hash])),
      hash: hex(crypto.parent(l0, l1)),
      hashSwappedArgs: hex(crypto.parent(l1, l0))
    },
    treeHash: (() => {
      const p = { index: 1, size: 10, hash: crypto.parent(l0, l1) }
      const l2 = { index: 4, size: 3, hash: crypto.data(b4a.from('!!!')) }
      const roots = [p, l2]
      const pre = [b4a.from([2])]
      for (const r of roots) pre.push(r.hash, c.encode(c.uint64, r.index), c.encode(c.uint64, r.size))
      return { roots: nodesJ(roots), preimage: hex(b4a.concat(pre)), hash: hex(crypto.tree(roots)) }
    })(),
    emptyTreeHash: { roots: [], preimage: '02', hash: hex(crypto.tree([])) },
    uint64le: [0, 1, 255, 256, 2 ** 32, 2 ** 53 - 1].map((n) => ({ n, bytes: hex(c.encode(c.uint64, n)) })),
    varint: [0, 1, 252, 253, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1].map((n) => ({ n, bytes: hex(c.encode(c.uint, n)) }))
  }

  // sign / verify primitive
  const msg = b4a.from('message to sign')
  const sig = crypto.sign(msg, kp.secretKey)
  assert(crypto.verify(msg, sig, kp.publicKey), 'verify')

  write('crypto.json', {
    description: 'Key pairs, discovery keys, z-base-32 ids, namespaces (caps), replication capability, hashing primitives and manifest encodings/hashes.',
    keys,
    namespaces: { base: { preimage: hex(b4a.from('hypercore')), value: hex(nsBase) }, list: namespaces },
    capability,
    hashing,
    ed25519: { message: hex(msg), secretKey: hex(kp.secretKey), publicKey: hex(kp.publicKey), signature: hex(sig) },
    z32: z32vectors,
    manifests
  })

  return { kp, kp2, seed }
}

// ---------------------------------------------------------------- 3. tree + signatures (+ proofs)

async function genTreeAndProofs({ kp }) {
  const N = 37
  const blocks = []
  for (let i = 0; i < N; i++) blocks.push(blockContent(i))
  const nodes = buildTree(blocks)

  // NOTE: a plain new Hypercore(storage, { keyPair }) is *manifest mode* in 11.x (the Hypercore
  // class passes compat: opts.compat === true to Core). Compat mode must be asked for explicitly.
  const compat = new Hypercore(tmpdir(), { keyPair: kp, compat: true })
  const modern = new Hypercore(tmpdir(), { keyPair: kp })
  await compat.ready()
  await modern.ready()

  assert(b4a.equals(compat.key, kp.publicKey), 'compat core: key = publicKey')
  assert(compat.core.compat === true && modern.core.compat === false, 'modes')
  const defaultMan = Verifier.defaultSignerManifest(kp.publicKey)
  assert(b4a.equals(modern.key, Verifier.manifestHash(defaultMan)), 'default key = manifest hash')

  const LENGTHS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 20, 37])
  const states = []
  const snapshots = {} // length -> proofs captured at that length (compat core)

  for (let i = 0; i < N; i++) {
    await compat.append(blocks[i])
    await modern.append(blocks[i])
    const L = i + 1

    if (L === 10 || L === 5) {
      // capture upgrade proofs at the time the writer had length L
      snapshots[L] = {
        compat: await refProof(compat, { upgrade: { start: 0, length: L } }),
        modern: await refProof(modern, { upgrade: { start: 0, length: L } })
      }
    }

    if (!LENGTHS.has(L)) continue

    const roots = rootsAt(nodes, L)
    const treeHash = crypto.tree(roots)
    const refRoots = await MerkleTree.getRoots(compat.state, L)
    assert(refRoots.length === roots.length, 'roots count')
    for (let k = 0; k < roots.length; k++) {
      assert(refRoots[k].index === roots[k].index && b4a.equals(refRoots[k].hash, roots[k].hash) && refRoots[k].size === roots[k].size, 'root match')
    }
    assert(b4a.equals(treeHash, await compat.treeHash()), 'treeHash')

    const signableCompat = caps.treeSignableCompat(treeHash, L, 0, false)
    const signableCompatLegacy = caps.treeSignableCompat(treeHash, L, 0, true)
    const signableModern = caps.treeSignable(modern.key, treeHash, L, 0)
    const sigCompat = compat.state.signature
    const sigModern = modern.state.signature
    assert(sigCompat.byteLength === 64, 'compat sig 64')
    assert(crypto.verify(signableCompat, sigCompat, kp.publicKey), 'compat sig verifies')
    const inflated = c.decode(messages.multiSignature, sigModern)
    assert(crypto.verify(signableModern, inflated.proofs[0].signature, kp.publicKey), 'modern sig verifies')
    assert(b4a.equals(await modern.signable(), signableModern), 'hypercore.signable()')

    states.push({
      length: L,
      fork: 0,
      byteLength: roots.reduce((a, r) => a + r.size, 0),
      rootIndexes: roots.map((r) => r.index),
      roots: nodesJ(roots),
      treeHash: hex(treeHash),
      compat: {
        key: hex(compat.key),
        signable: hex(signableCompat),
        signableLegacyNoHeader: hex(signableCompatLegacy),
        signature: hex(sigCompat)
      },
      manifest: {
        key: hex(modern.key),
        signable: hex(signableModern),
        signature: hex(sigModern),
        signatureDecoded: {
          proofs: inflated.proofs.map((p) => ({ signer: p.signer, signature: hex(p.signature), patch: p.patch })),
          patch: nodesJ(inflated.patch)
        }
      }
    })
  }

  // cross-check every node against the reference storage
  const allNodes = [...nodes.values()].sort((a, b) => a.index - b.index)
  for (const n of allNodes) {
    const ref = await MerkleTree.get(compat.state, n.index)
    assert(ref && b4a.equals(ref.hash, n.hash) && ref.size === n.size, 'node ' + n.index)
  }

  write('tree.json', {
    description:
      'A core of 37 blocks. Block i = utf8("block " + i) + "!" * (i % 5). Same content and key pair in compat mode (new Hypercore(s, { keyPair, compat: true }); key = public key) and manifest mode (the 11.x default, new Hypercore(s, { keyPair }); key = manifest hash of the default v1 single-signer manifest). Nodes are all tree nodes that exist at length 37.',
    publicKey: hex(kp.publicKey),
    secretKey: hex(kp.secretKey),
    compatKey: hex(compat.key),
    manifestKey: hex(modern.key),
    manifest: manifestJ(defaultMan),
    manifestEncoded: hex(Verifier.encodeManifest(defaultMan)),
    blocks: blocks.map((b, i) => ({ index: i, value: hex(b), utf8: b4a.toString(b) })),
    leaves: blocks.map((b, i) => ({
      index: 2 * i,
      size: b.byteLength,
      preimage: hex(b4a.concat([b4a.from([0]), c.encode(c.uint64, b.byteLength), b])),
      hash: hex(crypto.data(b))
    })),
    nodes: nodesJ(allNodes),
    states
  })

  // ------------------------------------------------------------ proofs

  const proofs = []

  async function readerFor(kind) {
    const w = kind === 'compat' ? compat : modern
    const opts = kind === 'compat' ? { compat: true } : { manifest: defaultMan }
    const r = new Hypercore(tmpdir(), w.key, opts)
    await r.ready()
    return r
  }

  // NOTE: hypercore.treeHash() waits to download the last block if it is missing, so
  // compute the reader's tree hash from its stored roots instead.
  async function readerTreeHash(reader) {
    return hex(crypto.tree(await MerkleTree.getRoots(reader.state, reader.length)))
  }

  async function tryVerify(reader, proof) {
    try {
      const ok = await reader.core.verify(proof)
      return { ok: !!ok, error: null }
    } catch (err) {
      return { ok: false, error: err.code || err.message }
    }
  }

  // Resolve `nodes: 'auto'` the way the replicator does (MerkleTree.missingNodes on the
  // requester's own state), produce the proof on the writer, return it.
  async function resolveRequest(reader, request) {
    const req = structuredClone(request)
    if (req.block && req.block.nodes === 'auto') {
      req.block.nodes = await MerkleTree.missingNodes(reader.state, 2 * req.block.index, reader.state.length)
    }
    if (req.hash && req.hash.nodes === 'auto') {
      req.hash.nodes = await MerkleTree.missingNodes(reader.state, req.hash.index, reader.state.length)
    }
    return req
  }

  async function addProof(name, { kind = 'compat', request, setup = [], note, tamper = null, manifest = false }) {
    const writer = kind === 'compat' ? compat : modern
    const reader = await readerFor(kind)
    const setupLog = []
    for (const st of setup) {
      let sp
      let sreq
      if (st.captured) {
        sp = st.captured
        sreq = { captured: st.name }
      } else {
        sreq = await resolveRequest(reader, st)
        sp = await refProof(writer, structuredClone(sreq))
      }
      const r = await tryVerify(reader, c.decode(messages.wire.data, encodeData(1, sp)))
      assert(r.ok, 'reader setup failed for ' + name + ': ' + r.error)
      setupLog.push({ request: sreq, dataMessageEncoded: hex(encodeData(1, sp)), readerLengthAfter: reader.length })
    }

    const req = await resolveRequest(reader, request)
    const p = await refProof(writer, structuredClone(req))
    if (manifest) p.manifest = writer.manifest
    const encoded = encodeData(1, p)
    // round trip
    const decoded = c.decode(messages.wire.data, encoded)
    assert(b4a.equals(c.encode(messages.wire.data, decoded), encoded), 'data roundtrip')

    const before = { length: reader.length, fork: reader.fork }
    let toVerify = c.decode(messages.wire.data, encoded)
    let tampered = null
    if (tamper) {
      tampered = tamper(toVerify)
      toVerify = tampered.proof
    }
    const res = await tryVerify(reader, toVerify)
    const after = { length: reader.length, fork: reader.fork, treeHash: await readerTreeHash(reader) }
    let blockStored = null
    if (req.block && res.ok) blockStored = hex(await reader.get(req.block.index, { wait: false }))
    await reader.close()

    proofs.push({
      name,
      note,
      coreMode: kind,
      key: hex(writer.key),
      writerLength: writer.length,
      writerFork: writer.fork,
      readerSetup: setupLog,
      readerStartLength: before.length,
      request: req,
      requestEncoded: hex(encodeRequest(1, writer.fork, req)),
      proof: proofJ(p),
      dataMessage: { requestId: 1, encoded: hex(encoded) },
      tampered: tampered ? { description: tampered.description, dataMessageEncoded: hex(c.encode(messages.wire.data, { request: 1, ...toVerify })) } : null,
      verification: { accepted: res.ok, error: res.error, readerLengthAfter: after.length, readerForkAfter: after.fork, readerTreeHashAfter: after.treeHash, blockStored }
    })
  }

  const at10 = { captured: snapshots[10].compat, name: 'upgrade-0-to-10-at-head-10' }
  const at5 = { captured: snapshots[5].compat, name: 'upgrade-0-to-5-at-head-5' }
  const full = { upgrade: { start: 0, length: 37 } }

  // upgrade-only proofs captured at shorter writer lengths
  for (const L of [5, 10]) {
    const p = snapshots[L].compat
    const encoded = encodeData(1, p)
    const reader = await readerFor('compat')
    const res = await tryVerify(reader, c.decode(messages.wire.data, encoded))
    proofs.push({
      name: 'upgrade-0-to-' + L + '-at-head-' + L,
      note: 'upgrade-only proof produced while the writer had length ' + L,
      coreMode: 'compat',
      key: hex(compat.key),
      writerLength: L,
      writerFork: 0,
      readerSetup: [],
      readerStartLength: 0,
      request: { upgrade: { start: 0, length: L } },
      requestEncoded: hex(encodeRequest(1, 0, { upgrade: { start: 0, length: L } })),
      proof: proofJ(p),
      dataMessage: { requestId: 1, encoded: hex(encoded) },
      tampered: null,
      verification: { accepted: res.ok, error: res.error, readerLengthAfter: reader.length, readerForkAfter: reader.fork, readerTreeHashAfter: await readerTreeHash(reader), blockStored: null }
    })
    await reader.close()
  }

  await addProof('upgrade-0-to-37', { request: full, note: 'full upgrade from nothing' })
  await addProof('upgrade-10-to-37', { request: { upgrade: { start: 10, length: 27 } }, setup: [at10], note: 'reader knows length 10 (signed), upgrades to 37' })
  await addProof('upgrade-10-to-20-at-head-37', { request: { upgrade: { start: 10, length: 10 } }, setup: [at10], note: 'upgrade to 20 requested but the signature is for 37, so additionalNodes carry the reader to 37' })
  await addProof('upgrade-5-to-10-at-head-37', { request: { upgrade: { start: 5, length: 5 } }, setup: [at5], note: 'start 5 (roots 3,8), length 5 -> 10, additionalNodes to 37' })
  await addProof('block-5-no-upgrade', { request: { block: { index: 5, nodes: 'auto' } }, setup: [full], note: 'reader already at length 37 holding only the roots; nodes = missingNodes = number of tree levels it lacks' })
  await addProof('block-5-after-block-4', { request: { block: { index: 5, nodes: 'auto' } }, setup: [full, { block: { index: 4, nodes: 'auto' } }], note: 'block 4 proof already delivered leaf 10 (block 5 hash) as an uncle, so nodes = 0 and the proof carries no nodes' })
  await addProof('block-6-after-block-4', { request: { block: { index: 6, nodes: 'auto' } }, setup: [full, { block: { index: 4, nodes: 'auto' } }], note: 'node 13 is already stored, so only one uncle (leaf 14) is needed' })
  await addProof('block-5-nodes-2-insufficient', { request: { block: { index: 5, nodes: 2 } }, setup: [full], note: 'requester asks for too few nodes: the proof stops at node 11, which the reader does not have -> rejected' })
  await addProof('block-5-with-upgrade-0-37', { request: { block: { index: 5, nodes: 'auto' }, upgrade: { start: 0, length: 37 } }, note: 'block proof + full upgrade (reader empty, nodes = 0)' })
  await addProof('block-20-with-upgrade-10-37', { request: { block: { index: 20, nodes: 'auto' }, upgrade: { start: 10, length: 27 } }, setup: [at10], note: 'block above the known length, upgrade from 10' })
  await addProof('block-3-with-upgrade-10-37', { request: { block: { index: 3, nodes: 'auto' }, upgrade: { start: 10, length: 27 } }, setup: [at10], note: 'block below upgrade.start: block nodes go up to the subtree root the reader already has' })
  await addProof('block-36-with-upgrade-0-37', { request: { block: { index: 36, nodes: 'auto' }, upgrade: { start: 0, length: 37 } }, note: 'last block, itself a root' })
  await addProof('hash-11-with-upgrade-0-37', { request: { hash: { index: 11, nodes: 'auto' }, upgrade: { start: 0, length: 37 } }, note: 'hash (tree node) proof for node 11 (blocks 4..7)' })
  await addProof('seek-100-with-upgrade-0-37', { request: { seek: { bytes: 100, padding: 0 }, upgrade: { start: 0, length: 37 } }, note: 'seek to byte 100 with upgrade' })
  await addProof('seek-100-block-12-no-upgrade', { request: { block: { index: 12, nodes: 'auto' }, seek: { bytes: 100, padding: 0 } }, setup: [full], note: 'block + seek, no upgrade' })
  await addProof('block-5-with-upgrade-0-37-manifest-mode', { kind: 'modern', request: { block: { index: 5, nodes: 'auto' }, upgrade: { start: 0, length: 37 } }, note: 'same as block-5-with-upgrade-0-37 but for a manifest-mode core: 68-byte multisig-encoded signature' })
  await addProof('block-5-with-upgrade-0-37-manifest-included', { kind: 'modern', manifest: true, request: { block: { index: 5, nodes: 'auto' }, upgrade: { start: 0, length: 37 }, manifest: true }, note: 'manifest included in the data message (flag 16)' })

  // negative vectors
  await addProof('tampered-block-value', {
    request: { block: { index: 5, nodes: 0 }, upgrade: { start: 0, length: 37 } },
    note: 'block value modified -> root set hash changes -> signature check fails',
    tamper: (p) => {
      p.block.value = b4a.from(p.block.value)
      p.block.value[0] ^= 1
      return { description: 'flip lowest bit of block.value[0]', proof: p }
    }
  })
  await addProof('tampered-node-size', {
    request: { block: { index: 5, nodes: 0 }, upgrade: { start: 0, length: 37 } },
    note: 'uncle node size modified -> parent hash changes -> signature check fails',
    tamper: (p) => {
      p.block.nodes[0] = { ...p.block.nodes[0], size: p.block.nodes[0].size + 1 }
      return { description: 'block.nodes[0].size += 1', proof: p }
    }
  })
  await addProof('tampered-signature', {
    request: { upgrade: { start: 0, length: 37 } },
    note: 'signature modified',
    tamper: (p) => {
      p.upgrade.signature = b4a.from(p.upgrade.signature)
      p.upgrade.signature[10] ^= 0x80
      return { description: 'flip bit 7 of upgrade.signature[10]', proof: p }
    }
  })
  await addProof('wrong-fork', {
    request: { upgrade: { start: 0, length: 37 } },
    note: 'fork field changed: signable changes (fork is signed) and a reader at fork 0 ignores proofs for another fork',
    tamper: (p) => {
      p.fork = 1
      return { description: 'fork = 1', proof: p }
    }
  })

  write('proofs.json', {
    description:
      'Proofs produced by the reference (hypercore.proof()) on the 37-block core from tree.json, their encoding as the "data" wire message (request id 1), the matching "request" message, and the outcome of applying them to a fresh reader core (core.verify) after readerSetup proofs.',
    proofs
  })

  await compat.close()
  await modern.close()
  return { blocks }
}

// ---------------------------------------------------------------- 3b. signer variants (v0, multisig, prologue)

async function genSigners({ kp, kp2 }) {
  // blocks 0..9 of the test core; tree states at 5 and 10
  const blocks = []
  for (let i = 0; i < 10; i++) blocks.push(blockContent(i))
  const nodes = buildTree(blocks)
  const stateAt = (L, fork = 0) => {
    const roots = rootsAt(nodes, L)
    const treeHash = crypto.tree(roots)
    return {
      length: L,
      fork,
      treeHash,
      hash: () => treeHash,
      signable: (ctx) => caps.treeSignable(ctx, treeHash, L, fork),
      signableCompat: (noHeader) => caps.treeSignableCompat(treeHash, L, fork, noHeader),
      clone() {
        return this
      }
    }
  }
  const out = []

  // (a) v0 single signer, non-compat: context = signer namespace, raw 64-byte signature
  {
    const man = Verifier.createManifest({ version: 0, signers: [{ publicKey: kp.publicKey }] })
    const key = Verifier.manifestHash(man)
    const core = new Hypercore(tmpdir(), { keyPair: kp, manifest: man })
    await core.ready()
    await core.append(blocks)
    const st = stateAt(10)
    const signable = caps.treeSignable(man.signers[0].namespace, st.treeHash, 10, 0)
    const sig = core.state.signature
    assert(!core.core.compat && b4a.equals(core.key, key), 'v0 key')
    assert(sig.byteLength === 64 && crypto.verify(signable, sig, kp.publicKey), 'v0 signature')
    assert(new Verifier(key, man).verify(st, sig), 'v0 verifier')
    out.push({
      name: 'v0-single-signer',
      manifest: manifestJ(man),
      manifestEncoded: hex(Verifier.encodeManifest(man)),
      key: hex(key),
      length: 10,
      fork: 0,
      treeHash: hex(st.treeHash),
      signable: hex(signable),
      signableNote: 'TREE ns || signer namespace || treeHash || u64le(length) || u64le(fork)',
      signature: hex(sig),
      valid: true
    })
    await core.close()
  }

  // (b) v1 2-of-2 multisig: both sign the 112-byte signable (context = manifest hash), container assembled
  {
    const man = Verifier.createManifest({ version: 1, quorum: 2, signers: [{ publicKey: kp.publicKey }, { publicKey: kp2.publicKey }] })
    const key = Verifier.manifestHash(man)
    const v = new Verifier(key, man)
    const st = stateAt(10)
    const s0 = v.sign(st, kp)
    const s1 = v.sign(st, kp2)
    assert(s0.byteLength === 64 && s1.byteLength === 64, 'raw partial signatures')
    const both = v.assemble([
      { signer: 0, signature: s0, patch: 0, nodes: null },
      { signer: 1, signature: s1, patch: 0, nodes: null }
    ])
    const onlyOne = v.assemble([{ signer: 0, signature: s0, patch: 0, nodes: null }])
    const dup = v.assemble([
      { signer: 0, signature: s0, patch: 0, nodes: null },
      { signer: 0, signature: s0, patch: 0, nodes: null }
    ])
    const reversed = v.assemble([
      { signer: 1, signature: s1, patch: 0, nodes: null },
      { signer: 0, signature: s0, patch: 0, nodes: null }
    ])
    const cases = [
      ['both signers', both],
      ['only signer 0 (below quorum)', onlyOne],
      ['signer 0 twice', dup],
      ['both signers, reverse order', reversed]
    ]
    out.push({
      name: 'v1-multisig-2of2',
      manifest: manifestJ(man),
      manifestEncoded: hex(Verifier.encodeManifest(man)),
      key: hex(key),
      length: 10,
      fork: 0,
      treeHash: hex(st.treeHash),
      signable: hex(st.signable(key)),
      partialSignatures: [hex(s0), hex(s1)],
      containers: cases.map(([desc, sig]) => ({ description: desc, signature: hex(sig), valid: v.verify(st, sig) }))
    })
  }

  // (c) v1 with prologue (treeHash at length 5): states up to the prologue need no signature
  {
    const st5 = stateAt(5)
    const man = Verifier.createManifest({ version: 1, signers: [{ publicKey: kp.publicKey }], prologue: { hash: st5.treeHash, length: 5 } })
    const key = Verifier.manifestHash(man)
    const v = new Verifier(key, man)
    const st4 = stateAt(4)
    const st10 = stateAt(10)
    const sig10 = v.sign(st10, kp)
    out.push({
      name: 'v1-prologue-5',
      manifest: manifestJ(man),
      manifestEncoded: hex(Verifier.encodeManifest(man)),
      key: hex(key),
      checks: [
        { length: 5, treeHash: hex(st5.treeHash), signature: null, valid: v.verify(st5, null), note: 'equals prologue: valid without signature' },
        { length: 4, treeHash: hex(st4.treeHash), signature: null, valid: v.verify(st4, null), note: 'shorter than prologue: never valid' },
        { length: 10, treeHash: hex(st10.treeHash), signature: null, valid: v.verify(st10, null), note: 'beyond prologue: needs a signature' },
        { length: 10, treeHash: hex(st10.treeHash), signable: hex(st10.signable(key)), signature: hex(sig10), valid: v.verify(st10, sig10), note: 'beyond prologue, signed (68-byte container)' }
      ]
    })
  }

  write('signers.json', {
    description: 'Signature variants beyond the single-signer default: v0 manifest (namespace as signing context, raw signature), v1 2-of-2 multisig containers (valid/invalid), and a v1 prologue. Tree states are those of the first 10 blocks of tree.json.',
    publicKeys: [hex(kp.publicKey), hex(kp2.publicKey)],
    variants: out
  })
}

// ---------------------------------------------------------------- 4. truncate / fork

async function genTruncate({ kp }) {
  const core = new Hypercore(tmpdir(), { keyPair: kp }) // default = manifest mode
  await core.ready()
  const steps = []

  async function snap(op) {
    const roots = await MerkleTree.getRoots(core.state, core.length)
    const treeHash = crypto.tree(roots)
    const signable = caps.treeSignable(core.key, treeHash, core.length, core.fork)
    const sig = core.state.signature
    const inner = c.decode(messages.multiSignature, sig).proofs[0].signature
    assert(crypto.verify(signable, inner, kp.publicKey), 'trunc sig')
    const blocks = []
    for (let i = 0; i < core.length; i++) blocks.push(hex(await core.get(i)))
    steps.push({
      op,
      length: core.length,
      fork: core.fork,
      byteLength: core.byteLength,
      blocks,
      roots: nodesJ(roots),
      treeHash: hex(treeHash),
      signable: hex(signable),
      signature: hex(sig),
      signatureInner: hex(inner)
    })
  }

  const A = []
  for (let i = 0; i < 10; i++) A.push(blockContent(i))
  await core.append(A)
  await snap({ type: 'append', values: A.map(hex) })

  await core.truncate(7)
  await snap({ type: 'truncate', newLength: 7, forkArg: 'default (current fork + 1)' })

  const B = [blockContent(7, 'fork1 '), blockContent(8, 'fork1 '), blockContent(9, 'fork1 ')]
  await core.append(B)
  await snap({ type: 'append', values: B.map(hex) })

  await core.truncate(10, { fork: 5 })
  await snap({ type: 'truncate', newLength: 10, forkArg: 5, note: 'same length, explicit fork id: only the fork changes (re-signed)' })

  await core.truncate(3)
  await snap({ type: 'truncate', newLength: 3, forkArg: 'default (current fork + 1)' })

  await core.truncate(0)
  await snap({ type: 'truncate', newLength: 0, forkArg: 'default (current fork + 1)' })

  await core.append([blockContent(0, 'fork8 ')])
  await snap({ type: 'append', values: [hex(blockContent(0, 'fork8 '))] })

  // upgrade proof at the final state and its verification by a fresh reader (a reader at fork 0
  // and length 0 accepts any fork in an upgrade from 0? record what happens)
  const p = await refProof(core, { upgrade: { start: 0, length: core.length } })
  const reader = new Hypercore(tmpdir(), core.key, { manifest: core.manifest })
  await reader.ready()
  let accepted = false
  let error = null
  try {
    accepted = !!(await reader.core.verify(p))
  } catch (err) {
    error = err.code || err.message
  }
  const upgradeFromZero = {
    proof: proofJ(p),
    dataMessageEncoded: hex(encodeData(1, p)),
    freshReader: { accepted, error, lengthAfter: reader.length, forkAfter: reader.fork }
  }
  await reader.close()
  await core.close()

  write('truncate.json', {
    description:
      'Truncate + re-append scenario on a default (manifest-mode) core (key pair from crypto.json keys.seed). Each step records length, fork id, the root set, the tree hash, the 112-byte signable (TREE || key || treeHash || length || fork), the stored (multisig-encoded, 68-byte) signature and the inner 64-byte Ed25519 signature.',
    key: hex(core.key),
    steps,
    upgradeFromZero
  })
}

// ---------------------------------------------------------------- 5. encryption

async function genEncryption({ kp }) {
  const encryptionKey = crypto.hash(b4a.from('hypercore-rs test encryption key'))
  const hypercoreKey = kp.publicKey

  const modernKeys = DefaultEncryption.deriveKeys(encryptionKey, hypercoreKey, { compat: false })
  const compatKeys = DefaultEncryption.deriveKeys(encryptionKey, hypercoreKey, { compat: true })
  const blockKeyMode = DefaultEncryption.deriveKeys(encryptionKey, hypercoreKey, { block: true })

  // independent checks
  const bk = b4a.alloc(32)
  sodium.crypto_generichash(bk, b4a.concat([caps.DEFAULT_ENCRYPTION, hypercoreKey, encryptionKey]))
  assert(b4a.equals(bk, modernKeys.block), 'block key modern')
  const bkc = b4a.alloc(32)
  sodium.crypto_generichash(bkc, encryptionKey, hypercoreKey)
  assert(b4a.equals(bkc, compatKeys.block), 'block key compat')

  const samples = []
  const cases = [
    { index: 0, fork: 0, text: 'hello' },
    { index: 1, fork: 0, text: 'hello' },
    { index: 5, fork: 0, text: 'a somewhat longer block of plaintext, 64+ bytes long so the keystream spans two XSalsa20 blocks..' },
    { index: 5, fork: 3, text: 'hello' },
    { index: 2 ** 32 + 7, fork: 2 ** 32 + 1, text: 'big index and fork' }
  ]
  for (const [mode, keys] of [['manifest', modernKeys], ['compat', compatKeys], ['blockKey', blockKeyMode]]) {
    for (const cs of cases) {
      const pt = b4a.from(cs.text)
      const buf = b4a.alloc(8 + pt.byteLength)
      buf.set(pt, 8)
      DefaultEncryption.encrypt(cs.index, buf, cs.fork, keys.block, keys.blinding)
      const ct = b4a.from(buf)
      // independent: blinded fork
      const nonce0 = b4a.alloc(24)
      nonce0.set(c.encode(c.uint64, cs.index), 0)
      const pad = c.encode(c.uint64, cs.fork)
      const ks = b4a.alloc(8)
      sodium.crypto_stream(ks, nonce0, keys.blinding)
      for (let k = 0; k < 8; k++) pad[k] ^= ks[k]
      assert(b4a.equals(pad, ct.subarray(0, 8)), 'padding')
      const dec = b4a.from(ct)
      DefaultEncryption.decrypt(cs.index, dec, keys.block)
      assert(b4a.equals(dec.subarray(8), pt), 'decrypt')
      const nonce = b4a.alloc(24)
      nonce.set(c.encode(c.uint64, cs.index), 0)
      nonce.set(ct.subarray(0, 8), 8)
      samples.push({
        mode,
        index: cs.index,
        fork: cs.fork,
        plaintext: hex(pt),
        blindingNonce: hex(nonce0),
        blindedFork: hex(ct.subarray(0, 8)),
        nonce: hex(nonce),
        encrypted: hex(ct),
        leafHash: hex(crypto.data(ct))
      })
    }
  }

  // real cores with encryption
  const realCores = []
  for (const [mode, opts] of [['compat', { compat: true }], ['manifest', {}]]) {
    const core = new Hypercore(tmpdir(), { keyPair: kp, encryption: { key: encryptionKey }, ...opts })
    await core.ready()
    const pts = [b4a.from('hello'), b4a.from('world'), b4a.from('encrypted hypercore')]
    await core.append(pts)
    await core.truncate(1)
    await core.append([b4a.from('after truncate')])
    const out = []
    for (let i = 0; i < core.length; i++) {
      // raw stored block (= what is hashed and sent on the wire): 8 bytes blinded fork + ciphertext.
      // (Hypercore#get(i, { decrypt: false }) would strip the 8 padding bytes.)
      const rx = core.state.storage.read()
      const rawP = rx.getBlock(i)
      rx.tryFlush()
      const raw = await rawP
      const leaf = await MerkleTree.get(core.state, 2 * i)
      assert(b4a.equals(leaf.hash, crypto.data(raw)), 'encrypted leaf hash covers stored bytes')
      const keys = DefaultEncryption.deriveKeys(encryptionKey, core.key, { compat: core.core.compat })
      const dec = b4a.from(raw)
      DefaultEncryption.decrypt(i, dec, keys.block)
      const plain = await core.get(i)
      assert(b4a.equals(dec.subarray(8), plain), 'independent decrypt')
      out.push({ index: i, plaintext: hex(plain), stored: hex(raw), leafHash: hex(leaf.hash) })
    }
    realCores.push({
      mode,
      key: hex(core.key),
      compat: core.core.compat,
      padding: core.padding,
      fork: core.fork,
      length: core.length,
      byteLength: core.byteLength,
      treeByteLength: core.state.byteLength,
      encryptionFork: core.state.encryptionFork,
      blockKey: hex(core.encryption.blockKey),
      blindingKey: hex(core.encryption.blindingKey),
      treeHash: hex(await core.treeHash()),
      blocks: out,
      ops: ['append hello, world, "encrypted hypercore"', 'truncate(1) -> fork 1', 'append "after truncate"']
    })
    await core.close()
  }

  write('encryption.json', {
    description:
      'Default block encryption (hypercore lib/default-encryption.js). blockKey/blindingKey derivation for the three modes, encryption of sample blocks, and real cores with an encryption key (stored = on-the-wire block bytes, which are what gets hashed).',
    encryptionKey: hex(encryptionKey),
    hypercoreKey: hex(hypercoreKey),
    keys: {
      manifest: { blockKey: hex(modernKeys.block), blindingKey: hex(modernKeys.blinding) },
      compat: { blockKey: hex(compatKeys.block), blindingKey: hex(compatKeys.blinding) },
      blockKey: { blockKey: hex(blockKeyMode.block), blindingKey: hex(blockKeyMode.blinding) }
    },
    staticBlockEncryptionKey: hex(Hypercore.blockEncryptionKey(hypercoreKey, encryptionKey)),
    samples,
    realCores
  })
}

// ---------------------------------------------------------------- 6. bitfield wire encodings

function genBitfield() {
  const bits = [0, 1, 2, 5, 31, 32, 40, 100]
  const words = new Uint32Array(4)
  for (const b of bits) words[b >>> 5] |= 1 << (b & 31)
  const msg = { start: 0, bitfield: words }
  const enc = c.encode(messages.wire.bitfield, msg)
  const ranges = [
    { drop: false, start: 0, length: 1 },
    { drop: false, start: 5, length: 10 },
    { drop: true, start: 300, length: 70000 }
  ].map((r) => ({ ...r, encoded: hex(c.encode(messages.wire.range, r)) }))
  write('bitfield.json', {
    description: 'Bit numbering of bitfields (LSB-first within little-endian uint32 words) and the wire "bitfield" and "range" message encodings.',
    bitfieldMessage: {
      start: 0,
      setBits: bits,
      words: [...words],
      bytes: hex(b4a.from(words.buffer, words.byteOffset, words.byteLength)),
      encoded: hex(enc)
    },
    rangeMessages: ranges
  })
}

// ---------------------------------------------------------------- main

try {
  genFlatTree()
  const ctx = genCrypto()
  await genTreeAndProofs(ctx)
  await genSigners(ctx)
  await genTruncate(ctx)
  await genEncryption(ctx)
  genBitfield()
} finally {
  fs.rmSync(TMP, { recursive: true, force: true })
}
