// The generated folder the Hyperdrive interop tests and the drive benchmark share (JS side;
// ferrocore's side computes the same). Everything comes from xorshift32 (as bee-data.mjs:
// x ^= x << 13; x ^= x >> 17; x ^= x << 5 on 32 bits, a zero seed counts as 1; `next()` is
// the value after one step) and 32-bit wrapping integer arithmetic: no floating point.
//
// A preset is {count, seed, minExp, octaves, emptyEvery, emptyAt, linkEvery, linkAt,
// execEvery, metaEvery, metaAt, special}:
//
//   preset    count seed minExp octaves empty (i % 20 == 5) links (i % 100 == 37) special
//   interop   1000  1    0      18      yes                  yes                  1: 65536,
//                                                                                 2: 65537,
//                                                                                 3: 131072
//   bench     1000  2    10     12      no                   no                   none
//   (both: execEvery 10; metadata: interop only, i % 50 == 25)
//
// File i (0 <= i < count) has its own generator: xorshift32(fileSeed(i)) with
//   fileSeed(i) = imul(i + 1, 0x9E3779B1) ^ imul(seed, 0x85EBCA77)      (u32, wrapping)
// and draws, in this order:
//   1. depth    = next() % 4                           (folders above the file, 0..3)
//   2. for each of the depth folders, outermost first: DIRS[next() % DIRS.length]
//   3. word     = NAMES[next() % NAMES.length]
//   4. ext      = EXTS[next() % EXTS.length]
//   5. execDraw = next()
//   6. sizeDraw = next()
//   7. linkDraw = next()
// path(i)   = "/" + folders joined with "/" + ("/" if depth > 0) + word + "-" + i + ext
//             (i in decimal; e.g. "/src/ünïcødé/data-17.bin"; paths are unique, and no path
//             is also a folder: folder names never end in "-<digits>[ext]")
// kind(i)   = "symlink" if links and i % 100 == 37; else "file"
// size(i)   = 0 if a symlink; 0 if empties and i % 20 == 5; special[i] if given; else
//             with e = minExp + (i % octaves): 2^e + (sizeDraw % 2^e)     (so in [2^e, 2^(e+1)))
//             interop: 1 .. 2^18 - 1 bytes, about 20 MiB in all (plus 50 empty files)
//             bench:   2^10 .. 2^22 - 1 bytes (1 KiB to 4 MiB), each octave [2^e, 2^(e+1))
//                      taken by 1/12 of the files: about 500 MiB in all
// executable(i) = kind "file" and execDraw % 10 == 0
// linkname(i)   (symlinks only) = "../" repeated depth times + path(j) without its leading
//             "/", with j = linkDraw % count, plus 1 if file j is itself a symlink (a relative
//             link to a regular file, valid on disk and in a drive)
// metadata(i)   = {"n": i} for interop files (not symlinks) with i % 50 == 25, else null
//             (a drive keeps it; a folder on disk cannot, so a mirrored drive has null)
// content(i)    size(i) bytes, in chunks of 65,536 bytes (the last one shorter): chunk c
//             (0-based) is the first bytes of the little-endian u32 values next() yields
//             from xorshift32(chunkSeed(i, c)), with
//               chunkSeed(i, c) = fileSeed(i) ^ imul(c + 1, 0xC2B2AE35)        (u32)
//             so any byte range is computed from the chunks it touches.
//
// DIRS  = src, docs, assets, a, deep, ünïcødé, 文件夹, z-last, with space, A
// NAMES = readme, data, notes, image, Grüße, año, 日本語, данные, ελληνικά, 🦀crab, ｆｕｌｌ,
//         with space, UPPER, dot.name
// EXTS  = .txt, .bin, .json, "" (none), .tar.gz, .md
// (all NFC; "ｆｕｌｌ" is fullwidth, U+FF46..: it sorts before "🦀crab" in UTF-8 byte order,
// as hyperbee orders keys, and after it in UTF-16 order, as JS compares strings).
//
// Check values (`node drive-data.mjs interop|bench` prints more):
//   interop: fileSeed(0) = 0x1bdcb3c6; file 0 = "/notes-0.bin", 1 byte, fb; file 2 =
//            "/notes-2.tar.gz", 65,537 bytes, starting 5bf077e6c510ef17, byte 65,536 = ea;
//            file 37 = symlink "/a/日本語-37.bin" -> "../文件夹/año-665"; 990 files (50 empty,
//            83 executable) + 10 symlinks, 19,905,517 bytes; checksum
//            3e07a8455d94b01df4fe25089658b359ed0fd20ca3fe594b5540876e7b72fc09
//   bench:   fileSeed(0) = 0x95e0ed5f; file 0 = "/deep/with space/readme-0.json", 1,331 bytes,
//            starting 5592def8ffc41078b8836d71958546e2; file 11 =
//            "/z-last/docs/docs/ｆｕｌｌ-11.tar.gz", 2,408,453 bytes, bytes 1,000,000.. =
//            60b927c445bc7f52; 1,000 files (96 executable), 526,730,910 bytes; checksum
//            598c24779f7982e6c046621042c46b6b6d6d3ed940fcb5ac0909161880752ee5
//
// checksum(entries): the drive-peer `checksum` of a tree: SHA-256 over its entries in hyperdrive
// list order (ascending UTF-8 bytes of the path), each one contributing
//   utf8(path) ‖ 0x00 ‖ kind ‖ u64le(n) ‖ payload
// with kind one byte: "f" (0x66) a file, "x" (0x78) an executable file, "l" (0x6c) a symlink;
// payload: a file's content (n = its size), a symlink's linkname in UTF-8 (n = its length).
// Metadata is not hashed.

import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { xorshift32 } from './bee-data.mjs'

export const CHUNK = 65536

export const DIRS = ['src', 'docs', 'assets', 'a', 'deep', 'ünïcødé', '文件夹', 'z-last', 'with space', 'A']
export const NAMES = ['readme', 'data', 'notes', 'image', 'Grüße', 'año', '日本語', 'данные', 'ελληνικά', '🦀crab', 'ｆｕｌｌ', 'with space', 'UPPER', 'dot.name']
export const EXTS = ['.txt', '.bin', '.json', '', '.tar.gz', '.md']

export const PRESETS = {
  interop: { count: 1000, seed: 1, minExp: 0, octaves: 18, empties: true, links: true, metadata: true, special: { 1: 65536, 2: 65537, 3: 131072 } },
  bench: { count: 1000, seed: 2, minExp: 10, octaves: 12, empties: false, links: false, metadata: false, special: {} }
}

// The preset named `name` (an object passes through); `seed` overrides its seed.
export function preset(name, seed) {
  const p = typeof name === 'string' ? PRESETS[name] : name
  if (!p) throw new Error('preset: interop or bench, not ' + JSON.stringify(name))
  return seed === undefined || seed === null ? p : { ...p, seed: seed >>> 0 }
}

export function fileSeed(p, i) {
  return (Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(p.seed, 0x85ebca77)) >>> 0
}

const isLink = (p, i) => p.links && i % 100 === 37

// File i of preset p, without its content: {index, path, kind, size, executable, linkname,
// metadata, depth}.
export function file(p, i) {
  p = preset(p)
  if (!(i >= 0 && i < p.count)) throw new Error(`file ${i}: not in 0..${p.count - 1}`)
  const next = xorshift32(fileSeed(p, i))
  const depth = next() % 4
  const folders = []
  for (let k = 0; k < depth; k++) folders.push(DIRS[next() % DIRS.length])
  const word = NAMES[next() % NAMES.length]
  const ext = EXTS[next() % EXTS.length]
  const execDraw = next()
  const sizeDraw = next()
  const linkDraw = next()
  const filePath = '/' + folders.map((f) => f + '/').join('') + word + '-' + i + ext
  const link = isLink(p, i)
  let size = 0
  if (!link && !(p.empties && i % 20 === 5)) {
    if (p.special[i] !== undefined) size = p.special[i]
    else {
      const e = p.minExp + (i % p.octaves)
      size = 2 ** e + (sizeDraw % 2 ** e)
    }
  }
  let linkname = null
  if (link) {
    let j = linkDraw % p.count
    if (isLink(p, j)) j++
    linkname = '../'.repeat(depth) + file(p, j).path.slice(1)
  }
  return {
    index: i,
    path: filePath,
    kind: link ? 'symlink' : 'file',
    size,
    executable: !link && execDraw % 10 === 0,
    linkname,
    metadata: !link && p.metadata && i % 50 === 25 ? { n: i } : null,
    depth
  }
}

// Every file of preset p (or those of `indices`), in index order.
export function files(p, indices) {
  p = preset(p)
  const all = indices || Array.from({ length: p.count }, (_, i) => i)
  return all.map((i) => file(p, i))
}

// Chunk c of file f's content (a Buffer of min(CHUNK, size - c * CHUNK) bytes).
export function chunk(p, f, c) {
  p = preset(p)
  const len = Math.min(CHUNK, f.size - c * CHUNK)
  if (len <= 0) return Buffer.alloc(0)
  const words = new Uint32Array(Math.ceil(len / 4))
  const next = xorshift32((fileSeed(p, f.index) ^ Math.imul(c + 1, 0xc2b2ae35)) >>> 0)
  for (let w = 0; w < words.length; w++) words[w] = next()
  const buf = Buffer.from(words.buffer, 0, len)
  // Uint32Array is host-endian: make sure it is little-endian.
  if (!LITTLE_ENDIAN) for (let w = 0; w < words.length; w++) buf.writeUInt32LE(words[w], w * 4)
  return buf
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

// Bytes [start, start + length) of file f's content (clamped to its size).
export function range(p, f, start, length) {
  const end = Math.min(f.size, start + length)
  const parts = []
  for (let c = Math.floor(start / CHUNK); c * CHUNK < end; c++) {
    const b = chunk(p, f, c)
    parts.push(b.subarray(Math.max(0, start - c * CHUNK), Math.min(b.length, end - c * CHUNK)))
  }
  return Buffer.concat(parts)
}

// File f's whole content.
export function content(p, f) {
  return range(p, f, 0, f.size)
}

// The file index a generated path names ("...-<i><ext>"), or -1.
export function indexOfPath(filePath) {
  const m = /-(\d+)(?:\.[^/-]*)*$/.exec(filePath)
  return m ? Number(m[1]) : -1
}

// Hyperdrive list order: ascending UTF-8 bytes of the path.
export function compareUtf8(a, b) {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

// A checksum accumulator (see the header): add(path, kind, payload) per entry in list order.
export class TreeHash {
  constructor() {
    this.hash = createHash('sha256')
    this.count = 0
    this.files = 0
    this.symlinks = 0
    this.bytes = 0
  }

  // kind: "f", "x" or "l"; payload: a Buffer (content or linkname bytes) or an array of them.
  add(p, kind, payload) {
    const parts = Array.isArray(payload) ? payload : [payload]
    const n = parts.reduce((s, b) => s + b.length, 0)
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(n))
    this.hash.update(Buffer.from(p, 'utf8'))
    this.hash.update(Buffer.from([0, kind.charCodeAt(0)]))
    this.hash.update(len)
    for (const b of parts) this.hash.update(b)
    this.count++
    if (kind === 'l') this.symlinks++
    else {
      this.files++
      this.bytes += n
    }
  }

  // {sha256, count, files, symlinks, bytes}
  digest() {
    return { sha256: this.hash.digest('hex'), count: this.count, files: this.files, symlinks: this.symlinks, bytes: this.bytes }
  }
}

// The checksum of preset p's tree as a drive holds it (all files, or those of `indices`).
export function expectedChecksum(p, indices) {
  p = preset(p)
  const list = files(p, indices).sort((a, b) => compareUtf8(a.path, b.path))
  const h = new TreeHash()
  for (const f of list) {
    if (f.kind === 'symlink') h.add(f.path, 'l', Buffer.from(f.linkname, 'utf8'))
    else {
      const parts = []
      for (let c = 0; c * CHUNK < f.size; c++) parts.push(chunk(p, f, c))
      h.add(f.path, f.executable ? 'x' : 'f', parts)
    }
  }
  return h.digest()
}

// Writes preset p's files (or those of `indices`) under `root` (created if missing): folders,
// regular files (mode 0o755 if executable, else 0o644, set with chmod whatever the umask) and
// relative symlinks. Metadata cannot be kept on disk. Resolves to {files, symlinks, bytes}.
export async function writeFolder(root, p, indices) {
  p = preset(p)
  let bytes = 0
  let nfiles = 0
  let symlinks = 0
  for (const f of files(p, indices)) {
    const target = path.join(root, ...f.path.split('/'))
    await fs.promises.mkdir(path.dirname(target), { recursive: true })
    if (f.kind === 'symlink') {
      await fs.promises.symlink(f.linkname, target)
      symlinks++
      continue
    }
    const fh = await fs.promises.open(target, 'w')
    try {
      for (let c = 0; c * CHUNK < f.size; c++) await fh.write(chunk(p, f, c))
      await fh.chmod(f.executable ? 0o755 : 0o644)
    } finally {
      await fh.close()
    }
    nfiles++
    bytes += f.size
  }
  return { files: nfiles, symlinks, bytes }
}

// `node drive-data.mjs [interop|bench] [--seed S]`: prints the check values of a preset.
if (import.meta.url === 'file://' + process.argv[1] || process.argv[1]?.endsWith('drive-data.mjs')) {
  const name = process.argv[2] || 'interop'
  const si = process.argv.indexOf('--seed')
  const p = preset(name, si > 0 ? Number(process.argv[si + 1]) : undefined)
  const all = files(p)
  const sizes = all.map((f) => f.size)
  const f0 = all[0]
  console.log(
    JSON.stringify({
      preset: name,
      seed: p.seed,
      file0: { path: f0.path, size: f0.size, executable: f0.executable, first16: range(p, f0, 0, 16).toString('hex') },
      empty: sizes.filter((s) => s === 0).length - all.filter((f) => f.kind === 'symlink').length,
      symlinks: all.filter((f) => f.kind === 'symlink').map((f) => [f.path, f.linkname]).slice(0, 3),
      executables: all.filter((f) => f.executable).length,
      maxSize: Math.max(...sizes),
      minNonEmpty: Math.min(...sizes.filter((s) => s > 0)),
      totalBytes: sizes.reduce((a, b) => a + b, 0),
      checksum: expectedChecksum(p)
    })
  )
}
