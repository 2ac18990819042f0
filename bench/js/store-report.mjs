// Prints the table of scripts/bench-store from its results.jsonl (rows: the schema in the
// header of tests/js/bench-store.mjs): for each phase, wall time, CPU, peak RSS, open file
// descriptors and (open) memory per open idle core, JS against ferrocore, the median over
// the rounds and the median of the per-round ratios. Without ferrocore rows (no
// store_bench.rs yet) only the JS column is filled. Exits 1 unless every run passed its
// check and both sides derived the same keys and moved the same content.
//
//   node bench/js/store-report.mjs target/bench-store/results.jsonl

import { load, num, ratioCell, table, failIf, paired } from './stats.mjs'

const rows = load(process.argv[2])
const meta = Object.assign({}, ...rows.filter((r) => r.impl === 'meta').reverse())
const data = rows.filter((r) => r.bench === 'store')
const of = (impl, phase) => data.filter((r) => r.impl === impl && r.phase === phase)

const MiB = 1024 * 1024
const FIGURES = [
  ['wall time', 's', (r) => r.wall_s],
  ['CPU (user + system)', 's', (r) => r.cpu_s],
  ['peak RSS', 'MiB', (r) => r.peak_rss_bytes / MiB],
  ['open file descriptors (store\'s)', '', (r) => r.fds - r.fds_start],
  ['memory per open idle core', 'KiB', (r) => (r.rss_per_core_bytes === undefined ? undefined : r.rss_per_core_bytes / 1024)]
]

const first = (rs) => rs[0] || {}
const count = (n) => (n ?? 0).toLocaleString('en-US')
const PHASES = [
  ['create', (r) => `(a) create ${count(r.cores)} named cores, one ${r.block_size} B block each, fresh store`],
  ['open', (r) => `(b) reopen the store, open all ${count(r.cores)} by name (read each length)`],
  ['replicate', (r) => `(c) replicate ${count(r.cores)} cores × ${r.blocks_per_core} blocks of ${r.block_size} B over one TCP connection`]
]

const out = []
for (const [phase, label] of PHASES) {
  const js = of('js', phase)
  const fc = of('ferrocore', phase)
  if (!js.length && !fc.length) continue
  const what = label(first(js.length ? js : fc))
  for (const [figure, unit, value] of FIGURES) {
    if (![...js, ...fc].some((r) => Number.isFinite(value(r)))) continue
    const p = paired(js, fc, value, 'lower')
    out.push([what, figure, num(p.js, unit), fc.length ? num(p.fc, unit) : '—', fc.length ? ratioCell(p) : '—', Math.max(js.length, fc.length)])
  }
}
if (!out.length) {
  console.error('no store rows found; run scripts/bench-store')
  process.exit(1)
}

const conc = (impl) => [...new Set(data.filter((r) => r.impl === impl && r.phase !== 'build' && r.phase !== 'replicate').map((r) => r.concurrency))].join(', ')
console.log('## store (corestore), ferrocore vs JS corestore 7.12.5 on hypercore 11.37.1' + (meta.quick ? ' (--quick: not for the record)' : ''))
console.log('')
if (meta.nproc) {
  console.log(`machine: ${meta.nproc} cores, ${meta.cpu}; ${meta.node}, ${meta.rustc}; ferrocore ${meta.git_rev}`)
  console.log(`load average (1/5/15 min): ${meta.loadavg_start} at the start, ${meta.loadavg_end ?? '?'} at the end; ${meta.rounds} round(s)`)
}
console.log('Every phase runs in a fresh process (peak RSS and descriptors are its own; replicate: both stores in one process,')
console.log(`one loopback TCP connection, the writer opening its cores on demand). JS: default storage (RocksDB, a WAL write per`)
console.log(`append, no sync), cores created/opened ${conc('js') || '?'} at a time; ferrocore: ${conc('ferrocore') ? conc('ferrocore') + ' at a time' : 'no rows (bench/src/bin/store_bench.rs not built)'}.`)
console.log('Descriptors: open at the measuring point (every core open; replicate: at the end, connection up) minus the')
console.log('runtime\'s own at process start. Memory per open idle core: (RSS with every core open - RSS with the store alone')
console.log('open) / cores, both after a GC.')
console.log('ratio = JS / ferrocore (above 1: ferrocore better), the median of the per-round ratios [their range].')
console.log('')
console.log(table(['phase', 'figure', 'JS (median)', 'ferrocore (median)', 'ratio', 'rounds'], out, 2))
console.log('')

// Both sides did the same work: every check passed, the same keys, the same content.
const problems = []
for (const r of data) if (r.ok !== true) problems.push(`${r.impl} ${r.phase} round ${r.round ?? 1}: its check failed`)
const distinct = (phases, field) => [...new Set(data.filter((r) => phases.includes(r.phase) && r[field] !== undefined).map((r) => r[field]))]
const keys = distinct(['create', 'open'], 'keys_sha256')
if (keys.length > 1) problems.push(`create/open: different keys_sha256 ${keys.join(' ')}`)
const content = distinct(['build', 'replicate'], 'content_sha256')
if (content.length > 1) problems.push(`build/replicate: different content_sha256 ${content.join(' ')}`)
failIf(problems, 'the runs did not all do the same, checked work')
