// The generated key-value data the Hyperbee interop tests and the bee benchmark share (JS
// side; ferrocore's side computes the same, see bench/src/bin/bee_bench.rs):
//   key(i)   = "key-" + i in decimal, zero-padded to 6 digits   ("key-000001")
//   value(i) = "value-" + i, zero-padded likewise, + "-" + "x" repeated (i % 23) times
// and a seeded xorshift32 PRNG (x ^= x << 13; x ^= x >> 17; x ^= x << 5 on 32 bits; a
// zero seed counts as 1) for the orders of puts and gets.

export function key(i) {
  return 'key-' + String(i).padStart(6, '0')
}

export function value(i) {
  return 'value-' + String(i).padStart(6, '0') + '-' + 'x'.repeat(i % 23)
}

// A function returning the next 32-bit value of the xorshift32 sequence of `seed`.
export function xorshift32(seed) {
  let x = seed >>> 0 || 1
  return () => {
    x = (x ^ (x << 13)) >>> 0
    x = (x ^ (x >>> 17)) >>> 0
    x = (x ^ (x << 5)) >>> 0
    return x
  }
}

// The indices from..from+count-1 in the order `order` names: "seq" (ascending), "reverse"
// or "shuffle" (Fisher-Yates from the last position down, swapping position i with
// next() % (i + 1), with the xorshift32 sequence of `seed`).
export function indices(from, count, order = 'seq', seed = 1) {
  const out = []
  for (let i = 0; i < count; i++) out.push(from + i)
  if (order === 'reverse') out.reverse()
  else if (order === 'shuffle') {
    const next = xorshift32(seed)
    for (let i = out.length - 1; i > 0; i--) {
      const j = next() % (i + 1)
      const t = out[i]
      out[i] = out[j]
      out[j] = t
    }
  } else if (order !== 'seq') throw new Error('order: seq, reverse or shuffle')
  return out
}
