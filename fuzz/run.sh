#!/usr/bin/env bash
# Builds the libFuzzer targets on the stable toolchain and runs each for a while: coverage-guided
# (SanitizerCoverage, the flags cargo-fuzz passes with `--sanitizer none`), without
# AddressSanitizer, which needs nightly (fuzz/README.md has the cargo-fuzz way with it).
#
#   bash fuzz/run.sh                      # every target, 300 s each
#   FUZZ_SECONDS=10 bash fuzz/run.sh      # CI: 10 s each
#   bash fuzz/run.sh event token          # only these targets
#
# Each target reads fuzz/seeds/<target> and fuzz/regressions/<target>, grows
# fuzz/corpus/<target> (git-ignored), and writes what fails to fuzz/artifacts/<target>/. Exits
# non-zero, after printing the input, as soon as a target fails.
set -euo pipefail
cd "$(dirname "$0")"

FUZZ_SECONDS=${FUZZ_SECONDS:-300}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(event token ingest config)
triple=$(rustc -vV | sed -n 's/^host: //p')

# --target keeps these flags off build scripts and proc-macros, which run on the host.
RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks" \
CARGO_TARGET_DIR=target cargo build --release --quiet --target "$triple" --bins

for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  inputs=("corpus/$t" "seeds/$t")
  [ -d "regressions/$t" ] && inputs+=("regressions/$t")
  opts=(-max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -artifact_prefix="artifacts/$t/")
  [ -f "dict/$t.dict" ] && opts+=(-dict="dict/$t.dict")
  log=$(mktemp)
  if ! "target/$triple/release/$t" "${inputs[@]}" "${opts[@]}" > "$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz/run.sh: target $t FAILED; the input is in fuzz/artifacts/$t/" >&2
    rm -f "$log"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
  echo "fuzz $t: ${FUZZ_SECONDS} s, $runs runs, $cov, no failure"
  rm -f "$log"
done
