#!/bin/sh
# Renders the mixin (mixin/render.jsonnet, default _config) into the files the repository
# ships: alerts/skew-exporter.rules.yml, alerts/skew-exporter.recording.rules.yml,
# dashboards/*.json and examples/kubernetes/prometheusrule.yaml.
#   mixin/generate.sh            (from anywhere; JSONNET=/path/to/jsonnet to pick a binary)
#   mixin/generate.sh OUTDIR [CONFIG.jsonnet]
#                                (write under OUTDIR instead of the repository, with the
#                                 _config overrides in CONFIG.jsonnet, e.g.
#                                 mixin/tests/custom-config.jsonnet)
# Needs jsonnet (Debian package `jsonnet`; go-jsonnet works too) and python3 (mixin/write.py
# lays the YAML out: jsonnet's own std.manifestYamlDoc takes a minute of CPU on these files).
# tests/mixin.rs fails while a checked-in file differs from what the mixin renders.
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
out=${1:-$root}
jsonnet=${JSONNET:-jsonnet}
if ! command -v "$jsonnet" >/dev/null 2>&1; then
    echo "generate.sh: jsonnet not found (apt-get install jsonnet, or set JSONNET)" >&2
    exit 2
fi
if [ -n "${2:-}" ]; then
    set -- --tla-code-file "config=$2"
else
    set --
fi
"$jsonnet" -J "$root/mixin" "$@" "$root/mixin/render.jsonnet" | python3 "$root/mixin/write.py" "$out"
