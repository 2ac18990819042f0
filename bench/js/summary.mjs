// One table of ferrocore vs JS from the raw rows of the side-by-side benchmarks
// (scripts/bench-log, scripts/bench-transport, scripts/bench-replicate, scripts/bench-store,
// scripts/bench-udx; in the UDX rows against TCP the "JS" column is the TCP row;
// scripts/bench-swarm; scripts/bench-bee; scripts/bench-drive).
// Run by scripts/bench.
//
//   node bench/js/summary.mjs target/bench-log/results.jsonl \
//        target/bench-transport/results.jsonl target/bench-replicate/results.jsonl \
//        target/bench-store/results.jsonl target/bench-udx/results.jsonl \
//        target/bench-swarm/results.jsonl target/bench-bee/results.jsonl \
//        target/bench-drive/results.jsonl
//
// Every row says what each side ran under (durability, threads and processes, transport,
// store options, verification), so no caveat lives outside the table. "ratio" is always how
// many times better ferrocore is (ferrocore/JS for rates, JS/ferrocore for times, CPU and
// memory): the median of the per-round ratios (each round ran both sides, alternating which
// ran first), their range, and the ratio of the two medians beside it. A file that is
// missing (its benchmark did not run) leaves its rows out. Exits 1 if the two sides did not
// do the same work (tree hashes, read checksums, downloaded content).

import { load, num, ratioCell, times, table, failIf } from './stats.mjs'
import { udxComparisons, verdict } from './udx-compare.mjs'
import { swarmComparisons, missingText } from './swarm-compare.mjs'
import { beeComparisons, beeChecks, beeTarget } from './bee-compare.mjs'
import { driveComparisons, driveChecks, driveTarget } from './drive-compare.mjs'
import { logComparisons, logChecks, transportComparisons, replicationComparisons, replicationChecks, storeComparisons, storeChecks } from './compare.mjs'

const [logRows, transportRows, replicateRows, storeRows, udxRows, swarmRows, beeRows, driveRows] = process.argv.slice(2, 10).map(load)
const data = (rows) => rows.filter((r) => r.impl !== 'meta')
const meta = (rows) => Object.assign({}, ...rows.filter((r) => r.impl === 'meta').reverse())

// The headline rows, in order (the parts' own tables print every comparison).
const LOG = ['append-single/4096/logged', 'append-single/4096/eventual', 'append-batch/4096/logged', 'append-batch/4096/eventual',
  'get-random', 'open/default', 'open-idle/default', 'open/fast', 'open-idle/fast']
const TRANSPORT = ['throughput-mux/4096/1', 'throughput-mux/4096/2', 'handshake']
const pick = (comparisons, keys) => keys.map((k) => comparisons.find((c) => c.key === k)).filter(Boolean)

const chosen = [
  ...pick(logComparisons(data(logRows)), LOG),
  ...pick(transportComparisons(data(transportRows)), TRANSPORT),
  ...replicationComparisons(data(replicateRows)),
  ...storeComparisons(data(storeRows)),
  // The UDX rows carry issue 26's target in their workload cell.
  ...udxComparisons(data(udxRows)).filter((c) => !c.detail).map((c) => (c.target === undefined ? c : { ...c, what: `${c.what}; target ${verdict(c)}` })),
  // The swarm rows: targets as the UDX ones; a side without a figure says why.
  ...swarmComparisons(data(swarmRows)).map((c) => ({
    ...c,
    what: c.what + (c.target === undefined ? '' : `; target ${verdict(c)}`) + (c.missing ? ` (NOT AVAILABLE: ${missingText(c)})` : '')
  })),
  // The bee rows: issue 28's targets in the workload cell.
  ...beeComparisons(data(beeRows)).map((c) => (c.target === undefined ? c : { ...c, what: `${c.what}; target ${beeTarget(c)}` })),
  // The drive rows: issue 29's targets in the workload cell.
  ...driveComparisons(data(driveRows)).map((c) => (c.target === undefined ? c : { ...c, what: `${c.what}; target ${driveTarget(c)}` }))
]
if (!chosen.length) {
  console.error('no results found; run scripts/bench')
  process.exit(1)
}
const out = chosen.map((c, i) => [
  String(i + 1),
  c.area,
  c.what,
  c.jsRuns || 'as above',
  c.fcRuns || 'as above',
  num(c.p.js, c.unit),
  num(c.p.fc, c.unit),
  ratioCell(c.p),
  times(c.p.ratioOfMedians),
  String(c.p.rounds)
])

const m = meta(logRows.length ? logRows : replicateRows)
const quick = [logRows, transportRows, replicateRows, storeRows, udxRows, swarmRows, beeRows, driveRows].some((rows) => meta(rows).quick)
console.log('\n## ferrocore vs JS (hypercore 11.37.1 stack): one table, every row with its conditions' + (quick ? ' (--quick: not for the record)' : '') + '\n')
if (m.nproc) console.log(`machine: ${m.nproc} cores, ${m.cpu}; ${m.node}, ${m.rustc}; ferrocore ${m.git_rev}`)
for (const [name, rows] of [['log', logRows], ['transport', transportRows], ['replication', replicateRows], ['store', storeRows], ['udx', udxRows], ['swarm', swarmRows], ['bee', beeRows], ['drive', driveRows]]) {
  const mm = meta(rows)
  if (mm.loadavg_start) console.log(`${name}: ${mm.rounds} round(s); load average ${mm.loadavg_start} at the start, ${mm.loadavg_end} at the end`)
}
console.log('ratio: >1 means ferrocore is better (rates ferrocore/JS; times, CPU and memory JS/ferrocore); the median of the per-round')
console.log('ratios [their range], JS first in odd rounds and ferrocore first in even ones; "of medians" = the ratio of the two medians.\n')
console.log(table(['#', 'area', 'workload', 'JS runs as', 'ferrocore runs as', 'JS', 'ferrocore', 'ratio: median of rounds [range]', 'of medians', 'rounds'], out, 5))

const problems = []
const log = logChecks(data(logRows))
const replication = replicationChecks(data(replicateRows))
const store = storeChecks(data(storeRows))
const bee = beeChecks(data(beeRows))
const drive = driveChecks(data(driveRows))
problems.push(...log.problems, ...replication.problems, ...store.problems, ...bee.problems, ...drive.problems)
console.log('')
if (log.checked.length) console.log(`same work, log: ${log.problems.length ? 'NOT ALWAYS' : 'equal'} ${log.checked.join(', ')}.`)
if (replication.checked) console.log(`same work, replication: ${replication.checked} downloads read back block by block, ${replication.problems.length ? 'NOT ALL' : 'all'} with the writers' content digest and tree hash.`)
if (store.checked) console.log(`same work, store: ${store.problems.length ? 'NOT ALWAYS' : 'the same'} keys (create, open) and content (replicate) on both sides, every run checked.`)
if (bee.checked) console.log(`same work, bee: ${bee.problems.length ? 'NOT ALWAYS' : 'the same'} core lengths and bytes read on both sides, every run checked.`)
if (drive.checked) console.log(`same work, drive: ${drive.problems.length ? 'NOT ALWAYS' : 'the same'} core lengths and bytes on both sides and the same SHA-256 of the bytes read, every run checked.`)
failIf(problems, 'the two sides did not do the same work')
