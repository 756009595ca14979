#!/usr/bin/env bash
# The whole suite on a busy machine: stress-ng keeps every core busy while
# scripts/test.sh runs RA_STRESS_RUNS times (default 3), on SQLite and PostgreSQL.
# A test that passes only on an idle machine is a defect; this finds it.
source "$(dirname "$0")/lib.sh"
apt_install stress-ng
cd "$ROOT"
runs=${RA_STRESS_RUNS:-3}
stress-ng --cpu "$(nproc)" --quiet &
hog=$!
trap 'kill $hog 2>/dev/null || true' EXIT
status=0
for i in $(seq "$runs"); do
  echo ">> run $i of $runs with stress-ng --cpu $(nproc) beside it (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  bash scripts/test.sh "$@" || status=1
done
exit $status
