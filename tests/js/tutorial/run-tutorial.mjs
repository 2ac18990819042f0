#!/usr/bin/env node
// Runs the seed's tutorial (writer.js / reader.js, "Hypercore: The Basics") on a local DHT on
// loopback, and checks the reader prints the writer's blocks live. Either side can be the JS
// script or ferrocore's command line, and the DHT can be JS's testnet or `ferrocore dht` nodes.
// writer.js and reader.js are the seed's code as given; the one change is that their
// Hyperswarm gets `bootstrap` from the env var HYPERSWARM_BOOTSTRAP ("host:port,...";
// unset = HyperDHT's public bootstrap nodes, as in the seed).
//
//   node run-tutorial.mjs [--writer js|ferrocore] [--reader js|ferrocore] [--dht js|ferrocore]
//                         [--ferrocore BIN] [--nodes N] [--blocks N] [--verbose]
//
// 1. a DHT of N nodes (default 5): JS's testnet in this process (`--dht js`, the default), or
//    N `ferrocore dht` processes (`--dht ferrocore`: the first with `--bootstrap none`, the
//    others `--persistent` bootstrapping from it); each script runs in its own temporary
//    working directory (its ./writer-storage or ./reader-storage goes there);
// 2. the writer starts and prints its key (JS: `hypercore key: <hex>`; ferrocore: `ferrocore
//    create` then `ferrocore serve DIR --swarm --append-stdin --bootstrap ...`, `key <hex>`);
//    one block is typed into its stdin before the reader exists; the runner waits until a
//    lookup of the core's discovery key on the DHT finds the writer (it announced it);
// 3. the reader starts with the key (JS: reader.js, which must print `Skipping 1 earlier
//    blocks...`; ferrocore: `ferrocore clone DIR KEY --swarm --live --bootstrap ...`, which
//    downloads the earlier block and prints blocks from the writer's length on, saying
//    `following core <id> live from block 1` on stderr), then N more lines (default 3) typed
//    into the writer one at a time must each come out of the reader as `Block <i>: <line>`
//    in order;
// 4. the JS scripts get SIGINT (graceful-goodbye destroys the swarm) and must exit with 130;
//    ferrocore processes get SIGTERM and must exit 0.
// Prints one line per check, the timings, and `N passed, N failed`; exit 1 on any failure.

import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { Checks } from '../child-peer.mjs'
import { arg, removeDir } from '../jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const createTestnet = require('hyperdht/testnet.js')
const DHT = require('hyperdht')
const crypto = require('hypercore-crypto')

const here = dirname(fileURLToPath(import.meta.url))
const verbose = process.argv.includes('--verbose')
const NODES = Number(arg('--nodes', '5'))
const BLOCKS = Number(arg('--blocks', '3'))
const WRITER = arg('--writer', 'js')
const READER = arg('--reader', 'js')
const DHT_KIND = arg('--dht', 'js')
const FERROCORE = resolve(arg('--ferrocore', join(here, '../../../target/debug/ferrocore')))
for (const [name, v] of [['--writer', WRITER], ['--reader', READER], ['--dht', DHT_KIND]]) {
  if (v !== 'js' && v !== 'ferrocore') throw new Error(`${name} must be js or ferrocore, not ${v}`)
}
const t = new Checks()
const t0 = performance.now()
const since = () => Math.round(performance.now() - t0)

// One child process (a tutorial script or a ferrocore command): its stdout lines are kept and
// can be waited for.
class Proc {
  constructor(name, cmd, args, { env = {}, dir = null, ferrocore = false } = {}) {
    this.name = name
    this.ferrocore = ferrocore
    this.lines = []
    this.errLines = []
    this.waiters = []
    this.stderr = ''
    this.dir = dir ?? mkdtempSync(join(tmpdir(), `tutorial-${name}-`))
    this.proc = spawn(cmd, args, { cwd: this.dir, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    this.exit = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve(code ?? sig)))
    this.proc.stderr.on('data', (d) => {
      this.stderr += d
      if (verbose) process.stderr.write(`[${name} stderr] ${d}`)
    })
    createInterface({ input: this.proc.stderr }).on('line', (line) => {
      this.errLines.push(line)
      this.waiters = this.waiters.filter((w) => !w())
    })
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      if (verbose) console.log(`    [${name}] ${line}`)
      this.lines.push(line)
      this.waiters = this.waiters.filter((w) => !w())
    })
  }

  // Resolves with the first stdout line (seen or future) matching re (a stderr line with
  // `stderr`); rejects after timeout ms.
  waitLine(re, timeout = 20000, stderr = false) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: timeout waiting for ${re}`)), timeout)
      const test = () => {
        const line = (stderr ? this.errLines : this.lines).find((l) => re.test(l))
        if (line === undefined) return false
        clearTimeout(timer)
        resolve(line)
        return true
      }
      if (!test()) this.waiters.push(test)
    })
  }

  // SIGINT for JS scripts (graceful-goodbye), SIGTERM for ferrocore; SIGKILL after 10 s.
  // Resolves with the exit code or signal.
  async stop() {
    this.proc.kill(this.ferrocore ? 'SIGTERM' : 'SIGINT')
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000)
    const code = await this.exit
    clearTimeout(timer)
    removeDir(this.dir)
    return code
  }

  expectedExit() {
    return this.ferrocore ? 0 : 130
  }
}

const script = (name, file, args, env) => new Proc(name, process.execPath, [join(here, file), ...args], { env })
const ferrocore = (name, args, dir) => new Proc(name, FERROCORE, args, { dir, ferrocore: true })

// Runs `ferrocore <args>` to completion; rejects on a non-zero exit.
function ferrocoreRun(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(FERROCORE, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    p.stderr.on('data', (d) => (err += d))
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ferrocore ${args.join(' ')}: exit ${code}: ${err}`))))
  })
}

// Polls lookups of topic until one finds an announced peer; false on timeout.
async function waitAnnounced(node, topic, timeout = 20000) {
  const end = Date.now() + timeout
  while (Date.now() < end) {
    for await (const data of node.lookup(topic)) if (data.peers.length > 0) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

// The DHT: JS's testnet, or NODES `ferrocore dht` processes.
const dhtProcs = []
let testnet = null
let bootstrap
if (DHT_KIND === 'js') {
  testnet = await createTestnet(NODES, { host: '127.0.0.1' })
  bootstrap = testnet.bootstrap.map((b) => `${b.host}:${b.port}`)
} else {
  const first = ferrocore('dht0', ['dht', '--listen', '127.0.0.1:0', '--bootstrap', 'none'])
  dhtProcs.push(first)
  const at = (await first.waitLine(/^listening /)).split(' ')[1]
  bootstrap = [at]
  for (let i = 1; i < NODES; i++) {
    const n = ferrocore(`dht${i}`, ['dht', '--listen', '127.0.0.1:0', '--bootstrap', at, '--persistent'])
    dhtProcs.push(n)
    await n.waitLine(/^listening /)
  }
}
const env = { HYPERSWARM_BOOTSTRAP: bootstrap.join(',') }
const probe = new DHT({ bootstrap, host: '127.0.0.1' })
await probe.fullyBootstrapped()
const scripts = []
try {
  console.log(`DHT (${DHT_KIND}) of ${NODES} nodes up at ${env.HYPERSWARM_BOOTSTRAP} (${since()} ms); writer ${WRITER}, reader ${READER}`)
  let writer
  let key
  if (WRITER === 'js') {
    writer = script('writer', 'writer.js', [], env)
    scripts.push(writer)
    key = (await writer.waitLine(/^hypercore key: [0-9a-f]{64}$/)).split(' ')[2]
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'tutorial-writer-'))
    await ferrocoreRun(['create', join(dir, 'writer-storage')])
    writer = ferrocore('writer', ['serve', 'writer-storage', '--swarm', '--append-stdin', '--bootstrap', bootstrap.join(',')], dir)
    scripts.push(writer)
    key = (await writer.waitLine(/^key [0-9a-f]{64}$/)).split(' ')[1]
  }
  console.log(`  writer printed its key (${since()} ms)`)
  writer.proc.stdin.write('block zero before the reader\n')
  const announced = await waitAnnounced(probe, crypto.discoveryKey(Buffer.from(key, 'hex')))
  t.check(announced, `the writer's discovery key is announced on the DHT (${since()} ms)`)

  let reader
  const readerStart = performance.now()
  if (READER === 'js') {
    reader = script('reader', 'reader.js', [key], env)
    scripts.push(reader)
    const skip = await reader.waitLine(/^Skipping \d+ earlier blocks\.\.\.$/)
    t.check(skip === 'Skipping 1 earlier blocks...', `reader found the writer and skipped the earlier block (${since()} ms)`, skip)
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'tutorial-reader-'))
    reader = ferrocore('reader', ['clone', 'reader-storage', key, '--swarm', '--live', '--bootstrap', bootstrap.join(',')], dir)
    scripts.push(reader)
    const follow = await reader.waitLine(/^following core \S+ live from block \d+/, 20000, true)
    t.check(/ live from block 1;/.test(follow), `reader found the writer, downloaded the earlier block and follows from block 1 (${Math.round(performance.now() - readerStart)} ms after it started)`, follow)
  }
  const firstLive = performance.now()
  for (let i = 1; i <= BLOCKS; i++) {
    const text = `live block ${i} at ${Date.now()}`
    const typed = performance.now()
    writer.proc.stdin.write(text + '\n')
    const got = await reader.waitLine(new RegExp(`^Block ${i}: `))
    const ms = Math.round(performance.now() - typed)
    t.check(got === `Block ${i}: ${text}`, `reader prints block ${i} as typed (${ms} ms after typing)`, got)
  }
  const printed = reader.lines.filter((l) => /^Block \d+: /.test(l))
  const expected = BLOCKS
  t.check(printed.length === expected, `the reader printed exactly ${expected} blocks`, printed)
  console.log(`  ${BLOCKS} live blocks in ${Math.round(performance.now() - firstLive)} ms`)
} catch (err) {
  t.check(false, 'no exception: ' + err.message)
  for (const s of [...scripts, ...dhtProcs]) if (s.stderr) console.log(`  [${s.name} stderr] ${s.stderr.slice(-800)}`)
}
const codes = [] // reader first, then writer
const want = []
for (const s of scripts.reverse()) {
  want.push(s.expectedExit())
  codes.push(await s.stop())
}
t.check(codes.every((c, i) => c === want[i]), `reader and writer exit as expected on a signal (${codes.join(', ')}; want ${want.join(', ')})`, codes)
await probe.destroy()
if (testnet) await testnet.destroy()
for (const n of dhtProcs) await n.stop()
console.log(`tutorial run: ${since()} ms`)
console.log(`${t.passed} passed, ${t.failed} failed`)
process.exit(t.failed ? 1 : 0)
