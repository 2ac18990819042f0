// Prints the table of scripts/bench-transport from its results.jsonl: JS vs ferrocore per
// workload, the ratio and the targets.
//
//   node bench/js/transport-report.mjs target/bench-transport/results.jsonl

import fs from 'fs'

const rows = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
const get = (impl, workload, message) => rows.find((r) => r.impl === impl && r.workload === workload && (message === undefined || r.message === message))
const fmt = (x) => (x === undefined ? '—' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2))
const meta = rows.find((r) => r.impl === 'meta') || {}

const table = []
for (const size of [4096, 65536]) {
  const js = get('js', 'throughput', size)?.mb_per_sec
  const jsMux = get('js', 'throughput-mux', size)?.mb_per_sec
  const jsBest = Math.max(js ?? 0, jsMux ?? 0) || undefined
  const raw = get('ferrocore', 'cipher-rustcrypto-xchacha20poly1305', size)?.mb_per_sec
  const kib = size / 1024 + ' KiB'
  for (const [workload, label, base] of [
    ['throughput', `records of ${kib}, one thread (like the JS pipe)`, js],
    ['throughput-mux', `protomux messages of ${kib}, one thread`, jsMux],
    ['throughput-threads', `records of ${kib}, sender and receiver on two threads`, jsBest],
    ['throughput-mux-threads', `protomux messages of ${kib}, two threads`, jsBest]
  ]) {
    const ours = get('ferrocore', workload, size)?.mb_per_sec
    let target = ''
    let verdict = '—'
    if (size === 4096 && workload === 'throughput-mux-threads') {
      // raw is seal + open of each message on one thread: one direction's cipher speed is twice it.
      const oneWay = raw === undefined ? undefined : raw * 2
      const ok = ours >= 1.5 * base && oneWay !== undefined && ours >= 0.75 * oneWay
      target = '≥ 1.5× JS, ≥ 75% of the raw cipher'
      verdict = ok ? 'ok' : 'MISS'
    }
    table.push([`${label} (MB/s)`, fmt(base), fmt(ours), base && ours ? (ours / base).toFixed(2) + '×' : '—', target, verdict])
  }
  if (raw !== undefined) {
    table.push([`bound: RustCrypto XChaCha20-Poly1305, ${kib}, one direction (MB/s)`, '', fmt(raw * 2), '', '', '—'])
  }
}
for (const w of ['handshake', 'handshake-roundtrip']) {
  const js = get('js', w)?.per_sec
  const ours = get('ferrocore', w)?.per_sec
  const isTarget = w === 'handshake'
  table.push([`${w}s per second`, fmt(js), fmt(ours), js && ours ? (ours / js).toFixed(2) + '×' : '—', isTarget ? '≥ 2× JS' : '', isTarget ? (ours >= 2 * js ? 'ok' : 'MISS') : '—'])
}

const header = ['workload', 'JS', 'ferrocore', 'ratio', 'target', 'verdict']
const all = [header, ...table]
const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)))
const line = (r) => '| ' + r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ') + ' |'
console.log('## ferrocore transport vs JS secret-stream + protomux, side by side')
console.log('')
const jsMeta = rows.find((r) => r.impl === 'meta' && r.node)
if (jsMeta) console.log(`JS: node ${jsMeta.node}; ${JSON.stringify(jsMeta.versions ?? jsMeta.packages ?? {})}`)
console.log('In-memory pipe, no TCP. JS runs both ends in one process (one thread); ferrocore rows say how they ran.')
console.log('The JS ratio base of the two-thread rows is the faster of the two JS pipes.')
console.log('')
console.log(line(header))
console.log('|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|')
for (const r of table) console.log(line(r))
const misses = table.filter((r) => r[5] === 'MISS').length
console.log('')
console.log(`targets: ${table.filter((r) => r[5] === 'ok').length} ok, ${misses} MISS`)
