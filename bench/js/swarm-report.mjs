// The table of scripts/bench-swarm: every comparison of swarm-compare.mjs with its target.
//
//   node bench/js/swarm-report.mjs target/bench-swarm/results.jsonl

import { load, num, ratioCell, times, table } from './stats.mjs'
import { swarmComparisons, missingText } from './swarm-compare.mjs'
import { verdict } from './udx-compare.mjs'

const rows = load(process.argv[2])
const data = rows.filter((r) => r.impl !== 'meta')
const meta = Object.assign({}, ...rows.filter((r) => r.impl === 'meta').reverse())
const comparisons = swarmComparisons(data)
if (!comparisons.length) {
  console.error('no results found; run scripts/bench-swarm')
  process.exit(1)
}
console.log('\n## DHT and swarm: ferrocore vs hyperdht 6.34.0 / hyperswarm 4.17.2 (issue 27 item 8)' + (meta.quick ? ' (--quick: not for the record)' : '') + '\n')
if (meta.nproc) console.log(`machine: ${meta.nproc} cores, ${meta.cpu}; ${meta.node}, ${meta.rustc}; ferrocore ${meta.git_rev}`)
if (meta.loadavg_start) console.log(`${meta.rounds} round(s); load average ${meta.loadavg_start} at the start, ${meta.loadavg_end} at the end`)
console.log('ratio: JS / ferrocore (>1: ferrocore better); median of the per-round ratios [range], JS first in odd rounds.\n')
const out = comparisons.map((c, i) => [
  String(i + 1),
  c.what,
  c.missing?.js ? 'not available' : num(c.p.js, c.unit),
  c.missing?.ferrocore ? 'not available' : num(c.p.fc, c.unit),
  ratioCell(c.p),
  times(c.p.ratioOfMedians),
  c.target === undefined ? '—' : verdict(c),
  String(c.p.rounds)
])
console.log(table(['#', 'workload', 'JS', 'ferrocore', 'ratio: median of rounds [range]', 'of medians', 'target', 'rounds'], out, 2))
console.log('')
for (const [i, c] of comparisons.entries()) {
  if (c.missing) console.log(`${i + 1}. NOT AVAILABLE: ${missingText(c)}`)
}
const failed = data.filter((r) => r.error !== undefined)
for (const r of failed) console.log(`failed run: ${r.impl} ${r.workload} round ${r.round ?? 1}${r.run ? ` run ${r.run}` : ''}: ${r.error}`)
console.log('')
for (const [i, c] of comparisons.entries()) {
  if (c.jsRuns) console.log(`${i + 1}. JS: ${c.jsRuns}; ferrocore: ${c.fcRuns}`)
}
