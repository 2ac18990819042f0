// Prints the tables of scripts/bench-replicate from its results.jsonl: every configuration's
// download (median MB/s and CPU per block over the rounds, with ranges), every comparison of
// compare.mjs's replicationComparisons (the median of the per-round ratios), live latency,
// the engine alone and idle memory. Exits 1 unless every download read back all its blocks
// with the writers' content digest and tree hash.
//
//   node bench/js/replicate-report.mjs target/bench-replicate/results.jsonl

import { load, median, num, range, ratioCell, times, table, failIf } from './stats.mjs'
import { cpuPerBlock, replicationComparisons, replicationChecks } from './compare.mjs'

const rows = load(process.argv[2])
const meta = Object.assign({}, ...rows.filter((r) => r.impl === 'meta').reverse())
const data = rows.filter((r) => r.impl !== 'meta')

const spread = (xs, unit) => {
  const r = range(xs)
  return !r || xs.length < 2 ? '' : `${num(r[0])}–${num(r[1])}${unit ? ' ' + unit : ''}`
}

// Every configuration that ran: its median and range over the rounds.
const configs = new Map()
for (const r of data.filter((r) => r.bench === 'replicate-download')) {
  const key = [r.pair, r.processes === 1 ? 'one process' : 'one process per peer', r.transport === 'tcp' ? '' : r.transport + ' stream',
    `writer ${r.writer_durability}, reader ${r.reader_durability}`].filter(Boolean).join(', ')
  if (!configs.has(key)) configs.set(key, [])
  configs.get(key).push(r)
}
const perConfig = [...configs].map(([key, rs]) => {
  const mb = rs.map((r) => r.mb_per_s)
  const cpu = rs.map(cpuPerBlock)
  return [key, num(median(mb)), spread(mb), num(median(cpu)), spread(cpu), rs.length]
})

const comparisons = replicationComparisons(data).map((c) => [c.what, c.jsRuns, c.fcRuns, num(c.p.js, c.unit), num(c.p.fc, c.unit), ratioCell(c.p), times(c.p.ratioOfMedians), c.p.rounds])

const latency = ['js->js', 'ferrocore->ferrocore'].map((pair) => {
  const v = data.filter((r) => r.bench === 'replicate-latency' && r.pair === pair)
  if (!v.length) return null
  const m = v.map((r) => r.median_ms)
  return [pair, num(median(m)), num(median(v.map((r) => r.p90_ms))), num(median(v.map((r) => r.p99_ms))), spread(m), v.length]
}).filter(Boolean)

console.log('## replication, ferrocore vs JS hypercore 11.37.1, over loopback TCP' + (meta.quick ? ' (--quick: not for the record)' : ''))
console.log('')
console.log(`machine: ${meta.nproc} cores, ${meta.cpu}; ${meta.node}, ${meta.rustc}; ferrocore ${meta.git_rev}`)
console.log(`load average (1/5/15 min): ${meta.loadavg_start} at the start, ${meta.loadavg_end} at the end`)
console.log(`${(meta.blocks ?? 0).toLocaleString('en-US')} blocks of 4 KiB (MB = 10^6 bytes of payload); ${meta.rounds} round(s), JS first in odd rounds, ferrocore first in even ones.`)
console.log('CPU per block: user + system time of every thread over the download, both peers (one process: all of it; one process')
console.log('  per peer: the reader\'s own over its download + the writer process\'s from /proc over the reader\'s life).')
console.log('Every download was read back block by block (untimed) and checked against the writers\' content digest.')
console.log('')
console.log(table(['configuration', 'MB/s (median)', 'range', 'CPU µs/block (median)', 'range', 'rounds'], perConfig))
console.log('')
console.log('ratio = how many times better ferrocore is (rates: ferrocore/JS; CPU, time, memory: JS/ferrocore), the median of the')
console.log('per-round ratios [their range]; "of medians" = the ratio of the two medians.')
console.log('')
console.log(table(['comparison', 'JS runs', 'ferrocore runs', 'JS', 'ferrocore', 'ratio (median of rounds)', 'of medians', 'rounds'], comparisons, 3))
console.log('')
if (latency.length) {
  console.log(table(['live latency (one process)', 'median ms', 'p90 ms', 'p99 ms', 'range of the medians', 'rounds'], latency))
  console.log('')
}
const engine = data.filter((r) => r.bench === 'replicate-engine')
if (engine.length) console.log(`ferrocore engine alone (both endpoints on one thread, in-memory pipe and storage): ${num(median(engine.map((r) => r.mb_per_s)))} MB/s, ${num(median(engine.map((r) => r.cpu_us_per_block)))} µs CPU per block.`)
for (const r of data.filter((r) => r.bench === 'idle-connection-memory')) {
  console.log(`idle connection, ${r.impl}: ${num(r.heap_bytes_per_connection / 1024)} KiB of heap per connection, ${r.counts}` +
    (r.rss_bytes_per_connection !== undefined ? `; RSS ${num(r.rss_bytes_per_connection / 1024)} KiB (coarse)` : '') + '.')
}
const checks = replicationChecks(data)
console.log(`content: ${checks.checked} downloads read back, ${checks.problems.length ? 'NOT ALL' : 'all'} equal to the writers' digest and tree hash.`)
failIf(checks.problems, 'a download does not hold the writer\'s content')
