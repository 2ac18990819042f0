// Prints the table of scripts/bench-transport from its results.jsonl: every comparison of
// compare.mjs's transportComparisons (one thread against one thread, and ferrocore's two
// threads against JS's one), the cipher bound and the targets.
//
//   node bench/js/transport-report.mjs target/bench-transport/results.jsonl

import { load, median, num, ratioCell, times, table } from './stats.mjs'
import { transportComparisons } from './compare.mjs'

const rows = load(process.argv[2])
const meta = Object.assign({}, ...rows.filter((r) => r.impl === 'meta').reverse()) // the first of a key wins
const data = rows.filter((r) => r.impl !== 'meta')

// raw = seal + open of each message on one thread: one direction's cipher speed is twice it.
const bound = (m) => median(data.filter((r) => r.workload === 'cipher-rustcrypto-xchacha20poly1305' && r.message === m).map((r) => r.mb_per_sec * 2))
const TARGETS = {
  'throughput-mux/4096/2': ['≥ 1.5× JS, ≥ 75% of the one-way cipher', (p) => p.ratio >= 1.5 && p.fc >= 0.75 * bound(4096)],
  handshake: ['≥ 2× JS', (p) => p.ratio >= 2]
}

const out = []
for (const c of transportComparisons(data)) {
  const t = TARGETS[c.key]
  const v = t && c.p.ratio !== undefined ? (t[1](c.p) ? 'ok' : 'MISS') : '—'
  out.push([c.what, c.jsRuns, c.fcRuns, num(c.p.js), num(c.p.fc), ratioCell(c.p), times(c.p.ratioOfMedians), c.p.rounds, t ? t[0] : '', v])
}
for (const m of [4096, 65536]) {
  if (bound(m) !== undefined) out.push([`bound: RustCrypto XChaCha20-Poly1305, ${m / 1024} KiB, one direction (MB/s)`, '', 'one thread', '', num(bound(m)), '', '', '', '', '—'])
}

console.log('## ferrocore transport vs JS secret-stream + protomux, side by side' + (meta.quick ? ' (--quick: not for the record)' : ''))
console.log('')
if (meta.packages) console.log(`JS: node ${meta.node}; ${JSON.stringify(meta.packages)}`)
console.log(`In-memory pipe, no TCP. ${meta.rounds} round(s), JS first in odd rounds, ferrocore first in even ones; ratio = the median of the`)
console.log('per-round ratios [their range] (>1: ferrocore better); "of medians" = the ratio of the two medians.')
console.log('')
console.log(table(['workload', 'JS runs', 'ferrocore runs', 'JS', 'ferrocore', 'ratio (median of rounds)', 'of medians', 'rounds', 'target', 'verdict'], out, 3))
console.log('')
console.log(`targets: ${out.filter((r) => r[9] === 'ok').length} ok, ${out.filter((r) => r[9] === 'MISS').length} MISS`)
