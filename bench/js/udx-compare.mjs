// The comparisons of scripts/bench-udx (issue 26 item 7), defined once: one UDX stream,
// ferrocore against udx-native 1.21.3 (plaintext and secret-stream, loopback and the lossy
// relay), both against TCP, and replication over UDX against replication over TCP
// (ferrocore both ways). udx-report.mjs prints all of them with their targets;
// summary.mjs (scripts/bench) prints them in its one table.
//
// Every comparison is { key, area, what, jsRuns, fcRuns, unit, p, target? }: "jsRuns" is
// the baseline's conditions (udx-native, or the TCP row), "fcRuns" ferrocore's; p.ratio is
// ferrocore / baseline (the median of per-round ratios), and `target` the figure issue 26
// asks of that ratio.

import { compare } from './compare.mjs'

const STREAM = 'one stream, 2 processes (sender, receiver) on 127.0.0.1, 64 KiB writes'
const JS_UDX = 'udx-native 1.21.3 (libudx), one JS thread each'
const FC_UDX = 'ferrocore-blocking UDX socket (socket thread in poll(2), quinn-udp GSO/GRO + recvmmsg), writer thread'
const SECRET = (impl) => `${impl} secret-stream (in-band Noise XX, one record per write)`

// The per-stream rows of one implementation, workload and path.
function stream(rows, impl, workload, path) {
  return rows.filter((r) => r.impl === impl && r.workload === workload && r.path === path && r.mb_per_sec !== undefined)
}

export function udxComparisons(rows) {
  const out = []
  const relay = rows.find((r) => r.path === 'relay' && r.rtt_ms !== undefined)
  const lossy = relay ? `lossy relay, ${relay.rtt_ms} ms RTT, ${relay.loss * 100} % loss each way` : 'lossy relay'
  const specs = [
    ['udx-plain', 'loopback', 'plaintext UDX stream, loopback', `${STREAM}; ${JS_UDX}`, `${STREAM}; ${FC_UDX}`, 3],
    ['udx-secret', 'loopback', 'secret-stream over UDX, loopback', `${STREAM}; ${SECRET('@hyperswarm/secret-stream 6.9.2')} over udx-native`, `${STREAM}; ${SECRET('ferrocore-wire')} over ferrocore UDX`, 2],
    ['udx-plain', 'relay', `plaintext UDX stream, ${lossy}`, `${JS_UDX}, through tests/src/bin/lossy-relay`, `${FC_UDX}, through the same relay (same seed)`, 1],
    ['udx-secret', 'relay', `secret-stream over UDX, ${lossy}`, 'as above, secret-stream', 'as above, secret-stream', undefined],
    ['tcp-plain', 'loopback', 'plaintext TCP socket, loopback (for scale)', `${STREAM}; node:net`, `${STREAM}; std::net::TcpStream, TCP_NODELAY`, undefined],
    ['tcp-secret', 'loopback', 'secret-stream over TCP, loopback (for scale)', 'node:net + secret-stream', 'std TcpStream + ferrocore-wire secret-stream', undefined]
  ]
  for (const [workload, path, what, jsRuns, fcRuns, target] of specs) {
    const js = stream(rows, 'js', workload, path)
    const fc = stream(rows, 'ferrocore', workload, path)
    if (!js.length && !fc.length) continue
    out.push({ ...compare(`${workload}/${path}`, 'udx', what, jsRuns, fcRuns, 'MB/s', js, fc, (r) => r.mb_per_sec), target })
  }
  // UDX against TCP, within each implementation (baseline: the TCP row).
  for (const [impl, name] of [['ferrocore', 'ferrocore'], ['js', 'JS']]) {
    for (const kind of ['plain', 'secret']) {
      const tcp = stream(rows, impl, `tcp-${kind}`, 'loopback')
      const udx = stream(rows, impl, `udx-${kind}`, 'loopback')
      if (!tcp.length || !udx.length) continue
      // `detail`: udx-report.mjs only (in summary.mjs's columns a JS/JS ratio would read wrong).
      out.push({ ...compare(`${impl}-udx-vs-tcp/${kind}`, 'udx', `${name}: ${kind} UDX / ${kind} TCP, loopback`, `${name} over TCP (the row above)`, `${name} over UDX (the row above)`, 'MB/s', tcp, udx, (r) => r.mb_per_sec), detail: true })
    }
  }
  // Replication: ferrocore over UDX against ferrocore over TCP, the same data.
  const dl = (t) => rows.filter((r) => r.bench === 'replicate-download' && r.transport === t)
  if (dl('tcp').length || dl('udx').length) {
    const n = ((dl('udx')[0] || dl('tcp')[0]).blocks || 0).toLocaleString('en-US')
    const runs = (t) => `ferrocore→ferrocore, 1 process, a blocking Node per peer, Logged both; ${t}; content checked after (untimed)`
    // 1.5× the time at most = at least 1/1.5 of the rate.
    out.push({ ...compare('replicate-udx', 'udx', `replicate ${n} × 4 KiB: over UDX / over TCP`, runs('loopback TCP'), runs('one loopback UDX stream (a ferrocore UDX socket per peer)'), 'MB/s', dl('tcp'), dl('udx'), (r) => r.mb_per_s), target: 1 / 1.5 })
    out.push(compare('replicate-udx-cpu', 'udx', '↳ CPU per replicated block, both peers (µs): TCP / UDX', '', '', 'µs', dl('tcp'), dl('udx'), (r) => r.cpu_us_per_block, 'lower'))
  }
  return out
}

// "met" / "NOT met" for a comparison with a target ("—" without one).
export function verdict(c) {
  if (c.target === undefined) return '—'
  if (c.p.ratio === undefined) return 'no data'
  return `${c.p.ratio >= c.target ? 'met' : 'NOT met'} (≥ ${c.target.toFixed(2)}×)`
}
