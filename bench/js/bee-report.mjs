// Prints the table of scripts/bench-bee from its results.jsonl (rows: the schema in the
// header of tests/js/bench-bee.mjs): each phase's rate, JS against ferrocore, the median
// over the rounds, the median of the per-round ratios and issue 28's target. Without
// ferrocore rows only the JS column is filled. Exits 1 unless every run passed its check
// and both sides did the same work.
//
//   node bench/js/bee-report.mjs target/bench-bee/results.jsonl

import { load, num, ratioCell, table, failIf } from './stats.mjs'
import { beeComparisons, beeChecks, beeTarget } from './bee-compare.mjs'

const rows = load(process.argv[2])
const meta = Object.assign({}, ...rows.filter((r) => r.impl === 'meta').reverse())
const data = rows.filter((r) => r.bench === 'bee')
const comparisons = beeComparisons(data)
if (!comparisons.length) {
  console.error('no bee rows found; run scripts/bench-bee')
  process.exit(1)
}
const fcRows = data.some((r) => r.impl === 'ferrocore')
const out = comparisons.map((c) => [c.what, num(c.p.js, c.unit), fcRows ? num(c.p.fc, c.unit) : '—', fcRows ? ratioCell(c.p) : '—', beeTarget(c), c.p.rounds])

console.log('## bee (hyperbee), ferrocore vs JS hyperbee 2.27.3 (corestore 7.12.5, hypercore 11.37.1)' + (meta.quick ? ' (--quick: not for the record)' : ''))
console.log('')
if (meta.nproc) {
  console.log(`machine: ${meta.nproc} cores, ${meta.cpu}; ${meta.node}, ${meta.rustc}; ferrocore ${meta.git_rev}`)
  console.log(`load average (1/5/15 min): ${meta.loadavg_start} at the start, ${meta.loadavg_end ?? '?'} at the end; ${meta.rounds} round(s)`)
}
console.log('Each phase in a fresh process, both sides on disk, the same keys and values (tests/js/bee-data.mjs) in the same order.')
console.log(`JS: ${comparisons[0].jsRuns}. ferrocore: ${fcRows ? comparisons[0].fcRuns : 'no rows (bench/src/bin/bee_bench.rs not built)'}.`)
console.log('ratio = ferrocore / JS (above 1: ferrocore faster), the median of the per-round ratios [their range].')
console.log('')
console.log(table(['workload', 'JS (median)', 'ferrocore (median)', 'ratio', 'target', 'rounds'], out, 1))
console.log('')
failIf(beeChecks(data).problems, 'the runs did not all do the same, checked work')
