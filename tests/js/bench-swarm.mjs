#!/usr/bin/env node
// The DHT/swarm benchmark of scripts/bench-swarm (issue 27 item 8): one implementation's
// rows per run, on a local testnet of 10 DHT node processes on 127.0.0.1 that this script
// starts and stops. Both implementations are driven the same way from here (same clients,
// same clocks); only the node processes differ:
//
//   --impl js         every node: `node bench-swarm.mjs dht-node` (hyperdht 6.34.0, one
//                     process each, ephemeral: false, firewalled: false as
//                     hyperdht/testnet.js makes them); the first has no bootstrap list
//   --impl ferrocore  every node: `ferrocore dht --listen 127.0.0.1:0` (--ferrocore BIN),
//                     the first with `--bootstrap none`, the others `--persistent`
//
//   node bench-swarm.mjs run --impl js|ferrocore [--ferrocore BIN] [--swarm-bench BIN]
//        [--nodes 10] [--lookups 50] [--pings 10000] [--idle-ms 3000] [--swarm-runs 3]
//
// Rows (JSON lines on stdout; progress on stderr), all with "impl":
//   {"workload":"testnet","nodes","ms"}  starting all nodes until each has bootstrapped
//   {"workload":"idle-rss","rss_kib","hwm_kib","idle_ms"}  VmRSS/VmHWM of node #5 (not
//        the first) after the testnet is up and --idle-ms idle (whole process, nothing
//        subtracted)
//   {"workload":"requests-cpu","requests","cpu_ticks","hz","cpu_ms_per_1000",
//        "sched_ms_per_1000","secs","failed"}  utime+stime (/proc/PID/stat) of node #5
//        across --pings PINGs sent to it by one JS dht-rpc client process (this script's
//        `pinger`: 64 in flight), the same client for both implementations;
//        sched_ms_per_1000 the same from /proc/PID/task/*/schedstat (ns, all threads: a
//        finer cross-check)
//   {"workload":"lookup","lookups","found","p50_ms","p90_ms","mean_ms","announce_ms"}
//        a client process with two DHT nodes bootstrapped into the testnet: one announces
//        a random topic, the other looks it up --lookups times one after another (JS:
//        `lookup` below; ferrocore: `swarm-bench lookup`, the tokio DhtNode); "found" =
//        lookups that returned the announcer's key. In the JS run, also
//        "workload":"lookup-js-testnet" rows: the JS client's row again, and
//        swarm-bench's on the same JS testnet with "impl":"ferrocore" (the clients alone
//        compared, the nodes being the same)
//   {"workload":"first-connection"|"first-block","ms"}  a writer holding a 1-block core
//        joins the core's discovery key (server); then a reader process is started and
//        the time from its spawn to its first connection / to holding block 0 (verified)
//        is taken, --swarm-runs times, each with new writer and reader processes. JS:
//        hyperswarm 4.17.2 + hypercore 11.37.1 (`writer`/`reader` below, the tutorial's
//        writer.js/reader.js shape); ferrocore: `ferrocore serve DIR --swarm` and
//        `ferrocore clone DIR2 KEY --swarm` (rows with "error" while the CLI has no --swarm).
//        In the JS run, also "workload":"first-connection-js-testnet" rows: the JS
//        reader's first connection again, and `swarm-bench join` (a ferrocore-tokio Swarm,
//        client only) against the same JS writer with "impl":"ferrocore" (its spawn →
//        connection; "join_ms" its own join → connection); it goes before the JS reader in
//        even runs, after it in odd ones. And, when the CLI has --swarm,
//        "workload":"first-block-js-testnet" rows: the JS pair's again, and ferrocore's
//        serve/clone --swarm pair on the same JS testnet with "impl":"ferrocore" (after the
//        JS pair in odd runs, before it in even ones).
// A part that fails is a row with "error" instead of figures.
//
// Internal subcommands (one process each): dht-node, pinger, lookup, writer, reader.

import os from 'node:os'
import fs from 'node:fs'
import path from 'node:path'
import crypto from 'node:crypto'
import readline from 'node:readline'
import { spawn, execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const SELF = new URL(import.meta.url).pathname
const HOST = '127.0.0.1'

function arg(name, def) {
  const i = process.argv.indexOf(name)
  return i === -1 ? def : process.argv[i + 1]
}
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const note = (...a) => process.stderr.write('bench-swarm: ' + a.join(' ') + '\n')
const parseAddrs = (s) => s.split(',').filter(Boolean).map((hp) => ({ host: hp.slice(0, hp.lastIndexOf(':')), port: Number(hp.slice(hp.lastIndexOf(':') + 1)) }))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const round = (x) => Math.round(x * 100) / 100

// ------------------------------------------------------------------ child processes

// A child process whose stdout lines are awaited by predicate.
class Child {
  // With stderrLines, the child's stderr lines are waited on as its stdout's are.
  constructor(cmd, args, { stderrLines = false, ...opts } = {}) {
    this.t0 = performance.now()
    this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', stderrLines ? 'pipe' : 'inherit'], ...opts })
    this.lines = []
    this.waiters = []
    this.exited = null
    const onLine = (line) => {
      const at = performance.now() - this.t0
      this.lines.push({ line, at })
      this.check()
    }
    readline.createInterface({ input: this.proc.stdout }).on('line', onLine)
    if (stderrLines) readline.createInterface({ input: this.proc.stderr }).on('line', onLine)
    this.proc.on('exit', (code, signal) => {
      this.exited = { code, signal, at: performance.now() - this.t0 }
      this.check()
    })
  }

  get pid() {
    return this.proc.pid
  }

  check() {
    for (const w of [...this.waiters]) {
      const hit = this.lines.find((l) => w.pred(l.line))
      if (hit || this.exited) {
        this.waiters.splice(this.waiters.indexOf(w), 1)
        clearTimeout(w.timer)
        if (hit) w.resolve(hit)
        else w.reject(new Error(`exited (${this.exited.code ?? this.exited.signal}) before: ${w.what}`))
      }
    }
  }

  // The first line (and its time since spawn, ms) for which pred is true.
  waitLine(pred, what, ms = 30000) {
    return new Promise((resolve, reject) => {
      const w = { pred, what, resolve, reject }
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1)
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`))
      }, ms)
      this.waiters.push(w)
      this.check()
    })
  }

  waitExit(ms = 30000) {
    if (this.exited) return Promise.resolve(this.exited)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for exit`)), ms)
      this.proc.once('exit', () => {
        clearTimeout(timer)
        resolve(this.exited)
      })
    })
  }

  async stop() {
    if (this.exited) return
    this.proc.kill('SIGTERM')
    try {
      await this.waitExit(5000)
    } catch {
      this.proc.kill('SIGKILL')
    }
  }
}

const json = (line) => {
  try {
    return JSON.parse(line)
  } catch {
    return null
  }
}

// /proc figures of a process: utime + stime ticks, VmRSS and VmHWM (KiB).
function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12])
}
// Nanoseconds on a CPU so far, summed over the process's threads
// (/proc/PID/task/*/schedstat; a thread that ended is not counted): a finer cross-check
// of cpuTicks.
function cpuNs(pid) {
  try {
    let ns = 0
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0])
    return ns
  } catch {
    return NaN
  }
}
function memory(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) || [])[1])
  return { rss_kib: kib('VmRSS'), hwm_kib: kib('VmHWM') }
}
const HZ = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())
  } catch {
    return 100
  }
})()

// ------------------------------------------------------------------ the testnet

// Starts node `i` of a testnet (bootstrap: the first node's address, or null for the
// first) and waits until it has bootstrapped; returns { child, port }.
async function startNode(impl, bin, bootstrap) {
  if (impl === 'js') {
    const child = new Child(process.execPath, [SELF, 'dht-node', '--bootstrap', bootstrap || 'none'])
    const { line } = await child.waitLine((l) => json(l)?.event === 'ready', 'the JS node to bootstrap')
    return { child, port: json(line).port }
  }
  const args = ['dht', '--listen', `${HOST}:0`, '--bootstrap', bootstrap || 'none']
  if (bootstrap) args.push('--persistent')
  const child = new Child(bin, args)
  const { line } = await child.waitLine((l) => l.startsWith('listening '), '`listening`')
  const port = Number(line.slice(line.lastIndexOf(':') + 1))
  await child.waitLine((l) => l.startsWith('bootstrapped'), '`bootstrapped`')
  return { child, port }
}

async function startTestnet(impl, bin, n) {
  const t0 = performance.now()
  const first = await startNode(impl, bin, null)
  const boot = `${HOST}:${first.port}`
  const rest = []
  // Started one after another, as hyperdht/testnet.js does (each learns the earlier ones).
  for (let i = 1; i < n; i++) rest.push(await startNode(impl, bin, boot))
  return { nodes: [first, ...rest], bootstrap: boot, ms: performance.now() - t0 }
}

// ------------------------------------------------------------------ the parts

async function idleRss(impl, net, idleMs) {
  await sleep(idleMs)
  const node = net.nodes[Math.min(5, net.nodes.length - 1)]
  return { workload: 'idle-rss', ...memory(node.child.pid), idle_ms: idleMs }
}

async function requestsCpu(impl, net, pings) {
  const node = net.nodes[Math.min(5, net.nodes.length - 1)]
  const pinger = new Child(process.execPath, [SELF, 'pinger', '--bootstrap', net.bootstrap, '--port', String(node.port), '--count', String(pings)])
  await pinger.waitLine((l) => json(l)?.event === 'ready', 'the pinger to bootstrap')
  const before = cpuTicks(node.child.pid)
  const beforeNs = cpuNs(node.child.pid)
  const t0 = performance.now()
  pinger.proc.stdin.write('go\n')
  const { line } = await pinger.waitLine((l) => json(l)?.event === 'done', 'the pings', 300000)
  const secs = (performance.now() - t0) / 1000
  const used = cpuTicks(node.child.pid) - before
  const usedNs = cpuNs(node.child.pid) - beforeNs
  await pinger.waitExit()
  const r = json(line)
  const answered = r.sent - r.failed
  if (answered === 0) return { workload: 'requests-cpu', error: 'no ping was answered' }
  return {
    workload: 'requests-cpu',
    requests: answered,
    failed: r.failed,
    cpu_ticks: used,
    hz: HZ,
    cpu_ms_per_1000: round((used / HZ) * 1000 / (answered / 1000)),
    sched_ms_per_1000: round(usedNs / 1e6 / (answered / 1000)),
    secs: round(secs)
  }
}

async function lookups(impl, net, count, swarmBench) {
  const args = ['lookup', '--bootstrap', net.bootstrap, '--count', String(count)]
  const child = impl === 'js' ? new Child(process.execPath, [SELF, ...args]) : new Child(swarmBench, args)
  const { line } = await child.waitLine((l) => json(l)?.workload === 'lookup', 'the lookup row', 600000)
  await child.waitExit()
  const { impl: _, ...row } = json(line)
  // TOO_FEW_NODES: no node of the testnet took the announce (it stores no records).
  if (/TooFewNodes|TOO_FEW_NODES/.test(row.error || '')) row.error += ' (no node of this testnet stored the announce)'
  return row
}

// `swarm-bench join`: a ferrocore swarm client joining `topic`; its spawn → first
// connection (ms) and its own join → connection, or { error }.
async function swarmJoin(swarmBench, net, topic) {
  const child = new Child(swarmBench, ['join', '--bootstrap', net.bootstrap, '--topic', topic])
  try {
    const hit = await child.waitLine((l) => json(l)?.workload === 'swarm-join', 'swarm-bench join', 60000)
    const r = json(hit.line)
    return r.error !== undefined ? { error: r.error } : { ms: hit.at, join_ms: r.join_to_connection_ms }
  } catch (err) {
    return { error: err.message }
  } finally {
    await child.stop()
  }
}

// Whether `ferrocore serve` and `clone` take --swarm.
function cliHasSwarm(bin) {
  try {
    const help = (c) => execFileSync(bin, [c, '--help']).toString()
    return help('serve').includes('--swarm') && help('clone').includes('--swarm')
  } catch {
    return false
  }
}

// One writer/reader pair: the reader's time from spawn to its first connection and to
// block 0.
async function firstBlock(impl, net, bin, dir, swarmBench, run) {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  let writer
  let reader
  try {
    if (impl === 'js') {
      writer = new Child(process.execPath, [SELF, 'writer', '--dir', path.join(dir, 'w'), '--bootstrap', net.bootstrap])
      const { line } = await writer.waitLine((l) => json(l)?.event === 'ready', 'the writer to join')
      const { key, discoveryKey } = json(line)
      // ferrocore's swarm client against the same JS writer: before the JS reader in even
      // runs, after it in odd ones.
      const fcClient = swarmBench && fs.existsSync(swarmBench) ? () => swarmJoin(swarmBench, net, discoveryKey) : null
      const fcFirst = fcClient && run % 2 === 0 ? await fcClient() : undefined
      reader = new Child(process.execPath, [SELF, 'reader', '--dir', path.join(dir, 'r'), '--key', key, '--bootstrap', net.bootstrap])
      const conn = await reader.waitLine((l) => json(l)?.event === 'connection', 'the reader to connect')
      const block = await reader.waitLine((l) => json(l)?.event === 'block', 'the reader to get block 0')
      const inner = json(block.line)
      await reader.stop()
      const fc = fcFirst ?? (fcClient ? await fcClient() : undefined)
      return { connection_ms: conn.at, block_ms: block.at, join_to_connection_ms: json(conn.line).join_to_connection_ms, join_to_block_ms: inner.join_to_block_ms, fc }
    }
    const w = path.join(dir, 'w')
    execFileSync(bin, ['create', w], { stdio: ['ignore', 'ignore', 'inherit'] })
    execFileSync(bin, ['append', w, 'block 0'], { stdio: ['ignore', 'ignore', 'inherit'] })
    writer = new Child(bin, ['serve', w, '--swarm', '--bootstrap', net.bootstrap])
    const { line } = await writer.waitLine((l) => l.startsWith('key '), '`key` from serve --swarm')
    const key = line.slice(4).trim()
    // Joined: serve prints a line naming the swarm (or its topic) once it has announced.
    await writer.waitLine((l) => l.startsWith('announced '), '`announced` from serve --swarm')
    reader = new Child(bin, ['clone', path.join(dir, 'r'), key, '--swarm', '--bootstrap', net.bootstrap, '--timeout', '20'], { stderrLines: true })
    // clone --swarm says `peer <key>` on stderr when it connects and `downloaded N blocks`
    // once the download is verified and stored (before it lets its streams close and exits).
    const conn = await reader.waitLine((l) => /^peer [0-9a-f]{64}$/.test(l), 'a `peer` line from clone --swarm').catch(() => null)
    const got = await reader.waitLine((l) => /^downloaded \d+ blocks$/.test(l), 'a `downloaded` line from clone --swarm').catch(() => null)
    const done = await reader.waitExit(60000)
    if (done.code !== 0) throw new Error(`clone --swarm exited ${done.code ?? done.signal}${done.code === 6 ? ' (no peer found in 20 s)' : ''}`)
    return { connection_ms: conn ? conn.at : undefined, block_ms: got ? got.at : done.at, block_at: got ? 'downloaded' : 'exit' }
  } finally {
    if (reader) await reader.stop()
    if (writer) await writer.stop()
  }
}

async function swarmRuns(impl, net, bin, runs, swarmBench) {
  const hasSwarm = cliHasSwarm(bin)
  if (impl === 'ferrocore' && !hasSwarm) {
    const error = 'this build\'s `ferrocore serve`/`clone` have no --swarm yet'
    return [{ workload: 'first-connection', error }, { workload: 'first-block', error }]
  }
  const rows = []
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-swarm-'))
  // One pair of `who` (js, or ferrocore's CLI) on this testnet; `suffix` names rows of
  // ferrocore's CLI on the JS testnet.
  const pair = async (who, i, suffix) => {
    const extra = { run: i + 1, ...(who !== impl ? { impl: who } : {}) }
    try {
      const r = await firstBlock(who, net, bin, path.join(dir, `${who}-${i}`), who === 'js' ? swarmBench : null, i + 1)
      if (r.block_at) extra.block_at = r.block_at
      if (r.connection_ms !== undefined) rows.push({ workload: 'first-connection' + suffix, ms: round(r.connection_ms), join_ms: r.join_to_connection_ms, ...extra })
      if (r.fc) {
        // The swarm clients alone, against the same JS writer on the JS testnet.
        rows.push({ workload: 'first-connection-js-testnet', ms: round(r.connection_ms), join_ms: r.join_to_connection_ms, ...extra })
        rows.push({ impl: 'ferrocore', workload: 'first-connection-js-testnet', ...(r.fc.error ? { error: r.fc.error } : { ms: round(r.fc.ms), join_ms: r.fc.join_ms }), run: i + 1 })
      }
      rows.push({ workload: 'first-block' + suffix, ms: round(r.block_ms), join_ms: r.join_to_block_ms, ...extra })
      if (who === 'js' && impl === 'js' && hasSwarm) rows.push({ workload: 'first-block-js-testnet', ms: round(r.block_ms), join_ms: r.join_to_block_ms, ...extra })
    } catch (err) {
      rows.push({ workload: 'first-block' + suffix, ...extra, error: err.message })
    }
  }
  try {
    for (let i = 0; i < runs; i++) {
      if (impl !== 'js' || !hasSwarm) {
        await pair(impl, i, '')
        continue
      }
      // On the JS testnet, ferrocore's CLI pair too: after the JS pair in odd runs, before
      // it in even ones.
      const both = [['js', ''], ['ferrocore', '-js-testnet']]
      for (const [who, suffix] of i % 2 === 0 ? both : both.reverse()) await pair(who, i, suffix)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return rows
}

async function run() {
  const impl = arg('--impl')
  if (impl !== 'js' && impl !== 'ferrocore') throw new Error('--impl js|ferrocore')
  const bin = arg('--ferrocore', 'target/release/ferrocore')
  const swarmBench = arg('--swarm-bench', 'target/release/swarm-bench')
  const n = Number(arg('--nodes', '10'))
  const emit = (row) => out({ impl, ...row, load1: os.loadavg()[0] }) // a row's own impl wins
  let net = null
  try {
    note(`${impl}: starting a ${n}-node testnet`)
    net = await startTestnet(impl, bin, n)
    emit({ workload: 'testnet', nodes: n, ms: round(net.ms) })
    const parts = [
      ['idle RSS', () => idleRss(impl, net, Number(arg('--idle-ms', '3000')))],
      ['CPU per 1,000 pings served', () => requestsCpu(impl, net, Number(arg('--pings', '10000')))],
      ['lookup latency', () => lookups(impl, net, Number(arg('--lookups', '50')), swarmBench)],
      // On the JS testnet, ferrocore's lookup client too (the same nodes answer both).
      ...(impl === 'js' && fs.existsSync(swarmBench)
        ? [['lookup latency, ferrocore client', async () => ({ ...(await lookups('ferrocore', net, Number(arg('--lookups', '50')), swarmBench)), impl: 'ferrocore', workload: 'lookup-js-testnet' })]]
        : []),
      ['first connection / block', () => swarmRuns(impl, net, bin, Number(arg('--swarm-runs', '3')), swarmBench)]
    ]
    for (const [what, part] of parts) {
      note(`${impl}: ${what}`)
      try {
        const rows = await part()
        for (const r of [rows].flat()) {
          emit(r)
          // The JS client's lookups on the JS testnet, beside ferrocore's client there.
          if (impl === 'js' && r.workload === 'lookup' && fs.existsSync(swarmBench)) emit({ ...r, workload: 'lookup-js-testnet' })
        }
      } catch (err) {
        emit({ workload: what, error: err.message })
      }
    }
  } catch (err) {
    emit({ workload: 'testnet', error: err.message })
  } finally {
    if (net) for (const node of net.nodes) await node.child.stop()
  }
}

// ------------------------------------------------------------------ subcommands

const bootstrapArg = () => (arg('--bootstrap', 'none') === 'none' ? [] : parseAddrs(arg('--bootstrap')))

// One JS HyperDHT node, as hyperdht/testnet.js makes them.
async function dhtNode() {
  const DHT = require('hyperdht')
  const node = new DHT({ bootstrap: bootstrapArg(), host: HOST, port: 0, ephemeral: false, firewalled: false })
  await node.fullyBootstrapped()
  out({ event: 'ready', port: node.address().port, pid: process.pid })
  process.once('SIGTERM', () => node.destroy().then(() => process.exit(0)))
}

// Sends --count PINGs (64 in flight) to 127.0.0.1:--port once a line arrives on stdin.
async function pinger() {
  const DHT = require('hyperdht')
  const node = new DHT({ bootstrap: bootstrapArg(), host: HOST })
  await node.fullyBootstrapped()
  out({ event: 'ready' })
  await new Promise((resolve) => process.stdin.once('data', resolve))
  const count = Number(arg('--count'))
  const to = { host: HOST, port: Number(arg('--port')) }
  let sent = 0
  let failed = 0
  const worker = async () => {
    while (sent < count) {
      sent++
      try {
        await node.ping(to)
      } catch {
        failed++
      }
    }
  }
  await Promise.all(Array.from({ length: 64 }, worker))
  out({ event: 'done', sent, failed })
  await node.destroy()
  process.exit(0)
}

// Two nodes: one announces a random topic, the other looks it up --count times.
async function lookup() {
  const DHT = require('hyperdht')
  const count = Number(arg('--count', '50'))
  const a = new DHT({ bootstrap: bootstrapArg(), host: HOST })
  const b = new DHT({ bootstrap: bootstrapArg(), host: HOST })
  await Promise.all([a.fullyBootstrapped(), b.fullyBootstrapped()])
  const topic = crypto.randomBytes(32)
  const t0 = performance.now()
  await a.announce(topic, a.defaultKeyPair).finished()
  const announceMs = performance.now() - t0
  const times = []
  let found = 0
  for (let i = 0; i < count; i++) {
    const s = performance.now()
    let hit = false
    for await (const data of b.lookup(topic)) {
      if (data.peers.some((p) => p.publicKey.equals(a.defaultKeyPair.publicKey))) hit = true
    }
    times.push(performance.now() - s)
    if (hit) found++
  }
  const sorted = [...times].sort((x, y) => x - y)
  const pct = (p) => sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]
  out({
    impl: 'js',
    workload: 'lookup',
    lookups: count,
    found,
    p50_ms: round(pct(50)),
    p90_ms: round(pct(90)),
    mean_ms: round(times.reduce((x, y) => x + y, 0) / count),
    announce_ms: round(announceMs)
  })
  await Promise.all([a.destroy(), b.destroy()])
  process.exit(0)
}

// A writer holding one block, joined on its discovery key (the tutorial's writer.js).
async function writer() {
  const Hyperswarm = require('hyperswarm')
  const Hypercore = require('hypercore')
  const swarm = new Hyperswarm({ bootstrap: bootstrapArg() })
  const core = new Hypercore(arg('--dir'))
  await core.ready()
  await core.append(Buffer.from('block 0'))
  swarm.on('connection', (conn) => core.replicate(conn))
  await swarm.join(core.discoveryKey).flushed()
  out({ event: 'ready', key: core.key.toString('hex'), discoveryKey: core.discoveryKey.toString('hex') })
  process.once('SIGTERM', () => swarm.destroy().then(() => core.close()).then(() => process.exit(0)))
}

// A reader of --key (the tutorial's reader.js): reports its first connection and block 0.
async function reader() {
  const Hyperswarm = require('hyperswarm')
  const Hypercore = require('hypercore')
  const swarm = new Hyperswarm({ bootstrap: bootstrapArg() })
  const core = new Hypercore(arg('--dir'), Buffer.from(arg('--key'), 'hex'))
  await core.ready()
  const t0 = performance.now()
  swarm.on('connection', (conn) => {
    out({ event: 'connection', join_to_connection_ms: round(performance.now() - t0) })
    core.replicate(conn)
  })
  swarm.join(core.discoveryKey, { server: false, client: true })
  await core.get(0)
  out({ event: 'block', join_to_block_ms: round(performance.now() - t0) })
  process.once('SIGTERM', () => swarm.destroy().then(() => core.close()).then(() => process.exit(0)))
}

const commands = { run, 'dht-node': dhtNode, pinger, lookup, writer, reader }
const cmd = commands[process.argv[2]]
if (!cmd) {
  process.stderr.write('usage: node bench-swarm.mjs run --impl js|ferrocore [...] (see the header)\n')
  process.exit(2)
}
cmd().catch((err) => {
  note(err.stack || err.message)
  process.exit(1)
})
