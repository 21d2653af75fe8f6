#!/usr/bin/env bash
# HTTP ingestion benchmark: POST /v1/events with NDJSON batches of 1 000 events from several
# concurrent clients on loopback, load generator on the same 2-core machine. Then checks that
# the exporter's counter equals the events the clients got a 202 for, reports peak RSS, fills
# every label slot (32 sources x 32 issuers) and times /metrics, and floods 1 M random issuers
# to show memory stays flat.
#
#   bash benches/http.sh             # 10 s of load, 4 clients
#   SMOKE=1 bash benches/http.sh     # 2 s, CI's check that it still works
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_LOAD=${SECONDS_LOAD:-10}
CLIENTS=${CLIENTS:-4}
if [ "${SMOKE:-0}" = 1 ]; then SECONDS_LOAD=2; fi

cargo build --release --quiet --bin skew-exporter --example loadgen
work=$(mktemp -d)
./target/release/skew-exporter --web.listen-address 127.0.0.1:0 --ntp.server 127.0.0.1:9 \
  --log.level warn,skew_exporter::app=info 2> "$work/log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q 'listening' "$work/log" && break; sleep 0.05; done
addr=$(grep -o 'address=[0-9.:]*' "$work/log" | head -1 | cut -d= -f2)
url="http://$addr"
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
echo "exporter pid $pid at $url, idle RSS $(rss) kB"

peak=0
( while kill -0 $pid 2>/dev/null; do r=$(rss); echo "$r"; sleep 0.1; done ) > "$work/rss" &
sampler=$!
result=$(./target/release/examples/loadgen "$url" "$CLIENTS" "$SECONDS_LOAD" 1000)
kill $sampler 2>/dev/null || true
peak=$(sort -n "$work/rss" | tail -1)
echo "load: $result"
accepted=$(echo "$result" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events_accepted"])')
counted=$(curl -s "$url/metrics" | awk '/^skew_events_received_total\{transport="http"\}/ {print $2}')
echo "events the clients got a 202 for: $accepted; skew_events_received_total{transport=\"http\"}: $counted"
[ "$accepted" = "$counted" ] || { echo "MISMATCH: events lost or double-counted" >&2; exit 1; }
echo "peak RSS during the load: $((peak / 1024)) MiB ($peak kB)"

echo "render: $(./target/release/examples/loadgen --labels "$url")"

before=$(rss)
python3 - "$url" <<'PY'
import sys, urllib.request, random
url = sys.argv[1] + "/v1/events"
for batch in range(100 if __import__("os").environ.get("SMOKE") != "1" else 5):
    body = "".join('{"iss":"https://%016x.example","outcome":"accepted"}\n' % random.getrandbits(64) for _ in range(10000))
    req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/x-ndjson"})
    urllib.request.urlopen(req).read()
PY
after=$(rss)
overflow=$(curl -s "$url/metrics" | awk '/^skew_label_overflow_total\{label="issuer"\}/ {print $2}')
echo "random-issuer flood: RSS $before kB before, $after kB after; issuer overflow counted: $overflow"
