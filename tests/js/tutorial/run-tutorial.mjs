#!/usr/bin/env node
// Runs the seed's tutorial (writer.js / reader.js, "Hypercore: The Basics") JS to JS on a
// local hyperdht testnet on loopback, and checks the reader prints the writer's blocks live.
// writer.js and reader.js are the seed's code as given; the one change is that their
// Hyperswarm gets `bootstrap` from the env var HYPERSWARM_BOOTSTRAP ("host:port,...";
// unset = HyperDHT's public bootstrap nodes, as in the seed). The later interop test swaps
// one side for ferrocore and reuses this file's steps.
//
//   node run-tutorial.mjs [--nodes N] [--blocks N] [--verbose]
//
// 1. a testnet of N nodes (default 5) in this process; each script runs in its own temporary
//    working directory (its ./writer-storage or ./reader-storage goes there);
// 2. the writer starts and prints `hypercore key: <hex>`; one block is typed into its stdin
//    before the reader exists; the runner waits until a lookup of the core's discovery key
//    on the testnet finds the writer (Hyperswarm announced it);
// 3. the reader starts with the key, must print `Skipping 1 earlier blocks...` (it found the
//    writer and updated before reading), then N more lines (default 3) typed into the writer
//    one at a time must each come out of the reader as `Block <i>: <line>` in order;
// 4. both get SIGINT (graceful-goodbye destroys the swarm) and must exit with 130 (graceful-goodbye re-raises as exit 130).
// Prints one line per check, the timings, and `N passed, N failed`; exit 1 on any failure.

import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { Checks } from '../child-peer.mjs'
import { arg, removeDir } from '../jsonl-peer.mjs'

const require = createRequire(import.meta.url)
const createTestnet = require('hyperdht/testnet.js')
const crypto = require('hypercore-crypto')

const here = dirname(fileURLToPath(import.meta.url))
const verbose = process.argv.includes('--verbose')
const NODES = Number(arg('--nodes', '5'))
const BLOCKS = Number(arg('--blocks', '3'))
const t = new Checks()
const t0 = performance.now()
const since = () => Math.round(performance.now() - t0)

// One tutorial script as a child: its stdout lines are kept and can be waited for.
class Script {
  constructor(name, file, args, env) {
    this.name = name
    this.lines = []
    this.waiters = []
    this.stderr = ''
    this.dir = mkdtempSync(join(tmpdir(), `tutorial-${name}-`))
    this.proc = spawn(process.execPath, [join(here, file), ...args], {
      cwd: this.dir,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    this.exit = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve(code ?? sig)))
    this.proc.stderr.on('data', (d) => {
      this.stderr += d
      if (verbose) process.stderr.write(`[${name} stderr] ${d}`)
    })
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      if (verbose) console.log(`    [${name}] ${line}`)
      this.lines.push(line)
      this.waiters = this.waiters.filter((w) => !w())
    })
  }

  // Resolves with the first line (seen or future) matching re; rejects after timeout ms.
  waitLine(re, timeout = 20000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: timeout waiting for ${re}`)), timeout)
      const test = () => {
        const line = this.lines.find((l) => re.test(l))
        if (line === undefined) return false
        clearTimeout(timer)
        resolve(line)
        return true
      }
      if (!test()) this.waiters.push(test)
    })
  }

  // SIGINT (graceful-goodbye), SIGKILL after 10 s; resolves with the exit code or signal.
  async stop() {
    this.proc.kill('SIGINT')
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000)
    const code = await this.exit
    clearTimeout(timer)
    removeDir(this.dir)
    return code
  }
}

// Polls lookups of topic on the testnet until one finds an announced peer; false on timeout.
async function waitAnnounced(node, topic, timeout = 20000) {
  const end = Date.now() + timeout
  while (Date.now() < end) {
    for await (const data of node.lookup(topic)) if (data.peers.length > 0) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

const testnet = await createTestnet(NODES, { host: '127.0.0.1' })
const env = { HYPERSWARM_BOOTSTRAP: testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',') }
const probe = testnet.createNode()
const scripts = []
try {
  console.log(`testnet of ${NODES} nodes up at ${env.HYPERSWARM_BOOTSTRAP} (${since()} ms)`)
  const writer = new Script('writer', 'writer.js', [], env)
  scripts.push(writer)
  const keyLine = await writer.waitLine(/^hypercore key: [0-9a-f]{64}$/)
  const key = keyLine.split(' ')[2]
  console.log(`  writer printed its key (${since()} ms)`)
  writer.proc.stdin.write('block zero before the reader\n')
  const announced = await waitAnnounced(probe, crypto.discoveryKey(Buffer.from(key, 'hex')))
  t.check(announced, `the writer's discovery key is announced on the testnet (${since()} ms)`)

  const reader = new Script('reader', 'reader.js', [key], env)
  scripts.push(reader)
  const skip = await reader.waitLine(/^Skipping \d+ earlier blocks\.\.\.$/)
  t.check(skip === 'Skipping 1 earlier blocks...', `reader found the writer and skipped the earlier block (${since()} ms)`, skip)
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
  t.check(printed.length === BLOCKS, 'the reader printed exactly the live blocks, none before them', printed)
  console.log(`  ${BLOCKS} live blocks in ${Math.round(performance.now() - firstLive)} ms`)
} catch (err) {
  t.check(false, 'no exception: ' + err.message)
  for (const s of scripts) if (s.stderr) console.log(`  [${s.name} stderr] ${s.stderr.slice(-800)}`)
}
const codes = [] // reader first, then writer
for (const s of scripts.reverse()) codes.push(await s.stop())
t.check(codes.every((c) => c === 130), `both scripts exit 130 on SIGINT, graceful-goodbye (${codes.join(', ')})`, codes)
await probe.destroy()
await testnet.destroy()
console.log(`tutorial run: ${since()} ms`)
console.log(`${t.passed} passed, ${t.failed} failed`)
process.exit(t.failed ? 1 : 0)
