#!/usr/bin/env bash
# Replay-ingestion benchmark: `skew-exporter analyze` against mtail on the same JSON-lines file,
# both measured in this one run, on this machine.
#
#   bash benches/replay.sh            # 1 000 000 events, 3 runs each, medians
#   SMOKE=1 bash benches/replay.sh    # 5 000 events, 1 run each: CI's check that it still works
#
# Reports events per CPU-second (user + sys from /usr/bin/time) for each tool, the ratio, the
# peak RSS, and checks that both count the same verifications, rejections and token-age buckets.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
RUNS=${RUNS:-3}
if [ "${SMOKE:-0}" = 1 ]; then N=5000; RUNS=1; fi
for tool in mtail /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "benches/replay.sh needs $tool (apt-get install mtail time)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Cargo's own default unless CARGO_TARGET_DIR says otherwise (as it does for cargo itself).
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin skew-exporter --example gen_events
"$target/release/examples/gen_events" "$N" > "$work/events.jsonl"
echo "file: $N events, $(du -h "$work/events.jsonl" | cut -f1); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

measure() { # name command...: prints "cpu_seconds max_rss_kb" per run into $work/$name.times
  local name=$1; shift
  : > "$work/$name.times"
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%U %S %M" -o "$work/$name.t" "$@" > "$work/$name.out" 2> "$work/$name.err"
    awk '{printf "%.3f %d\n", $1 + $2, $3}' "$work/$name.t" >> "$work/$name.times"
  done
}

measure skew "$target/release/skew-exporter" analyze --format prometheus "$work/events.jsonl"
measure mtail mtail -one_shot -one_shot_format prometheus -progs benches/mtail -logs "$work/events.jsonl"

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work" "$N" <<'PY'
import re, statistics, sys
work, n = sys.argv[1], int(sys.argv[2])
def times(name):
    rows = [l.split() for l in open(f"{work}/{name}.times")]
    cpu = statistics.median(float(r[0]) for r in rows)
    rss = max(int(r[1]) for r in rows)
    return cpu, rss, " ".join(r[0] for r in rows)
def samples(name):
    out = {}
    for line in open(f"{work}/{name}.out"):
        m = re.match(r'^([a-z_]+)\{(.*)\} (\S+)$', line.strip())
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            out.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return out
def total(s, name, key, keep=lambda l: True):
    agg = {}
    for labels, v in s.get(name, []):
        if keep(labels):
            k = tuple(labels.get(x, "") for x in key)
            agg[k] = agg.get(k, 0) + v
    return agg
s, m = samples("skew"), samples("mtail")
checks = [
    ("verifications by outcome", total(s, "skew_jwt_verifications_total", ["outcome"]), total(m, "jwt_verifications_total", ["outcome"])),
    ("rejections by reason", total(s, "skew_jwt_rejections_total", ["reason"]), total(m, "jwt_rejections_total", ["reason"])),
    ("age buckets by outcome", total(s, "skew_jwt_age_seconds_bucket", ["outcome", "le"]),
     {(o, str(float(le)) if le != "+Inf" else le): v for (o, le), v in total(m, "jwt_age_seconds_bucket", ["outcome", "le"]).items()}),
]
# Normalise skew's le strings the same way.
checks[2] = (checks[2][0], {(o, str(float(le)) if le != "+Inf" else le): v for (o, le), v in checks[2][1].items()}, checks[2][2])
ok = True
for what, a, b in checks:
    keys = set(a) | set(b)
    same = len(a) > 0 and all(a.get(k, 0) == b.get(k, 0) for k in keys)
    ok &= same
    print(f"agree on {what}: {'yes' if same else 'NO'} ({len(a)} series)")
    if not same:
        for k in sorted(keys):
            if a.get(k, 0) != b.get(k, 0):
                print(f"   {k}: skew-exporter {a.get(k)} mtail {b.get(k)}")
sc, sr, sruns = times("skew"); mc, mr, mruns = times("mtail")
sc, mc = max(sc, 0.001), max(mc, 0.001)  # /usr/bin/time counts in 10 ms steps
print(f"skew-exporter analyze: median {sc:.3f} CPU-s, {n / sc / 1e6:.2f} M events per CPU-second, peak RSS {sr / 1024:.1f} MiB (runs: {sruns} CPU-s)")
print(f"mtail -one_shot:       median {mc:.3f} CPU-s, {n / mc / 1e6:.3f} M events per CPU-second, peak RSS {mr / 1024:.1f} MiB (runs: {mruns} CPU-s)")
print(f"ratio: {mc / sc:.1f}x mtail per CPU-second")
sys.exit(0 if ok else 1)
PY
