// Prints the table of scripts/bench-drive from its results.jsonl (rows: the schema in the
// header of tests/js/bench-drive.mjs): each phase's rate, JS against ferrocore, the median
// over the rounds, the median of the per-round ratios and issue 29's target, with the
// median wall and CPU seconds of each side. Without ferrocore rows only the JS column is
// filled. Exits 1 unless every run passed its check and both sides did the same work
// (the same core lengths and bytes; the reads' SHA-256 digests equal).
//
//   node bench/js/drive-report.mjs target/bench-drive/results.jsonl

import { load, median, num, ratioCell, table, failIf } from './stats.mjs'
import { driveComparisons, driveChecks, driveTarget } from './drive-compare.mjs'

const rows = load(process.argv[2])
const meta = Object.assign({}, ...rows.filter((r) => r.impl === 'meta').reverse())
const data = rows.filter((r) => r.bench === 'drive')
const comparisons = driveComparisons(data)
if (!comparisons.length) {
  console.error('no drive rows found; run scripts/bench-drive')
  process.exit(1)
}
const fcRows = data.some((r) => r.impl === 'ferrocore')
const secs = (rs, f) => num(median(rs.map((r) => r[f]).filter(Number.isFinite)))
const out = comparisons.map((c) => [
  c.what,
  num(c.p.js, c.unit),
  fcRows ? num(c.p.fc, c.unit) : '—',
  fcRows ? ratioCell(c.p) : '—',
  driveTarget(c),
  `${secs(c.rows.js, 'wall_s')} / ${fcRows ? secs(c.rows.fc, 'wall_s') : '—'}`,
  `${secs(c.rows.js, 'cpu_s')} / ${fcRows ? secs(c.rows.fc, 'cpu_s') : '—'}`,
  c.p.rounds
])

const folder = data.find((r) => r.phase === 'make-folder')
console.log('## drive (hyperdrive), ferrocore vs JS hyperdrive 13.3.4 (corestore 7.12.5, hypercore 11.37.1)' + (meta.quick ? ' (--quick: not for the record)' : ''))
console.log('')
if (meta.nproc) {
  console.log(`machine: ${meta.nproc} cores, ${meta.cpu}; ${meta.node}, ${meta.rustc}; ferrocore ${meta.git_rev}`)
  console.log(`load average (1/5/15 min): ${meta.loadavg_start} at the start, ${meta.loadavg_end ?? '?'} at the end; ${meta.rounds} round(s)`)
}
if (folder) console.log(`folder: tests/js/drive-data.mjs preset ${folder.preset} (seed ${folder.seed}), ${folder.files.toLocaleString('en-US')} files, ${folder.bytes.toLocaleString('en-US')} bytes.`)
console.log('Each phase in a fresh process, both sides on disk; the same folder, drive key and entries; reads: the same ranges (xorshift32 seed 2).')
console.log(`JS: ${comparisons[0].jsRuns}.`)
if (!fcRows) console.log('ferrocore: no rows (bench/src/bin/drive_bench.rs not built).')
const fcRuns = new Map()
for (const c of comparisons) fcRuns.set(c.fcRuns, [...(fcRuns.get(c.fcRuns) ?? []), c.phase])
if (fcRows) for (const [runs, phases] of fcRuns) console.log(`ferrocore (${phases.join(', ')}): ${runs}.`)
console.log('ratio = ferrocore / JS (above 1: ferrocore faster), the median of the per-round ratios [their range]; seconds: medians, JS / ferrocore.')
console.log('')
console.log(table(['workload', 'JS (median)', 'ferrocore (median)', 'ratio', 'target', 'wall s', 'CPU s', 'rounds'], out, 1))
console.log('')
const checks = driveChecks(data)
if (checks.digests) console.log(`reads: ${checks.digests} runs, ${checks.problems.some((p) => p.includes('digest')) ? 'NOT ALL' : 'all'} with the same SHA-256 of the bytes read.`)
failIf(checks.problems, 'the runs did not all do the same, checked work')
