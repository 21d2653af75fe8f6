#!/usr/bin/env bash
# Benchmarks /v1/verify on loopback against a release build (see benches/README.md):
#  1. throughput: wrk (a Lua script sets `Authorization: Bearer`) against /v1/verify with HS256 and
#     RS256 tokens, and against /healthz as the reference, each for $DURATION;
#  2. latency at a steady $RATE requests/s (examples/verify_load.rs `pace`) for /healthz (the peer)
#     and /v1/verify HS256, one after the other in the same run; the added p99 is the difference
#     to /healthz. RS256 cannot sustain 5 000/s on 2 cores (see step 1), so it is paced at
#     $RS_RATE/s, again beside /healthz at that rate.
# Every request is checked: a non-2xx answer or a socket error is printed and fails the run.
#
#   benches/verify.sh          # full run (about 2 minutes after the build)
#   benches/verify.sh smoke    # a few seconds each, to check the script itself
#
# Honours CARGO_TARGET_DIR; PORT (default 19797) is the loopback port the exporter listens on.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
if [ "$mode" = smoke ]; then
  DURATION=${DURATION:-2s} PACE=${PACE:-2s}
else
  DURATION=${DURATION:-10s} PACE=${PACE:-20s}
fi
RATE=${RATE:-5000}
RS_RATE=${RS_RATE:-2000}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-19797}
target=${CARGO_TARGET_DIR:-target}

command -v wrk >/dev/null || { echo "verify.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
cargo build --release --quiet --bin skew-exporter --example verify_load
bin=$target/release/skew-exporter
load=$target/release/examples/verify_load
data=tests/data/verify

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/skew.toml" <<EOF
[verify]
issuers = ["https://bench.example"]
[verify.claim-headers]
sub = "X-Auth-Subject"
[[verify.keys]]
file = "$PWD/$data/hmac.secret"
type = "hmac"
kid = "h1"
[[verify.keys]]
file = "$PWD/$data/rsa.pub.pem"
kid = "r1"
EOF
"$bin" --config.file "$work/skew.toml" --web.listen-address "127.0.0.1:$PORT" \
  --ntp.server 127.0.0.1:9 --log.level warn 2>"$work/exporter.log" &
pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null

hs=$("$load" sign --alg HS256 --key "$data/hmac.secret" --kid h1)
rs=$("$load" sign --alg RS256 --key "$data/rsa.key.pem" --kid r1)
for t in "$hs" "$rs"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" "http://127.0.0.1:$PORT/v1/verify")
  [ "$code" = 200 ] || { echo "a benchmark token was refused ($code)" >&2; exit 1; }
done

cat >"$work/auth.lua" <<'EOF'
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
EOF

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "== throughput: wrk -t1 -c$CONNECTIONS -d$DURATION (load generator on the same machine)"
fail=0
throughput() { # name path token
  out=$(TOKEN=$3 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/auth.lua" "http://127.0.0.1:$PORT$2")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  errs=$(grep -o 'Socket errors:.*' <<<"$out" || true)
  printf '%-12s %10s req/s   p99 %s%s%s\n' "$1" "$rps" "$p99" "${bad:+   non-2xx $bad}" "${errs:+   $errs}"
  if [ -n "$bad" ] || [ -n "$errs" ]; then fail=1; fi
}
throughput healthz /healthz ""
throughput HS256 /v1/verify "$hs"
throughput RS256 /v1/verify "$rs"

echo "== latency at a steady rate for $PACE each (50 keep-alive connections)"
pace() { # name path token rate
  out=$("$load" pace --name "$1" --url "http://127.0.0.1:$PORT$2" ${3:+--token "$3"} --rate "$4" --duration "$PACE")
  echo "$out"
  grep -q ' non2xx=0 errors=0 ' <<<"$out" || fail=1
}
pace "healthz@$RATE" /healthz "" "$RATE"
pace "HS256@$RATE" /v1/verify "$hs" "$RATE"
pace "healthz@$RS_RATE" /healthz "" "$RS_RATE"
pace "RS256@$RS_RATE" /v1/verify "$rs" "$RS_RATE"

echo "== exporter counters"
curl -fsS "http://127.0.0.1:$PORT/metrics" |
  grep -E '^skew_(events_received_total\{transport="verify"\}|jwt_verifications_total|jwt_rejections_total)' || true
if [ "$fail" != 0 ]; then
  echo "FAILED: some requests were refused or failed" >&2
  exit 1
fi
