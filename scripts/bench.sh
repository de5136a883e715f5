#!/usr/bin/env bash
# Run every benchmark; each prints JSON lines (our figure, the baseline from the same run, the
# ratio). Lines are also collected in bench/results/latest.jsonl. BENCH_ARGS=--quick shortens.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
out=bench/results/latest.jsonl
: > "$out"
status=0
for script in bench/*.py; do
  name=$(basename "$script" .py)
  case "$name" in __init__|common) continue ;; esac
  echo "# $name" >&2
  if ! .venv/bin/python "$script" ${BENCH_ARGS:-} | tee -a "$out"; then
    echo "# $name FAILED" >&2
    status=1
  fi
done
exit $status
