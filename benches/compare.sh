#!/usr/bin/env bash
# This tree against an earlier revision, in one run on this machine: replay CPU-seconds,
# HTTP events per second and /metrics render time, each measured with the two binaries
# alternated (base, new, base, new, ...) so that both see the same neighbours' load; then replay
# again with both binaries running at once on separate cores (the steadier ratio).
#
#   BASE=e15b795 bash benches/compare.sh          # 3 rounds, 1 M events, 10 s of HTTP load
#   BASE=HEAD~5 RUNS=5 bash benches/compare.sh
#   SMOKE=1 BASE=HEAD bash benches/compare.sh     # seconds: checks the script still works
#
# The base revision is built from a temporary `git worktree` into $target/compare-base (its own
# release build, so the first run takes a while). The load generator and the event generator
# are this tree's (examples/loadgen.rs, examples/gen_events.rs) for both binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${BASE:?set BASE to the revision to compare against, e.g. BASE=HEAD~1}
RUNS=${RUNS:-3}
N=${N:-1000000}
SECONDS_LOAD=${SECONDS_LOAD:-10}
CLIENTS=${CLIENTS:-4}
if [ "${SMOKE:-0}" = 1 ]; then RUNS=1; N=5000; SECONDS_LOAD=1; fi
for tool in /usr/bin/time python3 curl git; do
  command -v "$tool" >/dev/null || { echo "benches/compare.sh needs $tool" >&2; exit 1; }
done

target=${CARGO_TARGET_DIR:-target}
target=$(cd "$(dirname "$target")" && pwd)/$(basename "$target")
work=$(mktemp -d)
base_tree="$work/base-tree"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null
  git worktree remove --force "$base_tree" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rev=$(git rev-parse --short "$BASE")
git worktree add --quiet --detach "$base_tree" "$rev"
(cd "$base_tree" && CARGO_TARGET_DIR="$target/compare-base" cargo build --release --quiet --bin skew-exporter)
cargo build --release --quiet --bin skew-exporter --example loadgen --example gen_events
base_bin="$target/compare-base/release/skew-exporter"
new_bin="$target/release/skew-exporter"
"$target/release/examples/gen_events" "$N" > "$work/events.jsonl"
echo "base $rev, new $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + uncommitted changes')"
echo "replay file: $N events; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

start() { # binary: starts it on an ephemeral loopback port, sets $pid and $url
  "$1" --web.listen-address 127.0.0.1:0 --ntp.server 127.0.0.1:9 \
    --log.level warn,skew_exporter::app=info 2> "$work/log" &
  pid=$!
  for _ in $(seq 200); do grep -q 'listening' "$work/log" && break; sleep 0.05; done
  url="http://$(grep -o 'address=[0-9.:]*' "$work/log" | head -1 | cut -d= -f2)"
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

for name in base new; do : > "$work/$name.replay"; : > "$work/$name.http"; : > "$work/$name.render"; done
for round in $(seq "$RUNS"); do
  for name in base new; do
    bin=${name}_bin; bin=${!bin}
    /usr/bin/time -f "%U %S" -o "$work/t" "$bin" analyze --format prometheus "$work/events.jsonl" > "$work/$name.out"
    awk '{printf "%.3f\n", $1 + $2}' "$work/t" >> "$work/$name.replay"
    start "$bin"
    "$target/release/examples/loadgen" "$url" "$CLIENTS" "$SECONDS_LOAD" 1000 | field events_per_s >> "$work/$name.http"
    stop
    start "$bin"
    "$target/release/examples/loadgen" --labels "$url" | field median_ms >> "$work/$name.render"
    stop
  done
  echo "round $round done; load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
# Replay again, both binaries at the same time, one per core (taskset), swapping cores each
# round: they share whatever the neighbours do at that moment, so the per-round ratio is far
# steadier than the alternated runs above on this shared machine (one after the other, the
# second of a pair ran up to 15 % slower or faster depending on the order).
: > "$work/together"
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  for round in $(seq $((RUNS * 4))); do
    if [ $((round % 2)) = 0 ]; then cb=0; cn=1; else cb=1; cn=0; fi
    /usr/bin/time -f "%U %S" -o "$work/tb" taskset -c $cb "$base_bin" analyze --format prometheus "$work/events.jsonl" > /dev/null &
    /usr/bin/time -f "%U %S" -o "$work/tn" taskset -c $cn "$new_bin" analyze --format prometheus "$work/events.jsonl" > /dev/null &
    wait
    echo "$(awk '{print $1 + $2}' "$work/tb") $(awk '{print $1 + $2}' "$work/tn")" >> "$work/together"
  done
fi
# The two binaries must agree on what they counted (the families both have).
grep '^skew_jwt_verifications_total\|^skew_jwt_rejections_total' "$work/base.out" | sort > "$work/base.counts"
grep '^skew_jwt_verifications_total\|^skew_jwt_rejections_total' "$work/new.out" | sort > "$work/new.counts"
cmp -s "$work/base.counts" "$work/new.counts" || { echo "MISMATCH: replay counts differ" >&2; diff "$work/base.counts" "$work/new.counts" | head >&2; exit 1; }

python3 - "$work" "$N" <<'PY'
import statistics, sys
work, n = sys.argv[1], int(sys.argv[2])
def read(name, what):
    return [float(l) for l in open(f"{work}/{name}.{what}") if l.strip()]
rows = [("replay CPU-s (lower is better)", "replay"), ("HTTP events/s (higher is better)", "http"),
        ("/metrics render, 32x32 pairs, median ms (lower is better)", "render")]
for title, what in rows:
    b, w = read("base", what), read("new", what)
    mb, mw = statistics.median(b), statistics.median(w)
    ratio = mw / mb if mb else float("nan")
    print(f"{title}: base {b} median {mb:g}; new {w} median {mw:g}; new/base {ratio:.3f}")
    if what == "replay":
        print(f"  = base {n / max(mb, 0.01) / 1e6:.2f} M, new {n / max(mw, 0.01) / 1e6:.2f} M events per CPU-second")
rows = [tuple(map(float, l.split())) for l in open(f"{work}/together") if l.strip()]
if len(rows) >= 4:
    r = sorted(w / b for b, w in rows if b > 0)
    q = statistics.quantiles(r, n=4)
    print(f"replay, both at once on separate cores, {len(r)} rounds: new/base CPU per round "
          f"median {statistics.median(r):.3f} (quartiles {q[0]:.3f}..{q[2]:.3f}); "
          f"base median {statistics.median(b for b, _ in rows):g} s, new {statistics.median(w for _, w in rows):g} s")
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
