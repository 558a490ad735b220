#!/usr/bin/env bash
# Wall time of the full `polyglot quickstart` from nothing (testbed built fresh) on this machine.
#   bash scripts/bench_quickstart.sh            # full
#   bash scripts/bench_quickstart.sh --tiny     # the test-sized run
# Prints the seconds of each stage and in total; the figures go in docs/quickstart.md.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s install
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "CPU cores: $(nproc); torch threads: $(.venv/bin/python -c 'import torch; print(torch.get_num_threads())')"
start=$(date +%s)
.venv/bin/polyglot quickstart --out "$out/quickstart" --testbed "$out/testbed" --no-progress "$@" >/dev/null
end=$(date +%s)
echo "quickstart total: $((end - start)) s (including Python start-up)"
.venv/bin/python - "$out/quickstart/summary.json" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
for stage, seconds in summary["seconds"].items():
    print(f"  {stage}: {seconds:.0f} s")
for row in summary["stages"]:
    print(row["benchmark"], {k: v for k, v in row["per_language"].items()})
PY
