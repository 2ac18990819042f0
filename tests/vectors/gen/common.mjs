// Helpers shared by the vector generators (gen-core.mjs, gen-corestore.mjs, gen-dht.mjs, gen-bee.mjs,
// gen-drive.mjs; gen-wire.mjs keeps its own).

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

// JSON of `v` with nested objects and arrays indented down to `maxDepth`, then each value on one
// line (one line per step / read / block keeps large vector files readable and diffable).
export function pretty(v, maxDepth, depth = 0, ind = '') {
  if (depth >= maxDepth || v === null || typeof v !== 'object') return JSON.stringify(v)
  const inner = ind + '  '
  if (Array.isArray(v)) {
    if (!v.length) return '[]'
    return '[\n' + v.map((x) => inner + pretty(x, maxDepth, depth + 1, inner)).join(',\n') + '\n' + ind + ']'
  }
  const ks = Object.keys(v)
  if (!ks.length) return '{}'
  return (
    '{\n' +
    ks.map((k) => inner + JSON.stringify(k) + ': ' + pretty(v[k], maxDepth, depth + 1, inner)).join(',\n') +
    '\n' + ind + '}'
  )
}

// A function writing `{ ...head, ...obj }` to `outDir/name` as `pretty(_, maxDepth)`.
export function prettyWriter(outDir, head) {
  return (name, obj, maxDepth) => {
    const text = pretty({ ...head, ...obj }, maxDepth) + '\n'
    fs.writeFileSync(path.join(outDir, name), text)
    console.log('wrote', name, text.length, 'bytes')
  }
}

// mulberry32 as 32-bit integers: state += 0x6d2b79f5; t = state; t = imul(t ^ t >>> 15, t | 1);
// t ^= t + imul(t ^ t >>> 7, t | 61); out = (t ^ t >>> 14) >>> 0 (all arithmetic mod 2^32).
export function mulberry32u(seed) {
  let a = seed >>> 0
  return function () {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}
