// The comparisons of scripts/bench-swarm (issue 27 item 8), defined once: a 10-node local
// testnet on 127.0.0.1 of ferrocore `dht` processes against one of hyperdht 6.34.0 node
// processes (tests/js/bench-swarm.mjs starts both and drives both the same way).
// swarm-report.mjs prints all of them with their targets; summary.mjs (scripts/bench)
// prints them in its one table.
//
// Every comparison is { key, area, what, jsRuns, fcRuns, unit, p, target?, missing? }:
// p.ratio is how many times better ferrocore is (JS/ferrocore: every figure here is a time,
// memory or CPU), `target` the figure issue 27 asks of that ratio, and `missing` the
// reason a side has no figure (its rows carry "error": e.g. a CLI option not there yet).

import { compare } from './compare.mjs'

const NET = '10-node testnet on 127.0.0.1, one process per node'
const JS_NODE = 'hyperdht 6.34.0 node (node.js; ephemeral: false, firewalled: false as hyperdht/testnet.js)'
const FC_NODE = '`ferrocore dht` (first --bootstrap none, others --persistent)'

const ok = (rows, impl, workload, pred = () => true) =>
  rows.filter((r) => r.impl === impl && r.workload === workload && r.error === undefined && pred(r))

// The error of a side that has no figure for `workload` (the first one given), if any.
function missing(rows, workload) {
  const out = {}
  for (const impl of ['js', 'ferrocore']) {
    if (ok(rows, impl, workload).length) continue
    const bad = rows.find((r) => r.impl === impl && r.workload === workload && r.error !== undefined)
    if (bad) out[impl] = bad.error
  }
  return Object.keys(out).length ? out : undefined
}

export function swarmComparisons(rows) {
  const out = []
  const first = rows.find((r) => r.workload === 'lookup' && r.lookups !== undefined)
  const pings = rows.find((r) => r.workload === 'requests-cpu' && r.requests !== undefined)
  const idle = rows.find((r) => r.workload === 'idle-rss' && r.idle_ms !== undefined)
  const swarmJs = 'hyperswarm 4.17.2 + hypercore 11.37.1 writer/reader processes (the tutorial\'s writer.js/reader.js)'
  const swarmFc = '`ferrocore serve DIR --swarm` writer, `ferrocore clone DIR2 KEY --swarm` reader (timed to its `peer` line for the connection and its `downloaded 1 blocks` line for the block)'
  // A ferrocore testnet that stored no announce (its lookup row says so) is not yet a
  // full HyperDHT network: its nodes' memory and CPU hold no record state.
  const noRecords = rows.some((r) => r.impl === 'ferrocore' && r.workload === 'lookup' && /stored the announce/.test(r.error || ''))
  const fcNode = FC_NODE + (noRecords ? '; NOTE: in this run no ferrocore node stored an announce (see the lookup row), so these nodes keep no records yet' : '')
  const specs = [
    // key, workload, what, jsRuns, fcRuns, unit, value, target, pred
    ['first-block', 'first-block', 'reader start → first replicated block (1-block core, writer already joined)',
      `${NET}; ${swarmJs}`, `${NET}; ${swarmFc}`, 'ms', (r) => r.ms, 2],
    ['first-block-js-testnet', 'first-block-js-testnet', '↳ the same with both pairs on the JS testnet (the JS nodes answer both)',
      'the JS pair above, on the JS testnet', 'the ferrocore serve/clone --swarm pair above, on the same JS testnet', 'ms', (r) => r.ms, 2],
    ['first-connection', 'first-connection', 'reader start → first connection (hyperswarm join, client)',
      'as above', 'as above', 'ms', (r) => r.ms],
    ['first-connection-js-testnet', 'first-connection-js-testnet', '↳ the swarm clients alone: client start → first connection, both against the JS writer on the JS testnet',
      'the JS reader above (hyperswarm client)', 'swarm-bench join: a ferrocore-tokio Swarm on a DhtNode, client only, no replication', 'ms', (r) => r.ms],
    ['first-connection-js-testnet-join', 'first-connection-js-testnet', '↳ the same from join() to the first connection, as each client times it (bootstrapped already)',
      'hyperswarm: swarm.join() → \'connection\' event', 'Swarm::join → Swarm::connection()', 'ms', (r) => r.join_ms],
    ['lookup', 'lookup', `lookup latency, p50 of ${first ? first.lookups : 'N'} lookups of an announced topic`,
      `${NET}; client process with 2 hyperdht nodes (one announces, one looks up)`,
      `${NET}; swarm-bench: 2 ferrocore-tokio DhtNodes (one announces, one looks up)`, 'ms', (r) => r.p50_ms, undefined, (r) => r.found > 0],
    ['lookup-js-testnet', 'lookup-js-testnet', '↳ the lookup clients alone: the same, both on the JS testnet',
      'the JS client above, on the JS testnet', 'swarm-bench (as above) on the same JS testnet', 'ms', (r) => r.p50_ms, undefined, (r) => r.found > 0],
    ['idle-rss', 'idle-rss', `memory of an idle DHT node (VmRSS of node #5, ${idle ? idle.idle_ms / 1000 : 'a few'} s idle, whole process, nothing subtracted)`,
      `${NET}; ${JS_NODE}`, `${NET}; ${fcNode}`, 'KiB', (r) => r.rss_kib, 10],
    ['requests-cpu', 'requests-cpu', `CPU per 1,000 requests served (utime+stime of node #5 across ${pings ? pings.requests.toLocaleString('en-US') : 'N'} PINGs, 64 in flight)`,
      'as above; the pings from one JS dht-rpc client process', 'as above; the same JS client', 'ms', (r) => r.cpu_ms_per_1000],
    ['requests-cpu-sched', 'requests-cpu', '↳ the same from /proc/PID/task/*/schedstat (ns, all threads; a finer cross-check)',
      'as above', 'as above', 'ms', (r) => r.sched_ms_per_1000],
    ['testnet', 'testnet', 'starting the 10 nodes one after another until each has bootstrapped',
      'as above', 'as above', 'ms', (r) => r.ms]
  ]
  for (const [key, workload, what, jsRuns, fcRuns, unit, value, target, pred] of specs) {
    const js = ok(rows, 'js', workload, pred)
    const fc = ok(rows, 'ferrocore', workload, pred)
    const miss = missing(rows, workload)
    if (!js.length && !fc.length && !miss) continue
    out.push({ ...compare(`swarm/${key}`, 'swarm', what, jsRuns, fcRuns, unit, js, fc, value, 'lower'), target, missing: miss })
  }
  // The CLI's clone prints no line at its first connection: say so instead of a blank.
  const conn = out.find((x) => x.key === 'swarm/first-connection')
  if (conn && !ok(rows, 'ferrocore', 'first-connection').length && ok(rows, 'ferrocore', 'first-block').length) {
    conn.missing = { ...conn.missing, ferrocore: '`ferrocore clone --swarm` prints no line at its first connection (see the swarm-bench join rows)' }
  }
  // Lookups that did not find the announce (no figure counts for that side).
  for (const impl of ['js', 'ferrocore']) {
    const blind = rows.filter((r) => r.impl === impl && r.workload === 'lookup' && r.found === 0)
    if (blind.length && !ok(rows, impl, 'lookup', (r) => r.found > 0).length) {
      const c = out.find((x) => x.key === 'swarm/lookup')
      if (c) c.missing = { ...c.missing, [impl]: 'the lookups never found the announced key (its figure is left out)' }
    }
  }
  return out
}

// "not available (ferrocore: reason)" for a comparison a side has no figure for.
export function missingText(c) {
  if (!c.missing) return ''
  return Object.entries(c.missing).map(([impl, e]) => `${impl === 'js' ? 'JS' : impl}: ${e}`).join('; ')
}
