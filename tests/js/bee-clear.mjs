#!/usr/bin/env node
// JS hyperbee 2.27.3's clearUnlinked on a bee of seeded operations, for ferrocore's
// comparison (adapters/blocking/tests/bee_watch.rs): prints one JSON line
// {"blocks":[hex...],"cleared":[seq...],"lt":n} — the bee's blocks before clearing, the
// seqs clearUnlinked cleared, and what it returned.
//
//   node bee-clear.mjs OPS KEYS [GTE]
//
// Operation i (0 ≤ i < OPS) on key `k` + ((i * 7) % KEYS) (three digits): a del when
// i % 4 == 3, else a put of `v<i>`, each its own append (utf-8 keys and values).
import Hypercore from 'hypercore'
import Hyperbee from 'hyperbee'
import fs from 'fs'
import os from 'os'
import path from 'path'

const [ops, keys, gte] = process.argv.slice(2).map(Number)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-clear-'))
const core = new Hypercore(dir)
const bee = new Hyperbee(core, { keyEncoding: 'utf-8', valueEncoding: 'utf-8' })
await bee.ready()
for (let i = 0; i < ops; i++) {
  const k = 'k' + String((i * 7) % keys).padStart(3, '0')
  if (i % 4 === 3) await bee.del(k)
  else await bee.put(k, 'v' + i)
}
const blocks = []
for (let i = 0; i < core.length; i++) blocks.push((await core.get(i)).toString('hex'))
const lt = await bee.clearUnlinked(gte ? { gte } : {})
const cleared = []
for (let i = 0; i < core.length; i++) if (!(await core.has(i))) cleared.push(i)
process.stdout.write(JSON.stringify({ blocks, cleared, lt }) + '\n')
await bee.close()
fs.rmSync(dir, { recursive: true, force: true })
