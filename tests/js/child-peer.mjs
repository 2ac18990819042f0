// A JSON-lines peer script (hypercore-peer.mjs, corestore-peer.mjs) run as a child process
// by the JS self-tests: commands in on stdin ({...cmd, id}), replies ({"reply":op,"id"})
// and events (everything else) out on stdout.

import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

export class ChildPeer {
  // Spawns `node script ...argv`; with verbose, echoes every line it prints (and its
  // stderr) prefixed with name.
  constructor(name, script, argv, verbose = false) {
    this.name = name
    this.events = []
    this.waiters = []
    this.replies = new Map()
    this.nextId = 1
    this.exited = null
    this.stderr = ''
    this.proc = spawn(process.execPath, [script, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.exit = new Promise((resolve) => this.proc.on('exit', (code) => resolve((this.exited = code))))
    this.proc.stderr.on('data', (d) => {
      this.stderr += d
      if (verbose) process.stderr.write(`[${name} stderr] ${d}`)
    })
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      if (verbose) console.log(`    [${name}] ${line}`)
      let msg
      try {
        msg = JSON.parse(line)
      } catch {
        msg = { event: 'garbage', line }
      }
      if (msg.reply !== undefined) {
        const r = this.replies.get(msg.id)
        if (r) {
          this.replies.delete(msg.id)
          r(msg)
        }
      } else {
        this.events.push(msg)
      }
      this.waiters = this.waiters.filter((w) => !w())
    })
  }

  // Resolves with the first event (already seen or future) that matches pred.
  waitEvent(pred, what = 'event', timeout = 20000) {
    let found = null
    return this.waitUntil((events) => (found = events.find(pred)) !== undefined, what, timeout).then(() => found)
  }

  // Resolves once pred(events) is true; rejects after the timeout.
  waitUntil(pred, what, timeout = 20000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== test)
        reject(new Error(`${this.name}: timeout waiting for ${what}`))
      }, timeout)
      const test = () => {
        if (!pred(this.events)) return false
        clearTimeout(t)
        resolve()
        return true
      }
      if (!test()) this.waiters.push(test)
    })
  }

  // Sends a command (an id is added) and resolves with its reply.
  cmd(obj, timeout = 30000) {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: no reply to ${JSON.stringify(obj)}`)), timeout)
      this.replies.set(id, (msg) => {
        clearTimeout(t)
        resolve(msg)
      })
      this.proc.stdin.write(JSON.stringify({ ...obj, id }) + '\n')
    })
  }

  // Sends `close` and resolves with the exit code (SIGKILL after 10 s).
  async close() {
    if (this.exited !== null) return this.exited
    try {
      await this.cmd({ op: 'close' }, 10000)
    } catch {}
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000)
    const code = await this.exit
    clearTimeout(t)
    return code
  }

  kill() {
    if (this.exited === null) this.proc.kill('SIGKILL')
  }
}

// The self-tests' checks: prints `ok`/`FAIL` per check and counts them.
export class Checks {
  constructor() {
    this.passed = 0
    this.failed = 0
    this.failures = []
  }

  // Records one check (detail, if given, is printed with a failure) and returns cond.
  check(cond, what, detail) {
    if (cond) {
      this.passed++
      console.log('  ok   ' + what)
    } else {
      this.failed++
      this.failures.push(what)
      console.log('  FAIL ' + what + (detail !== undefined ? ' — ' + JSON.stringify(detail).slice(0, 400) : ''))
    }
    return cond
  }
}
