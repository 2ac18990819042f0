// Prints the table of scripts/bench-log from its results.jsonl: every comparison of
// compare.mjs's logComparisons (JS and ferrocore medians, the median of the per-round
// ratios with their range, the ratio of medians, the lead's target and a verdict), the
// durable rows against fdatasync, the CPU limits, peak memory, and whether both sides did
// the same work (tree hashes, read checksums, lengths). Exits 1 on a mismatch.
//
//   node bench/js/report.mjs target/bench-log/results.jsonl

import path from 'path'
import { load, median, num, paired, ratioCell, times, table, failIf } from './stats.mjs'
import { DURABILITY, LOG_SIZES, logComparisons, logChecks, size } from './compare.mjs'

const file = process.argv[2]
if (!file) {
  console.error('usage: node report.mjs results.jsonl')
  process.exit(2)
}
const rows = load(file)
const meta = Object.assign({}, ...rows.filter((r) => r.impl === 'meta'))
const data = rows.filter((r) => r.impl !== 'meta')

// The lead's targets, on the like-for-like rows (equal durability; the default open).
const TARGETS = {
  'append-single/4096/logged': ['≥ 8× JS', (p) => p.ratio >= 8],
  'append-batch/4096/logged': ['≥ 3.5× JS', (p) => p.ratio >= 3.5],
  'get-random': ['≥ 10× JS', (p) => p.ratio >= 10],
  'open/default': ['≤ 10 ms', (p) => p.fc <= 10],
  'open-idle/default': ['≤ 16 MiB', (p) => p.fc <= 16]
}
const verdict = (c) => {
  const t = TARGETS[c.key]
  if (!t || c.p.fc === undefined) return ['', '—']
  return [t[0], t[1](c.p) ? 'ok' : 'MISS']
}

const out = []
const row = (what, fcRuns, js, fc, ratio, ofMedians, rounds, target = '', v = '—') => out.push([what, fcRuns, js, fc, ratio, ofMedians, rounds, target, v])
for (const c of logComparisons(data)) {
  const [target, v] = verdict(c)
  row(c.what, c.fcRuns, num(c.p.js, c.unit), num(c.p.fc, c.unit), ratioCell(c.p), times(c.p.ratioOfMedians), c.p.rounds, target, v)
}

// Durable rows (ferrocore only; hypercore 11 has no durable append): the median commit time
// over the median fdatasync of 4 KiB probed in the same process around the timed loop.
const of = (impl, workload, block, pred = () => true) =>
  data.filter((r) => r.impl === impl && r.workload === workload && r.block === block && pred(r))
for (const [workload, label] of [['append-single', 'append 1'], ['append-batch', 'append 100']]) {
  for (const b of LOG_SIZES) {
    const fc = of('ferrocore', workload, b, (r) => r.durability === 'immediate')
    if (!fc.length) continue
    const commit = median(fc.map((r) => r.commit_median_us / 1000))
    const sync = median(fc.map((r) => r.fdatasync_median_us / 1000))
    const ratios = fc.map((r) => r.commit_median_us / r.fdatasync_median_us)
    const target = workload === 'append-single' && b === 4096 ? '≤ 1.5× fdatasync' : ''
    const ratio = median(ratios)
    row(`${label} × ${size(b)}, durable: commit / fdatasync`, DURABILITY.immediate, 'no durable mode',
      `${num(median(fc.map((r) => r.ops_per_sec)), '/s')}; ${num(commit, 'ms')} per commit`,
      `${times(ratio)} of fdatasync (${num(sync, 'ms')})`, '', fc.length, target, target ? (ratio <= 1.5 ? 'ok' : 'MISS') : '—')
  }
}

const limit = data.find((r) => r.workload === 'limit')
const batch = logComparisons(data).find((c) => c.key === 'append-batch/4096/logged')
if (limit && batch?.p.fc !== undefined) {
  const share = batch.p.fc / limit.batch_blocks_per_sec
  row('append 100 × 4 KiB, equal durability, vs the hash + sign limit', DURABILITY.logged, '', num(batch.p.fc, '/s'),
    `${(share * 100).toFixed(0)}% of ${num(limit.batch_blocks_per_sec, '/s')}`, '', '', '≥ 55% of the limit', share >= 0.55 ? 'ok' : 'MISS')
}
if (limit) {
  row('limit: hash + sign, 1 × 4 KiB (appends/s)', 'no storage', '', num(limit.ops_per_sec, '/s'), num(limit.single_us, 'µs') + ' each', '', '')
  row(`limit: hash + sign, ${limit.batch} × 4 KiB (blocks/s)`, 'no storage', '', num(limit.batch_blocks_per_sec, '/s'), num(limit.batch_us, 'µs') + ' per batch', '', '')
}
const sync = data.find((r) => r.workload === 'fdatasync')
if (sync) row('fdatasync of 4 KiB (median)', 'append to a file + sync_data', '', num(sync.ops_per_sec, '/s'), num(sync.median_us / 1000, 'ms') + ' each', '', '')

// Peak memory of each workload both sides ran (ferrocore: at JS's guarantee, or default options).
for (const workload of ['append-single', 'append-batch', 'get-random', 'open']) {
  for (const b of workload === 'open' ? [64] : workload === 'get-random' ? [4096] : LOG_SIZES) {
    const js = of('js', workload, b)
    const fc = of('ferrocore', workload, b, (r) => (r.durability === 'logged' || workload === 'get-random' || workload === 'open') && r.default_options !== false)
    if (!js.length || !fc.length) continue
    const p = paired(js, fc, (r) => r.peak_rss_mb, 'lower')
    row(`peak RSS, ${workload} ${size(b)} (whole process)`, fc[0].durability === 'logged' ? DURABILITY.logged : 'StoreOptions::default()',
      num(p.js, 'MiB'), num(p.fc, 'MiB'), ratioCell(p), times(p.ratioOfMedians), p.rounds)
  }
}

const checks = logChecks(data)

console.log('## ferrocore log vs JS hypercore, side by side' + (meta.quick ? ' (--quick: fewer ops, not for the record)' : ''))
console.log('')
console.log(`machine: ${meta.nproc} cores, ${meta.cpu}; ${meta.node}, ${meta.rustc}`)
console.log(`load average (1/5/15 min): ${meta.loadavg_start} at the start, ${meta.loadavg_end} at the end (other processes share the cores)`)
console.log(`versions: hypercore ${meta.hypercore} (hypercore-storage ${meta.hypercore_storage}, rocksdb-native ${meta.rocksdb_native}); ferrocore ${meta.git_rev}`)
console.log(`rounds: ${meta.rounds} (open: ${meta.open_rounds}); each round runs both implementations, JS first in odd rounds, ferrocore first in even ones.`)
console.log(`JS always runs hypercore's defaults: ${DURABILITY['rocksdb-wal']}. The ferrocore column says how ferrocore ran.`)
console.log('ratio = how many times better ferrocore is: the median of the per-round ratios [their range]; "of medians" = the ratio of')
console.log('  the two medians. Each number is one fresh process; each timed non-durable append run follows an untimed warm-up run')
console.log('  of the same implementation and size, whose files are deleted first.')
console.log('')
console.log(table(['workload', 'ferrocore runs with', 'JS', 'ferrocore', 'ratio (median of rounds)', 'of medians', 'rounds', 'target', 'verdict'], out, 2))
console.log('')
{
  const baseline = ['js', 'ferrocore'].map((impl) => median(of(impl, 'open', 64).map((r) => r.rss_before_mb)))
  if (baseline[0] !== undefined) {
    console.log(`peak RSS is the whole process: before opening a log, JS (node + hypercore loaded) holds ${num(baseline[0])} MiB, ferrocore ${num(baseline[1])} MiB.`)
  }
  for (const [name, pred] of [['default options', (r) => r.default_options], ['verify_on_open: false', (r) => r.default_options === false]]) {
    const fc = of('ferrocore', 'open', 64, pred)
    if (fc.length) {
      const part = (f) => num(median(fc.map((r) => r[f])), 'ms')
      console.log(`ferrocore open (${name}), medians: Store::open ${part('store_open_ms')} + Log::open ${part('log_open_ms')}; options ${fc[0].store_options}.`)
    }
  }
}
{
  // The untimed warm-up runs that precede every timed append run (see scripts/bench-log).
  const warm = load(path.join(path.dirname(file), 'setup.jsonl')).filter((r) => r.workload === 'append-batch' && r.block === 4096)
  const w = (pred) => median(warm.filter(pred).map((r) => r.ops_per_sec))
  if (warm.length) {
    console.log(`untimed warm-ups before the timed runs, append 100 × 4 KiB (median): JS ${num(w((r) => r.impl === 'js'))}, ferrocore ` +
      `Logged ${num(w((r) => r.durability === 'logged'))}, Eventual ${num(w((r) => r.durability === 'eventual'))} blocks/s` +
      ' (the first fill of page-cache pages no process used lately; see bench/README.md).')
  }
}
if (checks.checked.length) console.log(`same work on both sides: ${checks.problems.length ? 'NOT ALWAYS' : 'equal'} ${checks.checked.join(', ')}.`)
const misses = out.filter((r) => r[8] === 'MISS').length
console.log(`targets: ${out.filter((r) => r[8] === 'ok').length} ok, ${misses} MISS`)
failIf(checks.problems, 'the two sides did not do the same work')
