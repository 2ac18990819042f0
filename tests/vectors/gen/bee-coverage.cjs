// Which B-tree paths the Hyperbee vectors exercise (not part of scripts/gen-vectors).
//
// Usage (from this folder):   node bee-coverage.cjs ../bee/ops.json
//
// Replays the steps of every case of ops.json on a fresh bee, with hyperbee's index.js loaded
// with counters inserted at its split / merge / borrow / shrink branches, and prints per case
// whether the replay wrote the same blocks as recorded (it must: the steps carry full keys, so
// the sub views of the generator are not needed) and how often each branch ran.

const Module = require('module')
const fs = require('fs')
const os = require('os')
const path = require('path')
const Hypercore = require('hypercore')
const b4a = require('b4a')

const counts = {}
globalThis.__beeCoverage = counts

const file = require.resolve('hyperbee')
let src = fs.readFileSync(file, 'utf8')
const tick = (name) => `globalThis.__beeCoverage[${JSON.stringify(name)}] = (globalThis.__beeCoverage[${JSON.stringify(name)}] || 0) + 1;`
// Inserts a counter right after the first occurrence of `anchor` (which must exist).
function after(anchor, name) {
  if (!src.includes(anchor)) throw new Error('hyperbee source changed: ' + anchor)
  src = src.replace(anchor, anchor + '\n' + tick(name) + '\n')
}
after('if (left && left.keys.length > MIN_KEYS) {', 'borrow-from-left')
after('if (right && right.keys.length > MIN_KEYS) {', 'borrow-from-right')
after('    if (left) {\n      index--', 'merge-into-left-sibling')
after('    } else {\n      left = node', 'merge-with-right-sibling')
after('if (ls < rs) {', 'internal-del-takes-right-leftmost')
after('    // if fewer leaves on the right', 'internal-del-takes-left-rightmost')
after('root = TreeNode.create(node.block)', 'root-split')
after('const { median, right } = await node.split()', 'split')
after('node.setKey(mid, target)', 'put-hits-internal-key')
const shrink = 'if (!root.keys.length && root.children.length) return root.getChildNode(0)'
if (!src.includes(shrink)) throw new Error('hyperbee source changed: ' + shrink)
src = src.replace(shrink, 'if (!root.keys.length && root.children.length) { ' + tick('root-shrink') + ' return root.getChildNode(0) }')

const m = new Module(file, module)
m.filename = file
m.paths = Module._nodeModulePaths(path.dirname(file))
m._compile(src, file)
const Hyperbee = m.exports

function cas(kind) {
  if (kind === 'never') return () => false
  if (kind === 'if-differs') {
    return (prev, next) => {
      const a = prev.value
      const b = next.value === undefined ? null : next.value
      if (a === null || b === null) return !(a === null && b === null)
      return !b4a.equals(a, b)
    }
  }
  return undefined
}

async function run(target, op) {
  const key = b4a.from(op.key, 'hex')
  const c = cas(op.cas)
  const opts = c ? { cas: c } : undefined
  if (op.op === 'put') await target.put(key, op.value === null ? undefined : b4a.from(op.value, 'hex'), opts)
  else await target.del(key, opts)
}

async function main() {
  const ops = JSON.parse(fs.readFileSync(process.argv[2] || path.join(__dirname, '..', 'bee', 'ops.json')))
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-coverage-'))
  try {
    for (const c of ops.cases) {
      for (const k of Object.keys(counts)) delete counts[k]
      const core = new Hypercore(path.join(tmp, c.name))
      const bee = new Hyperbee(core, { keyEncoding: 'binary', valueEncoding: 'binary' })
      await bee.ready()
      for (const s of c.steps) {
        if (s.op !== 'batch') {
          await run(bee, s)
          continue
        }
        const b = bee.batch()
        for (const op of s.ops) await run(b, op)
        await b.flush()
      }
      let same = core.length === c.blocks.length
      for (let i = 0; same && i < core.length; i++) same = b4a.toString(await core.get(i), 'hex') === c.blocks[i]
      console.log(c.name, same ? 'same blocks' : 'BLOCKS DIFFER', JSON.stringify(counts))
      await bee.close()
      await core.close()
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

main()
