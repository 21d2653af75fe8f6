#!/usr/bin/env bash
# /metrics end to end with every label slot filled (issue 6), against a peer serving the same
# bytes. Starts the release exporter on 127.0.0.1, fills 32 sources x 32 issuers with
# `loadgen --labels` (one accepted and one expired event per pair; it prints the median of 50
# scrapes with its blocking reqwest client), saves one body, serves that file with nginx
# (sendfile, no work per request) on 127.0.0.1, then scrapes both the same number of times with
# curl (time to first byte and total) and with `loadgen --labels` (nginx answers its POST with
# 202). The nginx figures are what the client and loopback cost for these bytes; the difference
# is the exporter's.
#
#   bash benches/scrape.sh           # 50 curl scrapes of each
#   SMOKE=1 bash benches/scrape.sh   # 5
set -euo pipefail
cd "$(dirname "$0")/.."
SCRAPES=${SCRAPES:-50}
if [ "${SMOKE:-0}" = 1 ]; then SCRAPES=5; fi
NGINX=${NGINX:-/usr/sbin/nginx}
bin=${CARGO_TARGET_DIR:-target}/release

cargo build --release --quiet --bin skew-exporter --example loadgen
work=$(mktemp -d)
chmod 755 "$work"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

"$bin/skew-exporter" --web.listen-address 127.0.0.1:0 --ntp.server 127.0.0.1:9 \
  --log.level warn,skew_exporter::app=info 2> "$work/log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'listening' "$work/log" && break; sleep 0.05; done
exporter="http://$(grep -o 'address=[0-9.:]*' "$work/log" | head -1 | cut -d= -f2)"

echo "uptime: $(uptime)"
echo "exporter, loadgen --labels: $("$bin/examples/loadgen" --labels "$exporter")"
curl -sf -o "$work/metrics.txt" "$exporter/metrics"
chmod 644 "$work/metrics.txt"
echo "body: $(wc -c < "$work/metrics.txt") bytes, $(grep -vc '^#' "$work/metrics.txt") sample lines"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=""
if [ "$(id -u)" = 0 ]; then user="user root;"; fi
cat > "$work/nginx.conf" <<EOF
$user
worker_processes 1;
pid $work/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_max_body_size 16m;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi;
    scgi_temp_path $work/scgi;
    server {
        listen 127.0.0.1:$port;
        location = /v1/events { return 202 '{"accepted":2048}'; }
        location = /metrics {
            default_type "text/plain; version=0.0.4";
            alias $work/metrics.txt;
        }
    }
}
EOF
"$NGINX" -p "$work" -c "$work/nginx.conf" -e "$work/nginx.err" -g 'daemon off;' &
pids+=($!)
peer="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf -o /dev/null "$peer/metrics" && break; sleep 0.05; done

# Median time to first byte and total of $SCRAPES curl scrapes, in ms.
timed() {
  for _ in $(seq "$SCRAPES"); do
    curl -sf -o /dev/null -w '%{time_starttransfer} %{time_total} %{size_download}\n' "$1"
  done | python3 -c '
import statistics, sys
rows = [l.split() for l in sys.stdin]
ttfb = statistics.median(float(r[0]) for r in rows) * 1e3
total = statistics.median(float(r[1]) for r in rows) * 1e3
print("{\"scrapes\":%d,\"median_ttfb_ms\":%.2f,\"median_total_ms\":%.2f,\"body_bytes\":%s}" % (len(rows), ttfb, total, rows[-1][2]))'
}
echo "exporter, curl:           $(timed "$exporter/metrics")"
echo "nginx (same bytes), curl: $(timed "$peer/metrics")"
echo "nginx (same bytes), loadgen --labels: $("$bin/examples/loadgen" --labels "$peer")"
echo "uptime: $(uptime)"
