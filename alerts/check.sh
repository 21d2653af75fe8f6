#!/bin/sh
# Checks the Prometheus rule files (alerts and recording rules) and runs their unit tests with
# promtool.
#   alerts/check.sh            (from anywhere; PROMTOOL=/path/to/promtool to pick a binary)
# Exits non-zero when a rule is invalid or a test fails.
# The rule files are generated from the mixin (mixin/generate.sh); the tests are not.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
promtool=${PROMTOOL:-promtool}

if ! command -v "$promtool" >/dev/null 2>&1; then
    echo "check.sh: promtool not found (install Prometheus' promtool or set PROMTOOL)" >&2
    exit 2
fi

cd "$here"
# Every rule file: the alerts (skew-exporter.rules.yml) and the fleet recording rules
# (skew-exporter.recording.rules.yml); every test file in tests/.
"$promtool" check rules ./*.rules.yml
"$promtool" test rules tests/*.yml
