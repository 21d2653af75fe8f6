#!/usr/bin/env bash
# /v1/verify against /healthz in ONE run of the release binary (issue 18; benches/README.md):
#  1. throughput, wrk -t1 -c64 (a Lua script sets `Authorization: Bearer`, round robin over a
#     token file): /healthz (the peer); RS256 with every request a distinct token (cache misses,
#     checked: the exporter's hit counter must not move); RS256 and ES256 with 1 000 tokens in
#     rotation (the cache's case); each figure also as a ratio to /healthz, and with the
#     exporter's CPU time per request; then the misses and the hits again in $ROUNDS rounds, each
#     against a /healthz just before it, and the median of those ratios and CPU times;
#  2. latency at a steady $RATE requests/s (examples/verify_load.rs `pace`, 50 keep-alive
#     connections): /healthz, RS256 over the 1 000 tokens, RS256 with distinct tokens; the
#     added p99 is the difference to /healthz;
#  3. memory: the distinct tokens above (more than verify.cache-size) fill the default cache;
#     the exporter's peak RSS (VmHWM) with `skew_verify_cache_entries` beside it.
# Every request is checked: a non-2xx answer or a socket error fails the run. Tokens are signed
# before the exporter starts (verify_load sign --count, every core, RSA with ring): a full run
# signs ~200 000 RSA tokens first (about a minute and a half here).
#
#   bash benches/verify.sh            # full run
#   SMOKE=1 bash benches/verify.sh    # seconds: CI's check that the script still works
#   BIN=path/to/skew-exporter bash benches/verify.sh   # measure a prebuilt binary (e.g. built
#                                                      # with --no-default-features: ring)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${SMOKE:-0}" = 1 ] || [ "${1:-}" = smoke ]; then
  SMOKE=1 DURATION=${DURATION:-2} MISS_DURATION=${MISS_DURATION:-1} PACE=${PACE:-2}
  MISS_TOKENS=${MISS_TOKENS:-4000} ROUNDS=${ROUNDS:-1} ROUND_DURATION=${ROUND_DURATION:-1}
else
  SMOKE=0 DURATION=${DURATION:-10} MISS_DURATION=${MISS_DURATION:-4} PACE=${PACE:-10}
  ROUNDS=${ROUNDS:-3} ROUND_DURATION=${ROUND_DURATION:-5}
  # The distinct tokens are sent in a cycle (below) of all but the first 20 000: one phase must
  # never come round to the tokens it sent itself, nor to the last verify.cache-size ones of
  # the phase before. The most misses measured in one phase here, 140 384 (~35 000/s for 4 s),
  # plus the cache's 10 000 fit in the cycle's 180 000. Checked after each phase by the
  # exporter's hit counter.
  MISS_TOKENS=${MISS_TOKENS:-200000}
fi
# benches/verify.toml leaves verify.cache-size at its default.
CACHE_SIZE=10000
# Where the cycle of distinct tokens comes round to (see the offset file below).
cycle_from=1
[ "$SMOKE" = 1 ] || cycle_from=$((2 * CACHE_SIZE + 1))
RATE=${RATE:-5000}
ROTATION=${ROTATION:-1000}
CONNECTIONS=${CONNECTIONS:-64}
target=${CARGO_TARGET_DIR:-target}

command -v wrk >/dev/null || { echo "verify.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
# One build of both, as the other scripts do: a `--bin` build alone resolves the dependencies'
# features without the dev-dependencies and would rebuild them all.
cargo build --release --quiet --bin skew-exporter --example verify_load
BIN=${BIN:-$target/release/skew-exporter}
load=$target/release/examples/verify_load
data=tests/data/verify

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s.%N)
"$load" sign --alg RS256 --key "$data/rsa.key.pem" --kid r1 --count "$MISS_TOKENS" >"$work/rs-distinct"
"$load" sign --alg RS256 --key "$data/rsa.key.pem" --kid r1 --count "$ROTATION" >"$work/rs-rotation"
"$load" sign --alg ES256 --key "$data/ec.key.pem" --kid e1 --count "$ROTATION" >"$work/es-rotation"
printf '== tokens: %d distinct RS256, %d RS256 and %d ES256 in rotation (%s bytes each), signed in %.1f s\n' \
  "$MISS_TOKENS" "$ROTATION" "$ROTATION" "$(head -c 2000 "$work/rs-rotation" | head -1 | tr -d '\n' | wc -c)" \
  "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')"

"$BIN" --config.file benches/verify.toml --web.listen-address 127.0.0.1:0 --ntp.server 127.0.0.1:9 \
  --log.level warn,skew_exporter::app=info 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q 'listening' "$work/log" && break; sleep 0.05; done
addr=$(grep -o 'address=[0-9.:]*' "$work/log" | head -1 | cut -d= -f2)
base="http://$addr"
curl -fsS "$base/healthz" >/dev/null
# One token of each file, the first (the distinct ones start after it, below).
for f in rs-distinct rs-rotation es-rotation; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(head -1 "$work/$f")" "$base/v1/verify")
  [ "$code" = 200 ] || { echo "a benchmark token ($f) was refused ($code)" >&2; exit 1; }
done
metric() { curl -fsS "$base/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
hits() { metric 'skew_verify_cache_requests_total{result="hit"}'; }
misses() { metric 'skew_verify_cache_requests_total{result="miss"}'; }

# The distinct tokens are consumed in order across phases, in a cycle: each phase starts where
# the last stopped (the offset file), so a token comes round again only after all the others
# were sent, long after the cache dropped it. Not the first ones: an empty quick_cache admits
# its first entries to its hot section, and tokens seen once never displace them (they leave
# at their `exp`), so the cycle comes round to token $cycle_from, not to 1; the first tokens
# are sent once, by the first phase (from the second: the first was the check above). A hit
# fails the run.
echo 2 >"$work/offset"
# Every request is formatted once, in `init` (before wrk starts its clock): `request()` only
# hands the next one out. `wrk.format` on every call cost the load generator CPU that, on the
# same two cores, the exporter then lacked: `/healthz` measured 9-11 % faster with requests
# formatted once, the hits 1-2 % (benches/README.md, sixth session), so ratios to `/healthz` are
# lower than with the per-call script of earlier sessions.
cat >"$work/tokens.lua" <<'EOF'
local requests, i, first = {}, 0, 1
init = function(args)
  local file = os.getenv("TOKENS")
  if file and file ~= "" then
    for line in io.lines(file) do
      requests[#requests + 1] = wrk.format("GET", nil, {["Authorization"] = "Bearer " .. line})
    end
    i = tonumber(os.getenv("OFFSET") or "1") - 1
    first = tonumber(os.getenv("CYCLE_FROM") or "1")
  else
    requests[1] = wrk.format("GET")
  end
end
request = function()
  i = i + 1
  if i > #requests then i = first end
  return requests[i]
end
done = function(summary, latency, requests)
  local f = io.open(os.getenv("WORK") .. "/sent", "w")
  f:write(summary.requests)
  f:close()
end
EOF

# The exporter's CPU time (user + system, clock ticks) from /proc, per request wrk completed:
# what a request costs the exporter alone, without the load generator's share of the cores.
exporter_cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ticks=$(getconf CLK_TCK)
fail=0
healthz_rps=
echo "== throughput: wrk -t1 -c$CONNECTIONS (load generator on the same machine)"
throughput() { # name path tokens-file seconds
  local offset=1 from=1
  if [ "$3" = "$work/rs-distinct" ]; then offset=$(cat "$work/offset") from=$cycle_from; fi
  local h0 m0 c0 out sent rps p99 bad errs ratio cpu
  h0=$(hits) m0=$(misses)
  c0=$(exporter_cpu)
  out=$(TOKENS=$3 OFFSET=$offset CYCLE_FROM=$from WORK=$work wrk -t1 -c"$CONNECTIONS" -d"$4s" --latency -s "$work/tokens.lua" "$base$2")
  sent=$(cat "$work/sent")
  cpu=$(awk -v a="$c0" -v b="$(exporter_cpu)" -v n="$sent" -v hz="$ticks" \
    'BEGIN {if (n > 0) printf "%.1f", (b - a) / hz / n * 1e6; else print "-"}')
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  errs=$(grep -o 'Socket errors:.*' <<<"$out" || true)
  [ -n "$healthz_rps" ] || healthz_rps=$rps
  ratio=$(awk -v a="$rps" -v b="$healthz_rps" 'BEGIN {print a / b}')
  last_ratio=$ratio last_cpu=$cpu
  local h=$(( $(hits) - h0 )) m=$(( $(misses) - m0 ))
  printf '%-22s %9s req/s  %5.3fx healthz  exporter %5s us/req  p99 %-8s cache hits %d misses %d%s%s\n' \
    "$1" "$rps" "$ratio" "$cpu" "$p99" "$h" "$m" "${bad:+   non-2xx $bad}" "${errs:+   $errs}"
  if [ -n "$bad" ] || [ -n "$errs" ]; then fail=1; fi
  if [ "$3" = "$work/rs-distinct" ]; then
    # wrk counts completed requests; up to one per connection was sent and not counted.
    local next=$((offset + sent + CONNECTIONS))
    [ "$next" -le "$MISS_TOKENS" ] || next=$(((next - cycle_from) % (MISS_TOKENS - cycle_from + 1) + cycle_from))
    echo "$next" >"$work/offset"
    if [ "$h" != 0 ]; then
      echo "  the distinct tokens ran out (hits > 0): raise MISS_TOKENS" >&2
      # A smoke run signs few tokens (its figures mean nothing): a note, not a failure.
      [ "$SMOKE" = 1 ] || fail=1
    fi
  fi
}
throughput healthz /healthz "" "$DURATION"
throughput "RS256 distinct (miss)" /v1/verify "$work/rs-distinct" "$MISS_DURATION"
throughput "RS256 1000 (hits)" /v1/verify "$work/rs-rotation" "$DURATION"
throughput "ES256 1000 (hits)" /v1/verify "$work/es-rotation" "$DURATION"
throughput "healthz again" /healthz "" "$DURATION"

# The misses and the hits again in rounds, each against a /healthz measured just before it: on
# this shared machine /healthz alone moved by up to 40 % within one run, so the median of the
# rounds' ratios is the steadier figure (benches/README.md).
echo "== misses (${MISS_DURATION}s) and hits (${ROUND_DURATION}s) in $ROUNDS rounds, each against the /healthz just before it"
miss_ratios=() rs_ratios=() es_ratios=() healthz_cpus=() miss_cpus=()
for r in $(seq "$ROUNDS"); do
  healthz_rps=
  throughput "round $r healthz" /healthz "" "$ROUND_DURATION"
  healthz_cpus+=("$last_cpu")
  throughput "round $r RS256 distinct" /v1/verify "$work/rs-distinct" "$MISS_DURATION"
  miss_ratios+=("$last_ratio") miss_cpus+=("$last_cpu")
  throughput "round $r RS256 hits" /v1/verify "$work/rs-rotation" "$ROUND_DURATION"
  rs_ratios+=("$last_ratio")
  throughput "round $r ES256 hits" /v1/verify "$work/es-rotation" "$ROUND_DURATION"
  es_ratios+=("$last_ratio")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
echo "median of the rounds: RS256 distinct (misses) $(median "${miss_ratios[@]}")x healthz, RS256 hits $(median "${rs_ratios[@]}")x healthz, ES256 hits $(median "${es_ratios[@]}")x healthz"
echo "median exporter CPU per request in the rounds: healthz $(median "${healthz_cpus[@]}") us, RS256 distinct (misses) $(median "${miss_cpus[@]}") us"

echo "== latency at a steady $RATE requests/s for ${PACE}s each (50 keep-alive connections)"
pace() { # name path tokens-file
  local out
  out=$("$load" pace --name "$1" --url "$base$2" ${3:+--tokens "$3"} --rate "$RATE" --duration "${PACE}s")
  echo "$out"
  grep -q ' non2xx=0 errors=0 ' <<<"$out" || fail=1
}
pace healthz /healthz ""
pace "RS256 1000" /v1/verify "$work/rs-rotation"
# Distinct tokens for the paced misses: the next ones of the cycle. One awk over the file twice
# (for the wrap), not `tail | head`: head closing the pipe early is a SIGPIPE that pipefail
# turns into the script's failure (exit 141 on a full run).
awk -v from="$(cat "$work/offset")" -v first="$cycle_from" -v n=$((RATE * PACE)) \
  'FNR < (FNR == NR ? from : first) {next} c < n {print; c++}' "$work/rs-distinct" "$work/rs-distinct" >"$work/rs-pace"
if [ "$(wc -l <"$work/rs-pace")" -lt $((RATE * PACE)) ]; then
  echo "  not enough distinct tokens left for the paced misses: raise MISS_TOKENS" >&2
  # A smoke run skips that phase rather than send requests without a token.
  [ "$SMOKE" = 1 ] || fail=1
else
  h0=$(hits)
  pace "RS256 distinct" /v1/verify "$work/rs-pace"
  [ "$(hits)" = "$h0" ] || { echo "  the paced distinct tokens hit the cache" >&2; fail=1; }
fi
pace "healthz again" /healthz ""

echo "== memory"
entries=$(metric skew_verify_cache_entries)
echo "skew_verify_cache_entries $entries (verify.cache-size default 10000)"
awk '/VmHWM|VmRSS/ {printf "%s %.1f MiB\n", $1, $2 / 1024}' "/proc/$pid/status"
[ "$SMOKE" = 1 ] || [ "$entries" = 10000 ] || { echo "  the cache is not full" >&2; fail=1; }

echo "== exporter counters"
curl -fsS "$base/metrics" |
  grep -E '^skew_(events_received_total\{transport="verify"\}|jwt_verifications_total|jwt_rejections_total|verify_cache)' || true
echo "== load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$fail" != 0 ]; then
  echo "FAILED: see above" >&2
  exit 1
fi
