// One table of ferrocore vs JS ratios from the raw rows of the three side-by-side benchmarks
// (scripts/bench-log, scripts/bench-transport, scripts/bench-replicate). Run by scripts/bench.
//
//   node bench/js/summary.mjs target/bench-log/results.jsonl \
//        target/bench-transport/results.jsonl target/bench-replicate/results.jsonl
//
// "ratio" is always "how many times better ferrocore is": ferrocore/JS for rates, JS/ferrocore
// for times. A file that is missing (its benchmark did not run) leaves its rows out.

import fs from 'fs'

const load = (path) =>
  fs.existsSync(path)
    ? fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
    : []
const [logRows, transportRows, replicateRows] = process.argv.slice(2, 5).map(load)

const median = (xs) => {
  const s = xs.filter((x) => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b)
  return s.length ? s[Math.floor((s.length - 1) / 2)] : undefined
}
const fmt = (x, unit) => (x === undefined ? '—' : (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x >= 10 ? 1 : 3)) + (unit ? ' ' + unit : ''))

const table = []
const add = (area, what, js, fc, unit, lowerIsBetter = false) => {
  const ratio = js && fc ? (lowerIsBetter ? js / fc : fc / js) : undefined
  table.push([area, what, fmt(js, unit), fmt(fc, unit), ratio === undefined ? '—' : ratio.toFixed(2) + '×'])
}

// The log (bench-log): one row per workload at 4 KiB, non-durable, as its own table prints them.
const log = (impl, workload, block, field) =>
  median(logRows.filter((r) => r.impl === impl && r.workload === workload && r.block === block && !r.durable).map((r) => r[field]))
if (logRows.length) {
  add('log', 'append 1 × 4 KiB', log('js', 'append-single', 4096, 'ops_per_sec'), log('ferrocore', 'append-single', 4096, 'ops_per_sec'), '/s')
  add('log', 'append 100 × 4 KiB (blocks)', log('js', 'append-batch', 4096, 'ops_per_sec'), log('ferrocore', 'append-batch', 4096, 'ops_per_sec'), '/s')
  add('log', 'get a random 4 KiB block of 100k', log('js', 'get-random', 4096, 'ops_per_sec'), log('ferrocore', 'get-random', 4096, 'ops_per_sec'), '/s')
  add('log', 'open a 1M-block log', log('js', 'open', 64, 'ms'), log('ferrocore', 'open', 64, 'ms'), 'ms', true)
}

// The transport (bench-transport): 4 KiB protomux messages, each end on its own thread (JS: its
// faster pipe), and handshakes.
const tr = (impl, workload, message) =>
  transportRows.find((r) => r.impl === impl && r.workload === workload && (message === undefined || r.message === message))
if (transportRows.length) {
  const jsBest = Math.max(tr('js', 'throughput', 4096)?.mb_per_sec ?? 0, tr('js', 'throughput-mux', 4096)?.mb_per_sec ?? 0) || undefined
  add('transport', '4 KiB protomux messages, encrypted', jsBest, tr('ferrocore', 'throughput-mux-threads', 4096)?.mb_per_sec, 'MB/s')
  add('transport', 'Noise XX handshakes', tr('js', 'handshake')?.per_sec, tr('ferrocore', 'handshake')?.per_sec, '/s')
}

// Replication (bench-replicate): every pair against JS → JS (the median over its rounds),
// and live latency (the median of the rounds' medians).
const dl = (pair) =>
  median(replicateRows.filter((r) => r.bench === 'replicate-download' && r.pair === pair).map((r) => r.mb_per_s))
const lat = (pair) =>
  median(replicateRows.filter((r) => r.bench === 'replicate-latency' && r.pair === pair).map((r) => r.median_ms))
if (replicateRows.length) {
  const base = dl('js->js')
  for (const pair of ['ferrocore->ferrocore', 'js->ferrocore', 'ferrocore->js']) {
    add('replication', `download 4 KiB blocks over TCP, ${pair} vs js->js`, base, dl(pair), 'MB/s')
  }
  add('replication', 'live latency, append to reader event (median)', lat('js->js'), lat('ferrocore->ferrocore'), 'ms', true)
}

if (!table.length) {
  console.error('no results found; run scripts/bench')
  process.exit(1)
}
const header = ['area', 'workload', 'JS', 'ferrocore', 'ratio']
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)))
const line = (r) => '| ' + r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |'
console.log('\n## ferrocore vs JS (hypercore 11.37.1 stack), one table; ratio = times better\n')
console.log(line(header))
console.log('|' + widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|')
for (const r of table) console.log(line(r))
