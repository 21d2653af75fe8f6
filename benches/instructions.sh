#!/usr/bin/env bash
# Instructions per request of the exporter (user space, `valgrind --tool=cachegrind`), for a
# /v1/verify cache hit and for /healthz sent the same Authorization header (the floor any
# endpoint has): a count, unlike req/s, that the machine's other load does not move, so a
# change to the hit path can be compared before and after on a shared machine.
#
# Method: the exporter runs under cachegrind twice per endpoint, paced at $RATE requests/s
# (examples/verify_load.rs `pace`) for $SHORT and $LONG seconds; the difference of the two totals
# over the difference of the request counts is the cost of one request, start-up and shutdown
# cancelled out. The 1 000 tokens rotate, so both runs start with the same 1 000 misses.
# valgrind has no SHA-NI: SHA-256 of the token runs in software there (~48 000 of a hit's
# instructions, ~0.6 µs on the real CPU; benches/README.md).
#
#   bash benches/instructions.sh                      # needs valgrind (apt-get install valgrind)
#   BIN=path/to/skew-exporter bash benches/instructions.sh   # a prebuilt binary (e.g. an older commit's)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "instructions.sh needs valgrind (apt-get install valgrind)" >&2; exit 2; }
RATE=${RATE:-500}
SHORT=${SHORT:-2}
LONG=${LONG:-12}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin skew-exporter --example verify_load
BIN=${BIN:-$target/release/skew-exporter}
load=$target/release/examples/verify_load
data=tests/data/verify

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$load" sign --alg RS256 --key "$data/rsa.key.pem" --kid r1 --count 1000 >"$work/tokens"

total() { # seconds path -> the exporter's total instructions
  local out=$work/cg.out log=$work/log pid addr
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" "$BIN" \
    --config.file benches/verify.toml --web.listen-address 127.0.0.1:0 --ntp.server 127.0.0.1:9 \
    --log.level warn,skew_exporter::app=info 2>"$log" &
  pid=$!
  for _ in $(seq 600); do grep -q listening "$log" && break; sleep 0.05; done
  addr=$(grep -o 'address=[0-9.:]*' "$log" | head -1 | cut -d= -f2)
  [ -n "$addr" ] || { echo "the exporter did not start under valgrind" >&2; cat "$log" >&2; exit 1; }
  "$load" pace --name x --url "http://$addr$2" --tokens "$work/tokens" --rate "$RATE" \
    --duration "$1s" | grep -q ' non2xx=0 errors=0 ' || { echo "a request failed" >&2; exit 1; }
  kill -INT "$pid"
  wait "$pid" || true
  awk '/^summary:/ {print $2}' "$out"
}

for path in /healthz /v1/verify; do
  a=$(total "$SHORT" "$path")
  b=$(total "$LONG" "$path")
  n=$(((LONG - SHORT) * RATE))
  echo "$path (Authorization: Bearer, 825-byte token): $(((b - a) / n)) instructions per request"
done
