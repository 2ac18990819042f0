// Prints the table of scripts/bench-log from its results.jsonl: JS hypercore vs ferrocore,
// the ratio, the lead's target and a verdict, then peak memory, then whether both sides
// produced the same results (tree hashes, read checksums, lengths). Exits 1 on a mismatch.
//
//   node bench/js/report.mjs target/bench-log/results.jsonl

import fs from 'fs'
import path from 'path'

const file = process.argv[2]
if (!file) {
  console.error('usage: node report.mjs results.jsonl')
  process.exit(2)
}
const rows = fs
  .readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l))
const meta = Object.assign({}, ...rows.filter((r) => r.impl === 'meta'))
const data = rows.filter((r) => r.impl !== 'meta')

const median = (xs) => {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
// All rows of one measurement.
const find = (impl, workload, block, durable = false) =>
  data.filter((r) => r.impl === impl && r.workload === workload && r.block === block && r.durable === durable)
const one = (...k) => find(...k)[0]

const size = (b) => (b >= 1024 ? b / 1024 + ' KiB' : b + ' B')
const num = (x) => {
  if (x === undefined || !Number.isFinite(x)) return '—'
  if (x >= 100) return Math.round(x).toLocaleString('en-US')
  if (x >= 10) return x.toFixed(1)
  return x.toFixed(2)
}
const times = (x) => (x === undefined || !Number.isFinite(x) ? '—' : num(x) + '×')
const verdict = (ok) => (ok === undefined ? '—' : ok ? 'ok' : 'MISS')

const table = []
const add = (workload, js, fc, ratio, target = '', ok) => table.push([workload, js, fc, ratio, target, verdict(ok)])

const sync = one('ferrocore', 'fdatasync', 4096)
const limit = one('ferrocore', 'limit', 4096)

// Throughput rows: ops/s on both sides, ratio ferrocore/JS, optional minimum ratio.
function throughput(label, workload, block, minRatio) {
  const js = one('js', workload, block)
  const fc = one('ferrocore', workload, block)
  if (!js && !fc) return
  const ratio = js && fc ? fc.ops_per_sec / js.ops_per_sec : undefined
  const target = minRatio ? '≥ ' + minRatio + '× JS' : ''
  add(label, num(js?.ops_per_sec), num(fc?.ops_per_sec), times(ratio), target, minRatio && ratio !== undefined ? ratio >= minRatio : undefined)
}

// Durable rows (ferrocore only): the median commit time over the median fdatasync of 4 KiB
// probed in the same process around the timed loop.
function durable(label, workload, block, maxRatio) {
  const fc = one('ferrocore', workload, block, true)
  if (!fc) return
  const ratio = fc.commit_median_us / fc.fdatasync_median_us
  const ratioText = num(ratio) + '× (' + num(fc.commit_median_us / 1000) + ' / ' + num(fc.fdatasync_median_us / 1000) + ' ms)'
  const target = maxRatio ? '≤ ' + maxRatio + '× fdatasync' : ''
  add(label, 'no durable mode', num(fc.ops_per_sec), ratioText, target, maxRatio ? ratio <= maxRatio : undefined)
}

for (const b of [64, 1024, 4096]) throughput(`append 1 × ${size(b)}`, 'append-single', b, b === 4096 ? 8 : 0)
for (const b of [64, 1024, 4096]) durable(`append 1 × ${size(b)}, durable`, 'append-single', b, b === 4096 ? 1.5 : 0)
for (const b of [64, 1024, 4096]) throughput(`append 100 × ${size(b)} (blocks/s)`, 'append-batch', b, b === 4096 ? 3.5 : 0)
{
  const fc = one('ferrocore', 'append-batch', 4096)
  if (fc && limit) {
    const share = fc.ops_per_sec / limit.batch_blocks_per_sec
    add('append 100 × 4 KiB vs hash+sign limit', '', num(fc.ops_per_sec), (share * 100).toFixed(0) + '% of ' + num(limit.batch_blocks_per_sec), '≥ 55% of limit', share >= 0.55)
  }
}
for (const b of [64, 1024, 4096]) durable(`append 100 × ${size(b)}, durable (blocks/s)`, 'append-batch', b, 0)
throughput('get random 4 KiB', 'get-random', 4096, 10)
{
  const js = find('js', 'open', 64)
  const fc = find('ferrocore', 'open', 64)
  if (js.length || fc.length) {
    const length = (fc[0] || js[0]).length
    const jsMs = median(js.map((r) => r.ms))
    const fcMs = median(fc.map((r) => r.ms))
    const label = `open ${length.toLocaleString('en-US')} × 64 B log, ms (median of ${Math.max(js.length, fc.length)})`
    const faster = jsMs && fcMs ? times(jsMs / fcMs) + ' faster' : '—'
    add(label, num(jsMs) + ' ms', num(fcMs) + ' ms', faster, '≤ 10 ms', fcMs === undefined ? undefined : fcMs <= 10)
    const verified = find('ferrocore', 'open-verified', 64)
    if (verified.length) {
      const vMs = median(verified.map((r) => r.ms))
      add('  same, ferrocore default verify_on_open (reads the file)', '', num(vMs) + ' ms', jsMs && vMs ? times(vMs / jsMs) + ' the JS time' : '—', '', undefined)
    }
    const jsIdle = median(js.map((r) => r.idle_mb))
    const fcIdle = median(fc.map((r) => r.idle_mb))
    add(`idle memory of the open log, MiB (median)`, num(jsIdle) + ' MiB', num(fcIdle) + ' MiB', times(jsIdle && fcIdle / jsIdle), '≤ 16 MiB', fcIdle === undefined ? undefined : fcIdle <= 16)
  }
}
if (limit) {
  add('limit: hash + sign, 1 × 4 KiB (appends/s)', '', num(limit.ops_per_sec), num(limit.single_us) + ' µs each')
  add(`limit: hash + sign, ${limit.batch} × 4 KiB (blocks/s)`, '', num(limit.batch_blocks_per_sec), num(limit.batch_us) + ' µs per batch')
}
if (sync) add('fdatasync of 4 KiB (median, per s)', '', num(sync.ops_per_sec), num(sync.median_us / 1000) + ' ms each')

// Peak memory of every measurement both sides ran.
const memory = []
const seen = new Set()
for (const r of data) {
  if (r.impl !== 'js') continue
  const key = r.workload + '/' + r.block
  if (seen.has(key)) continue
  seen.add(key)
  const js = median(find('js', r.workload, r.block).map((x) => x.peak_rss_mb))
  const fc = median(find('ferrocore', r.workload, r.block).map((x) => x.peak_rss_mb))
  const label = `peak RSS ${r.workload} ${size(r.block)}, MiB` + (r.workload === 'open' ? ' (median)' : '')
  memory.push([label, num(js), num(fc), times(fc / js), '', '—'])
}

// Same work on both sides: equal tree hashes, read checksums and lengths (every pair of
// JS and ferrocore rows of the same workload, block size and ops).
const checked = new Map()
const mismatches = []
for (const [workload, field] of [['append-single', 'tree_hash'], ['append-batch', 'tree_hash'], ['get-random', 'checksum'], ['open', 'length']]) {
  for (const js of data.filter((r) => r.impl === 'js' && r.workload === workload)) {
    for (const fc of find('ferrocore', workload, js.block)) {
      if (fc.ops !== js.ops) continue
      const what = `${field} of ${workload} ${size(js.block)}`
      checked.set(what, (checked.get(what) || 0) + 1)
      if (fc[field] !== js[field]) mismatches.push(`${what}: js ${js[field]}, ferrocore ${fc[field]}`)
    }
  }
}
const baseline = ['js', 'ferrocore'].map((impl) => median(find(impl, 'open', 64).map((r) => r.rss_before_mb)))

// Output.
const header = ['workload', 'JS ops/s', 'ferrocore ops/s', 'ratio (ferrocore/JS)', 'target', 'verdict']
const all = [header, ...table, ...memory]
const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)))
const line = (r) => '| ' + r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ') + ' |'
const rule = '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|'

console.log('## ferrocore log vs JS hypercore, side by side' + (meta.quick ? ' (--quick: fewer ops, not for the record)' : ''))
console.log('')
console.log(`machine: ${meta.nproc} cores, ${meta.cpu}; ${meta.node}, ${meta.rustc}`)
console.log(`load average (1/5/15 min): ${meta.loadavg_start} at the start, ${meta.loadavg_end} at the end (other processes share the cores)`)
console.log(`versions: hypercore ${meta.hypercore} (hypercore-storage ${meta.hypercore_storage}, rocksdb-native ${meta.rocksdb_native}); ferrocore ${meta.git_rev}`)
console.log('ferrocore: Log over ferrocore-storage (redb), verify_on_open = false (except the row marked default); non-durable = Durability::Eventual,')
console.log('  its timing includes one final store.flush(); durable = Durability::Immediate (one WAL record + fdatasync per commit).')
console.log('JS: hypercore defaults; hypercore 11 has no durable append (RocksDB writes without sync), so durable')
console.log('  ferrocore rows give median commit time / median fdatasync of 4 KiB (probed in the same process,')
console.log('  50 before and 50 after the timed loop); the fdatasync row below is a separate run of 500.')
console.log('Each number is one fresh process; each timed append run follows an untimed warm-up run of the same')
console.log('  implementation and size, whose files are deleted first; ratio = ferrocore/JS throughput unless stated.')
console.log('')
console.log(line(header))
console.log(rule)
for (const r of table) console.log(line(r))
for (const r of memory) console.log(line(r))
console.log('')
if (baseline[0] !== undefined) {
  console.log(`peak RSS is the whole process: before opening a log, JS (node + hypercore loaded) holds ${num(baseline[0])} MiB, ferrocore ${num(baseline[1])} MiB.`)
}
{
  const fc = find('ferrocore', 'open', 64)
  if (fc.length) {
    const part = (f) => num(median(fc.map((r) => r[f]))) + ' ms'
    console.log(`ferrocore open, medians: Store::open ${part('store_open_ms')} + Log::open ${part('log_open_ms')}.`)
  }
}
{
  // The untimed warm-up runs that precede every timed append run (see scripts/bench-log).
  const setupFile = path.join(path.dirname(file), 'setup.jsonl')
  const warm = fs.existsSync(setupFile)
    ? fs.readFileSync(setupFile, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
        .filter((r) => r.workload === 'append-batch' && r.block === 4096 && !r.durable)
    : []
  const w = (impl) => warm.find((r) => r.impl === impl)?.ops_per_sec
  if (warm.length) {
    console.log(`untimed warm-up before the timed run, append 100 × 4 KiB: JS ${num(w('js'))}, ferrocore ${num(w('ferrocore'))} blocks/s` +
      ' (the first fill of page-cache pages no process used lately; see bench/README.md).')
  }
}
if (checked.size) {
  console.log(`same work on both sides: ${mismatches.length ? 'NOT ALWAYS' : 'equal'} ${[...checked.keys()].join(', ')}.`)
}
const misses = table.filter((r) => r[5] === 'MISS').length
const hits = table.filter((r) => r[5] === 'ok').length
console.log(`targets: ${hits} ok, ${misses} MISS`)
if (mismatches.length) {
  for (const m of mismatches) console.log('MISMATCH ' + m)
  console.log('MISMATCH: the two sides did not do the same work; the figures above are not comparable.')
  process.exit(1)
}
