// Helpers shared by the vector generators (gen-core.mjs, gen-corestore.mjs, gen-dht.mjs; gen-wire.mjs keeps its own).

import fs from 'fs'
import path from 'path'
import { createRequire } from 'module'

const require = createRequire(import.meta.url)
const b4a = require('b4a')

// Lowercase hex of a buffer; null for an absent one.
export const hex = (b) => (b === null || b === undefined ? null : b4a.toString(b, 'hex'))

// The installed version of npm package `name`: walks up from its resolved entry point to the
// package's own package.json.
export function pkgVersion(name) {
  let dir = path.dirname(require.resolve(name))
  while (true) {
    const f = path.join(dir, 'package.json')
    if (fs.existsSync(f)) {
      const pkg = JSON.parse(fs.readFileSync(f, 'utf8'))
      if (pkg.name === name) return pkg.version
    }
    const up = path.dirname(dir)
    if (up === dir) return null
    dir = up
  }
}

// A normalised manifest as JSON (byte strings in hex), or null.
export function manifestJ(m) {
  if (!m) return null
  return {
    version: m.version,
    hash: m.hash,
    allowPatch: m.allowPatch,
    quorum: m.quorum,
    signers: m.signers.map((s) => ({
      signature: s.signature,
      namespace: hex(s.namespace),
      publicKey: hex(s.publicKey)
    })),
    prologue: m.prologue ? { hash: hex(m.prologue.hash), length: m.prologue.length } : null,
    linked: m.linked ? m.linked.map(hex) : null,
    userData: m.userData ? hex(m.userData) : null
  }
}

// Throws unless `cond` holds: a generator stops rather than write vectors JS disagrees with.
export function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg)
}

// A function writing `{ generator, ...obj }` as pretty JSON to `outDir/name`.
export function writer(outDir, generator) {
  return (name, obj) => {
    fs.writeFileSync(
      path.join(outDir, name),
      JSON.stringify({ generator, ...obj }, null, 2) + '\n'
    )
    console.log('wrote', name)
  }
}
