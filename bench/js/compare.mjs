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
export function compare(key, area, what, jsRuns, fcRuns, unit, jsRows, fcRows, value, better = 'higher') {
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

// ---------------------------------------------------------------- replication (bench-replicate)

const CHECKED = 'content checked after (untimed)'

// Downloads, each with the CPU both peers spent per block in a row of its own.
export function replicationComparisons(rows) {
  // UDX rows (scripts/bench-udx) compare with TCP in udx-compare.mjs, not here.
  const dl = (pred) => rows.filter((r) => r.bench === 'replicate-download' && r.transport !== 'udx' && pred(r))
  const pair = (p, processes, extra = () => true) => dl((r) => r.pair === p && r.processes === processes && extra(r))
  const transport = (t) => (r) => r.transport === t
  const durability = (d) => (r) => r.reader_durability === d
  const js1 = pair('js->js', 1, transport('direct'))
  const js1pipe = pair('js->js', 1, transport('pipe'))
  const js2 = pair('js->js', 2)
  const blocks = (rows.find((r) => r.bench === 'replicate-download') || {}).blocks || 0
  const n = `${blocks.toLocaleString('en-US')} × 4 KiB`
  const js1Runs = (t) => `1 process, both peers on its one JS thread (its best case; RocksDB on the libuv pool); ${t} stream; RocksDB WAL, no sync; ${CHECKED}`
  const fc1Runs = (d) => `1 process, a driver thread per peer (+ socket writer threads); ${d} both peers; ${CHECKED}`
  const js2Runs = `JS→JS, 2 processes (one per peer); direct stream; RocksDB WAL, no sync; ${CHECKED}`
  const specs = [
    ['1p', `download ${n} over loopback TCP, ferrocore→ferrocore vs JS→JS, equal durability`, js1Runs('direct'), fc1Runs('Logged'), js1, pair('ferrocore->ferrocore', 1, durability('logged'))],
    ['1p-pipe', `the same against the JS pipe transport (hypercore's tests)`, js1Runs('pipe'), fc1Runs('Logged'), js1pipe, pair('ferrocore->ferrocore', 1, durability('logged'))],
    ['1p-eventual', `the same, ferrocore group commit (weaker)`, js1Runs('direct'), fc1Runs('Eventual (lost on a process kill; background commit threads)'), js1, pair('ferrocore->ferrocore', 1, durability('eventual'))],
    ['2p', `download ${n}, ferrocore→ferrocore vs JS→JS, one process per peer`, js2Runs, `2 processes (one per peer); Logged both peers; ${CHECKED}`, js2, pair('ferrocore->ferrocore', 2)],
    ['js->ferrocore', `download ${n}, JS→ferrocore vs JS→JS`, js2Runs, `JS writer (direct stream, RocksDB) → ferrocore reader (Logged), 2 processes; ${CHECKED}`, js2, pair('js->ferrocore', 2)],
    ['ferrocore->js', `download ${n}, ferrocore→JS vs JS→JS`, js2Runs, `ferrocore writer (Logged) → JS reader (direct stream, RocksDB), 2 processes; ${CHECKED}`, js2, pair('ferrocore->js', 2)]
  ]
  const out = []
  for (const [key, what, jsRuns, fcRuns, js, fc] of specs) {
    if (!js.length && !fc.length) continue
    out.push(compare(`download/${key}`, 'replication', what, jsRuns, fcRuns, 'MB/s', js, fc, (r) => r.mb_per_s))
    out.push(compare(`cpu/${key}`, 'replication', '↳ CPU per replicated block, both peers (µs, user + system)', '', '', 'µs', js, fc, cpuPerBlock, 'lower'))
  }
  const lat = (p) => rows.filter((r) => r.bench === 'replicate-latency' && r.pair === p)
  if (lat('js->js').length || lat('ferrocore->ferrocore').length) {
    out.push(compare('latency', 'replication', 'live latency, append to the reader\'s event (median of each round\'s median)',
      '1 process, one JS thread; direct stream; the append awaits its RocksDB WAL write', '1 process, a driver thread per peer; Logged (the append returns after its WAL write); TCP',
      'ms', lat('js->js'), lat('ferrocore->ferrocore'), (r) => r.median_ms, 'lower'))
  }
  const idle = (impl) => rows.filter((r) => r.bench === 'idle-connection-memory' && r.impl === impl)
  if (idle('js').length || idle('ferrocore').length) {
    out.push(compare('idle', 'replication', 'memory per idle connection, both ends counted (KiB)',
      'V8 heap + external buffers after a full GC, writer and reader core in one process', 'heap bytes allocated, writer and reader endpoint in one process',
      'KiB', idle('js'), idle('ferrocore'), (r) => r.heap_bytes_per_connection / 1024, 'lower'))
  }
  return out
}

// Both peers' CPU per block: measured in one process, or the reader's own plus the
// writer process's (read from /proc by the script).
export function cpuPerBlock(r) {
  if (r.cpu_us_per_block !== undefined) return r.cpu_us_per_block
  if (r.reader_cpu_us_per_block !== undefined && r.writer_cpu_us_per_block !== undefined) return r.reader_cpu_us_per_block + r.writer_cpu_us_per_block
  return undefined
}

// Every download read back all its blocks, and every reader holds the same content and tree
// as every other (both writers are built from the same formula and key pair).
export function replicationChecks(rows) {
  const problems = []
  const downloads = rows.filter((r) => r.bench === 'replicate-download' || r.bench === 'replicate-engine')
  const built = rows.filter((r) => r.event === 'built')
  const digestOf = (r) => r.digest || r.content_digest
  const digest = digestOf(built[0] || downloads[0] || {})
  const tree = downloads.find((d) => d.tree_hash)?.tree_hash
  for (const r of [...built, ...downloads]) {
    const what = [r.event || r.bench, r.impl, r.pair, r.processes && r.processes + ' process(es)', r.transport, r.reader_durability, 'round ' + (r.round ?? 1)].filter(Boolean).join(' ')
    if (digestOf(r) !== digest) problems.push(`${what}: content digest ${digestOf(r)}, not ${digest}`)
    if (r.bench && r.verified_blocks !== r.blocks) problems.push(`${what}: ${r.verified_blocks} of ${r.blocks} blocks read back`)
    if (r.tree_hash !== undefined && r.tree_hash !== tree) problems.push(`${what}: tree hash ${r.tree_hash}, not ${tree}`)
  }
  if (built.length && built.some((b) => b.key !== built[0].key)) problems.push('the JS and ferrocore writers have different keys')
  return { checked: downloads.length, problems }
}

// ---------------------------------------------------------------- stores (bench-store)

// Many named cores in one store (scripts/bench-store; rows: tests/js/bench-store.mjs's
// schema): (a) create, (b) reopen and open all by name, (c) replicate a whole store over
// one connection; the time of each, and the memory per open idle core.
export function storeComparisons(rows) {
  const of = (impl, phase) => rows.filter((r) => r.bench === 'store' && r.impl === impl && r.phase === phase)
  const first = (phase) => of('js', phase)[0] || of('ferrocore', phase)[0] || {}
  const count = (n) => (n ?? 0).toLocaleString('en-US')
  const conc = (phase) => (of('js', phase)[0] || {}).concurrency ?? '?'
  const jsRuns = (phase) => `corestore 7.12.5, one RocksDB (WAL write per batch, no sync); ${conc(phase)} cores at a time; fresh process`
  const fcRuns = 'ferrocore-store (one database), Durability::Logged (WAL write per batch, no sync); blocking node, one core at a time; fresh process'
  const c = first('create')
  const o = first('open')
  const r = first('replicate')
  const specs = [
    ['store/create', `create ${count(c.cores)} named cores, one ${c.block_size} B block each, timed to the close`, jsRuns('create'), fcRuns, 'create', (x) => x.wall_s, 's'],
    ['store/open', `reopen that store, open all ${count(o.cores)} cores by name`, jsRuns('open'), fcRuns, 'open', (x) => x.wall_s, 's'],
    ['store/idle', '↳ memory per open idle core (RSS difference after a GC)', '', '', 'open', (x) => x.rss_per_core_bytes / 1024, 'KiB'],
    ['store/replicate', `replicate ${count(r.cores)} cores × ${r.blocks_per_core} blocks of ${r.block_size} B, store to store over one TCP connection`,
      'JS→JS in 1 process, one JS thread; Noise stream; the writer opens cores on demand; ' + CHECKED,
      'ferrocore→ferrocore in 1 process, a driver thread per store; Logged; the writer opens cores on demand; ' + CHECKED, 'replicate', (x) => x.wall_s, 's']
  ]
  const out = []
  for (const [key, what, js, fc, phase, value, unit] of specs) {
    if (!of('js', phase).length && !of('ferrocore', phase).length) continue
    out.push(compare(key, 'store', what, js, fc, unit, of('js', phase), of('ferrocore', phase), value, 'lower'))
  }
  return out
}

// Every store run passed its own check; both sides derived the same keys and moved the
// same content.
export function storeChecks(rows) {
  const data = rows.filter((r) => r.bench === 'store')
  const problems = []
  for (const r of data) if (r.ok !== true) problems.push(`store: ${r.impl} ${r.phase} round ${r.round ?? 1}: its check failed`)
  const distinct = (phases, field) => [...new Set(data.filter((r) => phases.includes(r.phase) && r[field] !== undefined).map((r) => r[field]))]
  if (distinct(['create', 'open'], 'keys_sha256').length > 1) problems.push('store: the two sides derived different keys')
  if (distinct(['build', 'replicate'], 'content_sha256').length > 1) problems.push('store: different replicated content')
  return { problems, checked: data.length }
}
