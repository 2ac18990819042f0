// The comparisons of scripts/bench-drive (rows: the schema in the header of
// tests/js/bench-drive.mjs), shared by its own table (drive-report.mjs) and the summary of
// scripts/bench (summary.mjs): each phase's rate, ferrocore against JS, with issue 29's
// target, and the checks that both sides did the same work.

import { compare } from './compare.mjs'
import { verdict } from './udx-compare.mjs'

const count = (n) => (n ?? 0).toLocaleString('en-US')
const mib = (b) => ((b ?? 0) / 1048576).toFixed(1) + ' MiB'

// [phase, target (times JS), unit, value of a row, workload text of a row]
const PHASES = [
  ['import', 5, 'MB/s', (r) => r.mb_per_s, (r) => `import a folder of ${count(r.ops)} files (${mib(r.bytes)}) into a fresh drive (folder → drive mirror), MB/s`],
  ['export', 5, 'MB/s', (r) => r.mb_per_s, (r) => `export the drive (${count(r.ops)} files, ${mib(r.bytes)}) to a fresh folder (drive → folder mirror), MB/s`],
  ['clone', 5, 'MB/s', (r) => r.mb_per_s, (r) => `clone the drive whole over loopback TCP (${count(r.ops)} blocks, ${mib(r.bytes)}, both cores), MB/s`],
  ['list', 10, '/s', (r) => r.ops_per_s, (r) => `list a ${count(r.count)}-entry drive recursively (reopened), entries per second`],
  ['reads', undefined, '/s', (r) => r.ops_per_s, (r) => `${count(r.ops)} random 64 KiB ranges of the ${count(r.large)} files ≥ 1 MiB, reads per second`]
]

const JS_RUNS = 'hyperdrive 13.3.4 on corestore 7.12.5 (RocksDB on disk, no sync), localdrive 2.2.1 + mirror-drive 1.14.2; fresh process'
const FC_RUNS = 'ferrocore drive (blocking adapter) on ferrocore-storage on disk (Logged, no sync), ferrocore-mirror LocalDrive + Mirror; fresh process'
// import and clone write as `ferrocore drive import` and `ferrocore clone` do.
const FC_BULK = 'ferrocore drive (blocking adapter) on ferrocore-storage on disk as `ferrocore drive import` / `clone` write: Eventual (group commit: a process kill while it runs loses pending batches, weaker than JS) and one fsync at the end, timed (durable when done, stronger than JS), ferrocore-mirror LocalDrive + Mirror; fresh process'

export function driveComparisons(rows) {
  const of = (impl, phase) => rows.filter((r) => r.bench === 'drive' && r.impl === impl && r.phase === phase)
  const out = []
  for (const [phase, target, unit, value, what] of PHASES) {
    const js = of('js', phase)
    const fc = of('ferrocore', phase)
    if (!js.length && !fc.length) continue
    const both = phase === 'clone' ? '; server and client stores in one process (CPU counts both)' : ''
    const fcRuns = phase === 'import' || phase === 'clone' ? FC_BULK : FC_RUNS
    const c = compare('drive/' + phase, 'drive', what(js[0] || fc[0]), JS_RUNS + both + (phase === 'clone' ? ', one JS thread' : ''), fcRuns + both, unit, js, fc, value, 'higher')
    c.target = target
    c.phase = phase
    c.rows = { js, fc }
    out.push(c)
  }
  return out
}

export const driveTarget = (c) => (c.target === undefined ? '—' : verdict(c))

// Every run passed its own check; in each phase both sides (every round) wrote and read
// cores of the same lengths and bytes, and the reads read the same bytes (digest).
export function driveChecks(rows) {
  const data = rows.filter((r) => r.bench === 'drive' && r.phase !== 'make-folder')
  const problems = []
  for (const r of data) if (r.ok !== true) problems.push(`drive: ${r.impl} ${r.phase} round ${r.round ?? 1}: its check failed`)
  for (const [phase] of PHASES) {
    for (const field of ['count', 'ops', 'bytes', 'length', 'blobs_length', 'blobs_bytes', 'digest']) {
      if (phase === 'clone' && field === 'ops') continue // blocks downloaded: the cores' lengths, checked as length and blobs_length
      const seen = [...new Set(data.filter((r) => r.phase === phase && r[field] !== undefined).map((r) => r[field]))]
      if (seen.length > 1) problems.push(`drive ${phase}: different ${field}: ${seen.join(' ')}`)
    }
  }
  const imports = [...new Set(data.filter((r) => r.phase === 'import').map((r) => r.impl))]
  const digests = data.filter((r) => r.phase === 'reads' && r.digest !== undefined)
  return { problems, checked: data.length, sides: imports.length, digests: digests.length }
}
