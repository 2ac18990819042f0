#!/bin/sh
# JS <-> JS self-test of peer.mjs: one peer listens as Noise responder, the other
# connects as Noise initiator; both send BYTES (default 64 MiB) and must report ok.
# Also checks that each side saw the other's static key, the same handshake hash and
# the other's channel handshake string, and that the digests cross-match.
#
#   sh tests/js/selftest.sh [BYTES] [CHUNK]
#
# Needs `npm ci` (or `npm install`) in tests/js first.
set -eu

DIR=$(cd "$(dirname "$0")" && pwd)
BYTES=${1:-67108864}
CHUNK=${2:-65536}
SEED_R=0202020202020202020202020202020202020202020202020202020202020202
SEED_I=0101010101010101010101010101010101010101010101010101010101010101

TMP=$(mktemp -d)
LPID=
cleanup() {
  if [ -n "$LPID" ]; then kill "$LPID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

: >"$TMP/lout"
node "$DIR/peer.mjs" --listen --role responder --seed "$SEED_R" --bytes "$BYTES" --chunk "$CHUNK" \
  >"$TMP/lout" 2>"$TMP/lerr" &
LPID=$!

# the listener's first stdout line is {"port":N}
PORT=
n=0
while [ -z "$PORT" ]; do
  PORT=$(head -n 1 "$TMP/lout" 2>/dev/null | sed -n 's/^{"port":\([0-9][0-9]*\)}$/\1/p')
  if [ -z "$PORT" ]; then
    n=$((n + 1))
    if [ "$n" -gt 200 ] || ! kill -0 "$LPID" 2>/dev/null; then
      echo "listener did not print its port"; cat "$TMP/lerr"; exit 1
    fi
    sleep 0.05
  fi
done

RC_I=0
node "$DIR/peer.mjs" --connect "$PORT" --role initiator --seed "$SEED_I" --bytes "$BYTES" --chunk "$CHUNK" \
  >"$TMP/cres" 2>"$TMP/cerr" || RC_I=$?
RC_R=0
wait "$LPID" || RC_R=$?
LPID=
sed 1d "$TMP/lout" >"$TMP/lres"

echo "responder (listen):  rc=$RC_R $(cat "$TMP/lres")"
echo "initiator (connect): rc=$RC_I $(cat "$TMP/cres")"

RC=0
node --input-type=module - "$TMP/lres" "$TMP/cres" "$BYTES" "$RC_R" "$RC_I" <<'EOF' || RC=$?
import { readFileSync } from 'node:fs'
const [lf, cf, bytes, rcR, rcI] = process.argv.slice(2)
const parse = (f) => { try { return JSON.parse(readFileSync(f, 'utf8').trim().split('\n').pop()) } catch { return null } }
const r = parse(lf), i = parse(cf)
const problems = []
const check = (cond, what) => { if (!cond) problems.push(what) }
check(rcR === '0' && rcI === '0', `exit codes responder=${rcR} initiator=${rcI}`)
check(r && r.ok, 'responder ok'); check(i && i.ok, 'initiator ok')
if (r && i) {
  const n = Number(bytes)
  check(r.sent === n && i.sent === n && r.received === n && i.received === n, 'byte counts')
  check(r.sentDigest === i.remoteDigest && i.sentDigest === r.remoteDigest, 'digests cross-match')
  check(r.receivedDigest === i.sentDigest && i.receivedDigest === r.sentDigest, 'received digests')
  check(r.sentDigest !== i.sentDigest || n === 0, 'directions carry different content')
  check(r.remotePublicKey === i.publicKey && i.remotePublicKey === r.publicKey, 'static keys')
  check(r.handshakeHash === i.handshakeHash && /^[0-9a-f]{128}$/.test(r.handshakeHash), 'handshake hash')
  check(r.remoteHandshake === 'hello from js' && i.remoteHandshake === 'hello from js', 'channel handshakes')
  check(r.channelClosedBy && i.channelClosedBy, 'channelClosedBy set')
}
if (problems.length) { console.log('SELFTEST FAIL: ' + problems.join(', ')); process.exit(1) }
console.log(`SELFTEST OK (${bytes} bytes each way)`)
EOF
if [ "$RC" -ne 0 ]; then
  echo '--- responder stderr'; cat "$TMP/lerr"
  echo '--- initiator stderr'; cat "$TMP/cerr"
fi
exit "$RC"
