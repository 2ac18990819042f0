// The comparisons of scripts/bench-bee (rows: the schema in the header of
// tests/js/bench-bee.mjs), shared by its own table (bee-report.mjs) and the summary of
// scripts/bench (summary.mjs): each phase's rate, ferrocore against JS, with issue 28's
// target, and the checks that both sides did the same work.

import { compare } from './compare.mjs'
import { verdict } from './udx-compare.mjs'

const count = (n) => (n ?? 0).toLocaleString('en-US')

// [phase, target (times JS), workload text of a row]
const PHASES = [
  ['puts', 8, (r) => `${count(r.ops)} single puts (shuffled keys) into a fresh bee, rate`],
  ['batched', 5, (r) => `${count(r.ops)} puts in batches of ${count(r.batch)}, rate`],
  ['gets', 10, (r) => `${count(r.ops)} random gets of a ${count(r.count)}-key bee (reopened), rate`],
  ['scan', 10, (r) => `full range scan of ${count(r.count)} keys (reopened), entries per second`],
  ['sparse', undefined, (r) => `${count(r.ops)} random gets of a sparse remote ${count(r.count)}-key bee over loopback TCP, keys per second`]
]

export function beeComparisons(rows) {
  const of = (impl, phase) => rows.filter((r) => r.bench === 'bee' && r.impl === impl && r.phase === phase)
  const out = []
  for (const [phase, target, what] of PHASES) {
    const js = of('js', phase)
    const fc = of('ferrocore', phase)
    if (!js.length && !fc.length) continue
    const cache = (rs) => (rs[0] && rs[0].cache_blocks !== undefined ? `; cache ${count(rs[0].cache_blocks)} decoded blocks` : '')
    const jsRuns = 'hyperbee 2.27.3 on corestore 7.12.5 (RocksDB on disk, no sync)' + cache(js) + '; fresh process' + (phase === 'sparse' ? '; reader and writer stores in one process, one JS thread' : '')
    const fcRuns = 'ferrocore bee (blocking adapter) on ferrocore-storage on disk (Logged, no sync)' + cache(fc) + '; fresh process' + (phase === 'sparse' ? '; reader and writer stores in one process' : '')
    const c = compare('bee/' + phase, 'bee', what(js[0] || fc[0]), jsRuns, fcRuns, 'ops/s', js, fc, (r) => r.ops_per_s, 'higher')
    c.target = target
    out.push(c)
  }
  return out
}

export const beeTarget = (c) => (c.target === undefined ? '—' : verdict(c))

// Every run passed its own check; both sides wrote cores of the same length and read the
// same bytes in each phase.
export function beeChecks(rows) {
  const data = rows.filter((r) => r.bench === 'bee')
  const problems = []
  for (const r of data) if (r.ok !== true) problems.push(`bee: ${r.impl} ${r.phase} round ${r.round ?? 1}: its check failed`)
  for (const [phase] of PHASES) {
    for (const field of ['length', 'bytes']) {
      const seen = [...new Set(data.filter((r) => r.phase === phase && r[field] !== undefined).map((r) => r[field]))]
      if (seen.length > 1) problems.push(`bee ${phase}: different ${field} ${seen.join(' ')}`)
    }
  }
  return { problems, checked: data.length }
}
