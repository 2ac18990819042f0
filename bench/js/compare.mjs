// Every ferrocore-vs-JS comparison the benchmark reports, defined once: which raw rows of
// each side it compares, under which conditions each side ran (in words, for the tables),
// the figure and which way is better. report.mjs, transport-report.mjs and
// replicate-report.mjs print all of them for their part; summary.mjs prints the headline
// subset. Also the checks that both sides did the same work (a mismatch fails the run).

import { paired } from './stats.mjs'

export const size = (b) => (b >= 1024 ? b / 1024 + ' KiB' : b + ' B')

// What each durability guarantees, as the rows name it (`durability` fields), and where
// the writes run.
export const DURABILITY = {
  'rocksdb-wal': 'RocksDB WAL write per append, no sync (survives a process kill, not a power loss); one JS thread, RocksDB on the libuv pool',
  logged: 'Logged: WAL write per batch, no sync (survives a process kill, not a power loss); written on the calling thread',
  eventual: 'Eventual: group commit held in memory (lost on a process kill), committed by a background thread; timing ends with one flush',
  immediate: 'Immediate: WAL record + fdatasync per commit (survives a power loss); written on the calling thread'
}

// One comparison: the key, its area and workload, each side's conditions, the unit, and
// `p` = paired(...) (stats.mjs), whose ratio is ferrocore's advantage (>1: ferrocore better).
function compare(key, area, what, jsRuns, fcRuns, unit, jsRows, fcRows, value, better = 'higher') {
  return { key, area, what, jsRuns, fcRuns, unit, better, p: paired(jsRows, fcRows, value, better) }
}

// ---------------------------------------------------------------- the log (bench-log)

export const LOG_SIZES = [64, 1024, 4096]

export function logComparisons(rows) {
  const of = (impl, workload, block, pred = () => true) =>
    rows.filter((r) => r.impl === impl && r.workload === workload && r.block === block && pred(r))
  const out = []
  const appends = [
    ['append-single', (b) => `append 1 × ${size(b)}`],
    ['append-batch', (b) => `append 100 × ${size(b)} (blocks/s)`]
  ]
  for (const [workload, label] of appends) {
    for (const b of LOG_SIZES) {
      for (const d of ['logged', 'eventual']) {
        const js = of('js', workload, b)
        const fc = of('ferrocore', workload, b, (r) => r.durability === d)
        if (!js.length && !fc.length) continue
        const what = label(b) + (d === 'logged' ? ', equal durability' : ', ferrocore group commit (weaker)')
        out.push(compare(`${workload}/${b}/${d}`, 'log', what, DURABILITY['rocksdb-wal'], DURABILITY[d], '/s', js, fc, (r) => r.ops_per_sec))
      }
    }
  }
  const gets = [of('js', 'get-random', 4096), of('ferrocore', 'get-random', 4096)]
  if (gets[0].length || gets[1].length) {
    const length = (gets[1][0] || gets[0][0]).length
    out.push(compare('get-random', 'log', `get a random 4 KiB block of ${length.toLocaleString('en-US')}`,
      'hypercore defaults; reopened (untimed) in a fresh process', `${optionsText(gets[1])}; reopened (untimed) in a fresh process`,
      '/s', ...gets, (r) => r.ops_per_sec))
  }
  const jsOpen = of('js', 'open', 64)
  const variants = [
    ['default', (r) => r.default_options],
    ['fast', (r) => !r.default_options && r.verify_on_open === false]
  ]
  for (const [name, pred] of variants) {
    const fc = of('ferrocore', 'open', 64, pred)
    if (!jsOpen.length && !fc.length) continue
    const length = (fc[0] || jsOpen[0]).length.toLocaleString('en-US')
    const runs = optionsText(fc) + ' (until the length is known, fresh process)'
    out.push(compare(`open/${name}`, 'log', `open a ${length}-block log (64 B blocks)`, 'hypercore defaults (fresh process)', runs, 'ms', jsOpen, fc, (r) => r.ms, 'lower'))
    out.push(compare(`open-idle/${name}`, 'log', 'memory the open log holds (RSS after − before)', 'hypercore defaults', optionsText(fc), 'MiB', jsOpen, fc, (r) => r.idle_mb, 'lower'))
  }
  return out
}

// How ferrocore's store was opened, from the rows' own metadata (B7: never assumed).
function optionsText(fcRows) {
  const r = fcRows[0]
  if (!r) return '—'
  return r.default_options === false
    ? `verify_on_open: ${r.verify_on_open} (not the default)`
    : `StoreOptions::default() (verify_on_open: ${r.verify_on_open})`
}

// Both sides did the same work: equal tree hashes (appends), read checksums and lengths.
export function logChecks(rows) {
  const problems = []
  const checked = new Set()
  for (const [workload, field] of [['append-single', 'tree_hash'], ['append-batch', 'tree_hash'], ['get-random', 'checksum'], ['open', 'length']]) {
    for (const js of rows.filter((r) => r.impl === 'js' && r.workload === workload)) {
      for (const fc of rows.filter((r) => r.impl === 'ferrocore' && r.workload === workload && r.block === js.block && r.ops === js.ops)) {
        checked.add(`${field} of ${workload} ${size(js.block)}`)
        if (fc[field] !== js[field]) problems.push(`${field} of ${workload} ${size(js.block)}: js ${js[field]} (round ${js.round}), ferrocore ${fc.durability} ${fc[field]} (round ${fc.round})`)
      }
    }
  }
  return { checked: [...checked], problems }
}

// ---------------------------------------------------------------- the transport (bench-transport)

export function transportComparisons(rows) {
  const of = (impl, workload, message) =>
    rows.filter((r) => r.impl === impl && r.workload === workload && (message === undefined || r.message === message))
  const out = []
  const one = 'both ends on one thread (its in-memory pipe)'
  const cannot = 'both ends on one thread (the JS stack runs its pipe on one thread)'
  for (const m of [4096, 65536]) {
    for (const [kind, jsW, fcW1, fcW2] of [
      ['protomux messages', 'throughput-mux', 'throughput-mux', 'throughput-mux-threads'],
      ['records', 'throughput', 'throughput', 'throughput-threads']
    ]) {
      const js = of('js', jsW, m)
      out.push(compare(`${jsW}/${m}/1`, 'transport', `${size(m)} ${kind}, encrypted, one thread each`, one, 'both ends on one thread', 'MB/s', js, of('ferrocore', fcW1, m), (r) => r.mb_per_sec))
      out.push(compare(`${jsW}/${m}/2`, 'transport', `${size(m)} ${kind}, encrypted, ferrocore on two threads`, cannot, 'one thread per end (a bounded queue between)', 'MB/s', js, of('ferrocore', fcW2, m), (r) => r.mb_per_sec))
    }
  }
  out.push(compare('handshake', 'transport', 'Noise XX handshakes (both header records sent)', 'one thread', 'one thread', '/s', of('js', 'handshake'), of('ferrocore', 'handshake'), (r) => r.per_sec))
  out.push(compare('handshake-roundtrip', 'transport', 'handshakes + one record each way', 'one thread', 'one thread', '/s', of('js', 'handshake-roundtrip'), of('ferrocore', 'handshake-roundtrip'), (r) => r.per_sec))
  return out.filter((c) => c.p.js !== undefined || c.p.fc !== undefined)
}

