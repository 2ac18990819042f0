// The table of scripts/bench-udx: every comparison of udx-compare.mjs with its target.
//
//   node bench/js/udx-report.mjs target/bench-udx/results.jsonl

import { load, num, ratioCell, times, table } from './stats.mjs'
import { udxComparisons, verdict } from './udx-compare.mjs'

const rows = load(process.argv[2])
const data = rows.filter((r) => r.impl !== 'meta')
const meta = Object.assign({}, ...rows.filter((r) => r.impl === 'meta').reverse())
const comparisons = udxComparisons(data)
if (!comparisons.length) {
  console.error('no results found; run scripts/bench-udx')
  process.exit(1)
}
console.log('\n## UDX: ferrocore vs udx-native, and against TCP (issue 26 item 7)' + (meta.quick ? ' (--quick: not for the record)' : '') + '\n')
if (meta.nproc) console.log(`machine: ${meta.nproc} cores, ${meta.cpu}; ${meta.node}, ${meta.rustc}; ferrocore ${meta.git_rev}`)
if (meta.loadavg_start) console.log(`${meta.rounds} round(s); load average ${meta.loadavg_start} at the start, ${meta.loadavg_end} at the end`)
console.log('ratio: ferrocore / baseline (udx-native, or the TCP row); median of the per-round ratios [range], JS first in odd rounds.\n')
const out = comparisons.map((c, i) => [
  String(i + 1),
  c.what,
  num(c.p.js, c.unit),
  num(c.p.fc, c.unit),
  ratioCell(c.p),
  times(c.p.ratioOfMedians),
  verdict(c),
  String(c.p.rounds)
])
console.log(table(['#', 'workload', 'baseline', 'ferrocore', 'ratio: median of rounds [range]', 'of medians', 'target', 'rounds'], out, 2))
console.log('')
const failed = data.filter((r) => r.error !== undefined)
for (const r of failed) console.log(`FAILED RUN (not in the figures): ${r.impl} ${r.workload} ${r.path} round ${r.round ?? 1}: ${r.error}`)
if (failed.length) console.log('')
for (const [i, c] of comparisons.entries()) {
  if (c.jsRuns) console.log(`${i + 1}. baseline: ${c.jsRuns}; ferrocore: ${c.fcRuns}`)
}
