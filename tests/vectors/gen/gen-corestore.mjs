// Regenerates the Corestore key vectors (tests/vectors/corestore/*.json) by running the
// JavaScript reference (corestore 7.12.5 on hypercore 11.37.1, pinned by package.json and
// package-lock.json next to this script).
//
// Usage (from this folder):   npm ci && node gen-corestore.mjs [outDir]
// Default outDir: tests/vectors/corestore. scripts/gen-vectors passes a temporary folder
// instead and compares it with tests/vectors/corestore.
//
// Deterministic: every store is opened with a fixed primary key
// (`new Corestore(dir, { primaryKey, unsafe: true })`), every explicit key pair comes from a
// fixed seed, and nothing random reaches the output.

import fs from 'fs'
import os from 'os'
import path from 'path'
import { fileURLToPath } from 'url'
import { createRequire } from 'module'
import { assert, hex, manifestJ, pkgVersion, writer } from './common.mjs'

const require = createRequire(import.meta.url)

const Corestore = require('corestore')
const crypto = require('hypercore-crypto')
const b4a = require('b4a')

const here = path.dirname(fileURLToPath(import.meta.url))
const OUT = path.resolve(process.argv[2] || path.join(here, '..', 'corestore'))
fs.mkdirSync(OUT, { recursive: true })

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-vectors-'))
let tmpCount = 0
const tmpdir = () => path.join(TMP, 's' + tmpCount++)

const GENERATOR = {
  script: 'tests/vectors/gen/gen-corestore.mjs',
  packages: Object.fromEntries(
    ['corestore', 'hypercore', 'hypercore-crypto', 'sodium-universal', 'b4a'].map((n) => [
      n,
      pkgVersion(n)
    ])
  )
}

const seedOf = (s) => crypto.hash(b4a.from(s)) // 32 bytes = BLAKE2b-256(utf8(s))

const write = writer(OUT, GENERATOR)

async function openStore(primaryKey, opts = {}) {
  const store = new Corestore(tmpdir(), { primaryKey, unsafe: true, ...opts })
  await store.ready()
  return store
}

// The session of `store` reached through namespace `path` (chained `namespace()` calls).
function nsSession(store, nsPath) {
  let s = store
  for (const n of nsPath) s = s.namespace(n)
  return s
}

async function errorOf(fn) {
  try {
    await fn()
    return null
  } catch (err) {
    return String(err.message || err)
  }
}

// ---------------------------------------------------------------- inputs

const PRIMARY_KEYS = [
  b4a.alloc(32, 0),
  seedOf('ferrocore corestore vector primary key 1'),
  seedOf('ferrocore corestore vector primary key 2')
]

const NAMES = [
  'foo',
  'a',
  'default',
  'café',
  '日本語のコア',
  '🦀 crab',
  'name with spaces/and/slashes',
  'x'.repeat(1000)
]

const NAMESPACE_PATHS = [[], ['a'], ['a', 'b'], ['app', 'posts', 'comments'], ['ünï'], ['']]

// ---------------------------------------------------------------- keys.json

async function genKeys() {
  const [corestoreNs] = crypto.namespace('corestore', 1)

  const namespaces = []
  {
    const store = await openStore(PRIMARY_KEYS[1])
    for (const p of NAMESPACE_PATHS) {
      namespaces.push({ path: p, namespace: hex(nsSession(store, p).ns) })
    }
    await store.close()
  }

  const named = []
  for (const primaryKey of PRIMARY_KEYS) {
    const store = await openStore(primaryKey)
    for (const nsPath of NAMESPACE_PATHS) {
      const session = nsSession(store, nsPath)
      for (const name of NAMES) {
        const kp = await store.createKeyPair(name, session.ns)
        const viaSession = await session.createKeyPair(name)
        assert(b4a.equals(kp.publicKey, viaSession.publicKey), 'createKeyPair default ns')
        const core = session.get({ name })
        await core.ready()
        named.push({
          primaryKey: hex(primaryKey),
          namespacePath: nsPath,
          namespace: hex(session.ns),
          name,
          seed: hex(kp.secretKey.subarray(0, 32)),
          publicKey: hex(kp.publicKey),
          key: hex(core.key),
          discoveryKey: hex(core.discoveryKey),
          manifest: manifestJ(core.manifest),
          writable: core.writable
        })
        await core.close()
      }
    }
    await store.close()
  }

  // The empty name: createKeyPair accepts it, get({ name: '' }) does not (an empty name is
  // falsy, so `_auth` has neither a name nor a key pair, manifest or key).
  const emptyName = []
  for (const primaryKey of PRIMARY_KEYS.slice(1)) {
    const store = await openStore(primaryKey)
    for (const nsPath of [[], ['a', 'b']]) {
      const session = nsSession(store, nsPath)
      const kp = await session.createKeyPair('')
      const error = await errorOf(async () => {
        const core = session.get({ name: '' })
        await core.ready()
      })
      emptyName.push({
        primaryKey: hex(primaryKey),
        namespacePath: nsPath,
        namespace: hex(session.ns),
        seed: hex(kp.secretKey.subarray(0, 32)),
        publicKey: hex(kp.publicKey),
        getError: error
      })
    }
    await store.close()
  }

  // A name reopened in a fresh store on the same folder finds its alias: same key.
  {
    const dir = tmpdir()
    let store = new Corestore(dir, { primaryKey: PRIMARY_KEYS[2], unsafe: true })
    const first = store.namespace('a').get({ name: 'persisted' })
    await first.ready()
    const key = hex(first.key)
    await store.close()
    store = new Corestore(dir, { primaryKey: PRIMARY_KEYS[2], unsafe: true })
    const again = store.namespace('a').get({ name: 'persisted' })
    await again.ready()
    assert(hex(again.key) === key, 'alias reopened')
    await store.close()
  }

  write('keys.json', {
    description:
      'corestore 7 key derivation: the corestore namespace, chained namespaces, and for every primary key x namespace path x name the seed, key pair, core key, discovery key and manifest that store.namespace(...).get({ name }) gives. emptyName: createKeyPair("") works, get({ name: "" }) throws.',
    corestoreNamespace: hex(corestoreNs),
    namespaces,
    named,
    emptyName
  })
}

// ---------------------------------------------------------------- options.json

// Cores opened with explicit options (`get({ keyPair })`, `get({ key })`, `manifest`,
// `compat`, a v0 manifest, the store's `manifestVersion`): what JS corestore 7 actually makes.
async function genOptions() {
  const cases = []
  const primaryKey = PRIMARY_KEYS[1]
  const kpSeed = seedOf('ferrocore corestore explicit key pair')
  const kp = crypto.keyPair(kpSeed)
  const otherSeed = seedOf('ferrocore corestore second signer')
  const other = crypto.keyPair(otherSeed)

  // Inputs are recorded as JSON: keyPairSeed (the key pair is crypto_sign_seed_keypair of
  // it), key (hex), manifest (public keys in hex, other fields as given to JS).
  async function run(label, input, storeOpts = {}) {
    const store = await openStore(primaryKey, storeOpts)
    const session = nsSession(store, input.namespacePath || [])
    const opts = {}
    if (input.name !== undefined) opts.name = input.name
    if (input.keyPairSeed) opts.keyPair = crypto.keyPair(b4a.from(input.keyPairSeed, 'hex'))
    if (input.key) opts.key = b4a.from(input.key, 'hex')
    if (input.compat !== undefined) opts.compat = input.compat
    if (input.manifest) {
      opts.manifest = {
        ...input.manifest,
        signers: input.manifest.signers.map((s) => ({ publicKey: b4a.from(s.publicKey, 'hex') }))
      }
    }
    let result = null
    const error = await errorOf(async () => {
      const core = session.get(opts)
      await core.ready()
      result = {
        key: hex(core.key),
        discoveryKey: hex(core.discoveryKey),
        manifest: manifestJ(core.manifest),
        writable: core.writable,
        compat: core.core.compat
      }
      await core.close()
    })
    cases.push({
      label,
      primaryKey: hex(primaryKey),
      storeManifestVersion: storeOpts.manifestVersion === undefined ? null : storeOpts.manifestVersion,
      input,
      result,
      error
    })
    await store.close()
  }

  const pk = hex(kp.publicKey)
  const seed = hex(kpSeed)
  await run('keyPair: default v1 manifest of its public key', { keyPairSeed: seed })
  await run('keyPair + compat: corestore ignores compat', { keyPairSeed: seed, compat: true })
  await run('key = public key + keyPair: a compat-keyed core with a v1 manifest', {
    keyPairSeed: seed,
    key: pk
  })
  await run('key only: a read-only core with no manifest yet', { key: pk })
  await run('key only + compat: corestore ignores compat', { key: pk, compat: true })
  await run('name + keyPair: the name wins', { name: 'foo', keyPairSeed: seed })
  await run('name + manifest: the manifest gives the key, the name the key pair', {
    name: 'foo',
    manifest: { version: 1, signers: [{ publicKey: pk }] }
  })
  await run('name + manifest in a namespace', {
    name: 'foo',
    namespacePath: ['a', 'b'],
    manifest: { version: 1, quorum: 1, signers: [{ publicKey: pk }, { publicKey: hex(other.publicKey) }] }
  })
  await run('manifest v0 with keyPair: a v0 manifest, keyed by its hash', {
    keyPairSeed: seed,
    manifest: { version: 0, signers: [{ publicKey: pk }] }
  })
  await run('manifest v0 alone: read-only, keyed by its hash', {
    manifest: { version: 0, signers: [{ publicKey: pk }] }
  })
  await run('manifest v2, two signers, quorum 2: read-only', {
    manifest: { version: 2, quorum: 2, signers: [{ publicKey: pk }, { publicKey: hex(other.publicKey) }] }
  })
  await run('manifest v1 + key = public key (compat key with explicit manifest)', {
    keyPairSeed: seed,
    key: pk,
    manifest: { version: 1, signers: [{ publicKey: pk }] }
  })
  await run('nothing: JS cannot derive a discovery key', {})
  await run('empty name alone: as nothing', { name: '' })
  await run('store manifestVersion 2: named cores get a v2 manifest', { name: 'foo' }, {
    manifestVersion: 2
  })
  await run('store manifestVersion 0 is falsy: named cores still get v1', { name: 'foo' }, {
    manifestVersion: 0
  })

  write('options.json', {
    description:
      'corestore 7 get() with explicit options (keyPair, key, compat, manifest, a v0 manifest, the store manifestVersion): the key, discovery key, manifest, writability and compat flag of the core JS makes, or the error it throws.',
    options: cases
  })
}

try {
  await genKeys()
  await genOptions()
} finally {
  fs.rmSync(TMP, { recursive: true, force: true })
}
