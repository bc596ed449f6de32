#!/usr/bin/env bash
# Task generation and verification throughput against reasoning-gym, measured
# in one run on one machine. Installs reasoning-gym from PyPI into bench/.venv
# the first time; CI never runs this.
#
# Usage: bench/tasks.sh   (BENCH_SECONDS=2 sets the time per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet reasoning-gym
fi

ours=$(cargo bench --quiet -p selfcorrect-tasks --bench throughput 2>/dev/null)
peer=$(bench/.venv/bin/python bench/tasks_peer.py)

python3 - "$ours" "$peer" <<'PY'
import sys
def table(text):
    return {(t, op): float(v) for t, op, v in (line.split() for line in text.strip().splitlines())}
ours, peer = table(sys.argv[1]), table(sys.argv[2])
print(f"{'task':<12} {'op':<9} {'selfcorrect/s':>14} {'reasoning-gym/s':>16} {'ratio':>8}")
for key in ours:
    print(f"{key[0]:<12} {key[1]:<9} {ours[key]:>14.0f} {peer[key]:>16.0f} {ours[key] / peer[key]:>7.1f}x")
PY
