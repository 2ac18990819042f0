// The plumbing the scriptable peers (hypercore-peer.mjs, corestore-peer.mjs) share: JSON
// lines on stdout, hex, the process guards (errors reported as events, hard timeout,
// signals) and the stdin command loop.

import { rmSync } from 'node:fs'
import { createInterface } from 'node:readline'

// Prints one JSON object as one line on stdout.
export function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

// Lower-case hex of a buffer (or typed array view); null for null.
export function hex(buf) {
  return buf ? Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('hex') : null
}

// Parses hex (exactly `bytes` bytes unless bytes is 0); throws naming `name` otherwise.
export function parseHex(s, bytes, name) {
  if (typeof s !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(s) || (bytes && s.length !== 2 * bytes)) {
    throw new Error(`${name}: expected ${bytes ? bytes + ' bytes of ' : ''}hex`)
  }
  return Buffer.from(s, 'hex')
}

// Reports uncaught exceptions and rejections as `error` events (and with log), exits with
// code 3 after `timeout` ms (0 = never) and with 128 + signal on SIGTERM/SIGINT/SIGHUP,
// running cleanup() first. SIGKILL cannot be caught: cleanup does not run then.
export function guardProcess(timeout, cleanup, log) {
  process.on('uncaughtException', (err) => {
    log('uncaught', err && err.stack)
    out({ event: 'error', message: 'uncaught: ' + (err && err.message) })
  })
  process.on('unhandledRejection', (err) => {
    log('unhandled rejection', err && err.stack)
    out({ event: 'error', message: 'unhandled rejection: ' + (err && err.message) })
  })
  if (timeout > 0) {
    setTimeout(() => {
      out({ event: 'error', message: `hard timeout after ${timeout} ms` })
      cleanup()
      process.exit(3)
    }, timeout).unref()
  }
  for (const [sig, n] of [['SIGTERM', 15], ['SIGINT', 2], ['SIGHUP', 1]]) {
    process.on(sig, () => {
      cleanup()
      process.exit(128 + n)
    })
  }
}

// Runs cleanup() and exits with `code` once stdout is flushed.
export function exitFlushed(code, cleanup) {
  cleanup()
  process.stdout.write('', () => process.exit(code))
}

// Reads JSON commands from stdin, one a line, and prints what run(cmd) resolves to (its
// reply). Commands run one at a time in order; one with "background": true starts in
// order but does not hold up the next. After `close` (replied to) or stdin EOF (no reply):
// shutdown(), then exitFlushed(0, cleanup). A line that is not JSON is reported as an
// `error` event.
export function serveCommands(run, shutdown, cleanup) {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity })
  let chain = Promise.resolve()
  let exiting = false
  rl.on('line', (line) => {
    if (!line.trim() || exiting) return
    let cmd
    try {
      cmd = JSON.parse(line)
    } catch (err) {
      out({ event: 'error', message: 'bad command JSON: ' + err.message })
      return
    }
    const closing = cmd.op === 'close'
    if (closing) exiting = true
    const step = async () => {
      out(await run(cmd))
      if (closing) exitFlushed(0, cleanup)
    }
    if (cmd.background === true && !closing) chain.then(step)
    else chain = chain.then(step)
  })
  rl.on('close', () => {
    if (exiting) return
    exiting = true
    chain = chain.then(async () => {
      await shutdown()
      exitFlushed(0, cleanup)
    })
  })
}

// Removes a directory tree if dir is set, ignoring failures.
export function removeDir(dir) {
  if (!dir) return
  try {
    rmSync(dir, { recursive: true, force: true })
  } catch {}
}

// Resolves on the stream's next 'drain'; rejects if it closes first.
export function waitDrain(stream) {
  return new Promise((resolve, reject) => {
    const ondrain = () => { stream.off('close', onclose); resolve() }
    const onclose = () => { stream.off('drain', ondrain); reject(new Error('stream closed')) }
    stream.once('drain', ondrain)
    stream.once('close', onclose)
  })
}

// The value after `--name` on the command line, or dflt.
export function arg(name, dflt) {
  const i = process.argv.indexOf(name)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt
}

// A log function writing its arguments to stderr as one line tagged `[tag]`.
export function logger(tag) {
  return (...args) => process.stderr.write(`[${tag}] ` + args.join(' ') + '\n')
}

// The `--timeout MS` option, the one option the scriptable peers take (0 = none): anything
// else prints `usage: NAME [--timeout MS]` and exits 2.
export function timeoutArg(name) {
  const argv = process.argv.slice(2)
  let timeout = 0
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--timeout' && /^\d+$/.test(argv[i + 1] || '')) timeout = Number(argv[++i])
    else {
      process.stderr.write(`usage: ${name} [--timeout MS]\n`)
      process.exit(2)
    }
  }
  return timeout
}

// Listens on cmd.host (default 127.0.0.1) : cmd.port (default 0 = ephemeral), adds the
// server to `servers` and hands every accepted socket to onsocket; later server errors
// become `error` events. Resolves to {port}.
export async function listenTcp(net, cmd, servers, onsocket) {
  const server = net.createServer({ noDelay: true }, onsocket)
  servers.push(server)
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(cmd.port === undefined ? 0 : cmd.port, cmd.host || '127.0.0.1', resolve)
  })
  server.on('error', (err) => out({ event: 'error', message: 'listen: ' + err.message }))
  return { port: server.address().port }
}

// The directory and Corestore options of an `open` command of a store peer: cmd.dir, or a
// fresh temporary directory named after `prefix` (tmp: true, for the caller to remove on
// exit); cmd.primaryKey (hex) as {primaryKey, unsafe: true}.
export function storeOpenArgs(mkdtempSync, os, path, cmd, prefix) {
  const tmp = cmd.dir === undefined
  const dir = tmp ? mkdtempSync(path.join(os.tmpdir(), prefix)) : cmd.dir
  const opts = {}
  if (cmd.primaryKey !== undefined) {
    opts.primaryKey = parseHex(cmd.primaryKey, 32, 'primaryKey')
    opts.unsafe = true
  }
  return { dir, tmp, opts }
}

// One replicated connection of a store peer: a Noise secret stream over the socket
// (TCP_NODELAY set) with `keyPair`, pushed on `connections` (its index is its `conn`
// number), handed to store.replicate; onmux(mux, conn) may wrap its muxer. Reports
// `error` (unless closing() is true), `connection-closed` and, once the handshake is
// done, `connection` events. Resolves to the `connection` event's fields.
export function replicateConnection(ctx, socket, initiator, onmux) {
  socket.setNoDelay(true)
  const conn = ctx.connections.length
  const stream = new ctx.NoiseSecretStream(initiator, socket, { keyPair: ctx.keyPair })
  ctx.connections.push(stream)
  ctx.store.replicate(stream)
  if (onmux) onmux(stream.userData, conn)
  stream.on('error', (err) => {
    if (ctx.closing()) return
    out({ event: 'error', message: `connection ${conn}: ` + (err && err.message) })
  })
  stream.on('close', () => out({ event: 'connection-closed', conn }))
  const opened = stream.opened.then((ok) => {
    if (!ok) throw new Error(`connection ${conn}: the Noise handshake failed`)
    const info = {
      conn,
      initiator: stream.isInitiator,
      publicKey: hex(stream.publicKey),
      remotePublicKey: hex(stream.remotePublicKey),
      handshakeHash: hex(stream.handshakeHash)
    }
    out({ event: 'connection', ...info })
    return info
  })
  opened.catch(() => {})
  return opened
}

// core.update({wait: true, force: true}) once a peer replicates the core (the first one waited
// for at most `firstPeerMs`: an update without peers returns at once). force: a writable core
// does not update otherwise (another peer may have extended it: the same key pair in two
// stores). Used by the bee and drive peers.
export async function updateCore(core, firstPeerMs = 10000) {
  if (core.peers.length === 0) {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, firstPeerMs)
      core.once('peer-add', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
  await core.update({ wait: true, force: true })
}

// Runs fn() (sync or async) timed: its result, and the wall and CPU seconds it took.
export async function timed(fn) {
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const result = await fn()
  const wall = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  return { result, wall_s: wall, cpu_s: (cpu.user + cpu.system) / 1e6 }
}
