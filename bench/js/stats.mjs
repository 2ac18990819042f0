// What the benchmark reports share (report.mjs, transport-report.mjs, replicate-report.mjs,
// summary.mjs): reading results.jsonl, one median definition (the same as
// bench/src/lib.rs), paired per-round ratios, number formats and the markdown table.

import fs from 'fs'

// The rows of a results.jsonl; [] when the file does not exist (that benchmark did not run).
export function load(file) {
  if (!file || !fs.existsSync(file)) return []
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l))
}

const finite = (xs) => xs.filter((x) => typeof x === 'number' && Number.isFinite(x))

// The median: the middle value, or the mean of the two middle values of an even count.
export function median(xs) {
  const s = finite(xs).sort((a, b) => a - b)
  if (s.length === 0) return undefined
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

// The nearest-rank percentile p (0..100).
export function percentile(xs, p) {
  const s = finite(xs).sort((a, b) => a - b)
  if (s.length === 0) return undefined
  return s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1]
}

export const range = (xs) => {
  const s = finite(xs)
  return s.length ? [Math.min(...s), Math.max(...s)] : undefined
}

// Compares ferrocore's rows with JS's, round by round. `value` picks the figure of a row;
// `better`: 'higher' (rates: ratio = ferrocore/JS) or 'lower' (times, CPU, memory: ratio =
// JS/ferrocore), so a ratio above 1 always means ferrocore did better. Rows pair by their
// `round` (rows without one count as round 1); a round that lacks either side is left out
// of the ratios but its figure still counts in that side's median.
//
// Returns { js, fc: the medians of each side's figures; ratios: the per-round ratios;
// ratio: their median (the headline); ratioOfMedians; rounds: how many paired }.
export function paired(jsRows, fcRows, value, better = 'higher') {
  const byRound = (rows) => {
    const m = new Map()
    for (const r of rows) {
      const v = value(r)
      if (typeof v !== 'number' || !Number.isFinite(v)) continue
      const k = r.round ?? 1
      if (!m.has(k)) m.set(k, [])
      m.get(k).push(v)
    }
    // Several figures of one side in one round (e.g. repeated samples): their median.
    return new Map([...m].map(([k, vs]) => [k, median(vs)]))
  }
  const js = byRound(jsRows)
  const fc = byRound(fcRows)
  const ratio = (j, f) => (better === 'higher' ? f / j : j / f)
  const ratios = [...js.keys()].filter((k) => fc.has(k)).sort((a, b) => a - b).map((k) => ratio(js.get(k), fc.get(k)))
  const jsMedian = median([...js.values()])
  const fcMedian = median([...fc.values()])
  return {
    js: jsMedian,
    fc: fcMedian,
    ratios,
    ratio: median(ratios),
    ratioOfMedians: jsMedian !== undefined && fcMedian !== undefined ? ratio(jsMedian, fcMedian) : undefined,
    rounds: ratios.length
  }
}

// A number for a table: thousands separators from 100 up, else 1 or 2-3 decimals.
export function num(x, unit) {
  if (x === undefined || x === null || !Number.isFinite(x)) return '—'
  const text = Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(x >= 1 ? 2 : 3)
  return unit ? text + ' ' + unit : text
}

export const times = (x) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(2) + '×')

// "10.41× [10.10–10.72]": the median of the per-round ratios and their range.
export function ratioCell(p) {
  if (!p || p.ratio === undefined) return '—'
  const r = range(p.ratios)
  return times(p.ratio) + (p.ratios.length > 1 ? ` [${r[0].toFixed(2)}–${r[1].toFixed(2)}]` : '')
}

// A markdown table: the first `left` columns left-aligned, the rest right-aligned.
export function table(header, rows, left = 1) {
  const all = [header, ...rows].map((r) => r.map((c) => String(c ?? '')))
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)))
  const line = (r) => '| ' + r.map((c, i) => (i < left ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |'
  const rule = '|' + widths.map((w, i) => (i < left ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|'
  return [line(all[0]), rule, ...all.slice(1).map(line)].join('\n')
}

// Fails the run: prints every problem and exits 1 (after the tables were printed).
export function failIf(problems, what) {
  if (problems.length === 0) return
  for (const p of problems) console.log('MISMATCH ' + p)
  console.log(`MISMATCH: ${what}; the figures above are not comparable.`)
  process.exit(1)
}
