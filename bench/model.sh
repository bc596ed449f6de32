#!/usr/bin/env bash
# Training and sampling throughput of the transformer against an identical
# PyTorch model and optimiser (bench/model_peer.py), measured in one run on one
# machine, with the peak resident memory of every process. Installs torch from
# PyPI into bench/.venv the first time; CI never runs this.
#
# Usage: bench/model.sh
# Shares of peak FLOP/s take the rate of a 2048 x 2048 float32 matrix product
# in PyTorch, measured in the same run, as the CPU's peak. A virtual machine
# does not report its boost clock, so a nominal peak from the base clock can
# sit below what a matrix product reaches. PEAK_GFLOPS overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
fi
if ! bench/.venv/bin/python -c "import torch" 2>/dev/null; then
    bench/.venv/bin/pip install --quiet torch
fi

cargo bench --quiet -p selfcorrect-train --bench model --no-run 2>/dev/null
ours=$(cargo bench --quiet -p selfcorrect-train --bench model --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "model" and m.get("executable"):
        print(m["executable"])')

peak=${PEAK_GFLOPS:-$(bench/.venv/bin/python - <<'PY'
import time
import torch
a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
for _ in range(3):
    a @ b
best = 0.0
for _ in range(5):
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    best = max(best, 10 * 2 * 2048**3 / (time.perf_counter() - start) / 1e9)
print(f"{best:.0f}")
PY
)}
torch_version=$(bench/.venv/bin/python -c "import torch; print(torch.__version__)")
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, peak $peak GFLOP/s float32"
echo "peer: PyTorch $torch_version eager, $(bench/.venv/bin/python -c 'import torch; print(torch.get_num_threads())') threads"

measure() { # prints "tokens_per_second peak_rss_kib"
    local log
    log=$(mktemp)
    /usr/bin/time -f "%M" -o "$log" "$@" | awk '{ printf "%s ", $4 }'
    cat "$log"
    rm -f "$log"
}

printf '%-6s %-12s %12s %12s %7s %9s %9s %11s %11s\n' \
    mode model "ours tok/s" "torch tok/s" ratio "ours %pk" "torch %pk" "ours MiB" "torch MiB"
for run in "train 256 4" "train 512 8" "sample 256 4" "sample 512 8"; do
    set -- $run
    read -r our_rate our_rss <<<"$(measure "$ours" "$@")"
    read -r peer_rate peer_rss <<<"$(measure bench/.venv/bin/python bench/model_peer.py "$@")"
    PYTHONPATH=bench bench/.venv/bin/python - "$@" "$our_rate" "$our_rss" "$peer_rate" "$peer_rss" "$peak" <<'PY'
import sys
from model_peer import PRESETS, PROMPT_TOKENS, SAMPLE_TOKENS, TRAIN_SEQ, VOCAB_SIZE
mode, d, layers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ours, ours_rss, peer, peer_rss, peak = map(float, sys.argv[4:])
heads, kv_heads, ff = PRESETS[d]
kv = kv_heads * d // heads
# Weights used in matrix products per token: q, k, v, o, the MLP and the output head.
weights = layers * (2 * d * d + 2 * d * kv + 3 * d * ff) + d * VOCAB_SIZE
if mode == "train":
    # 6 FLOP per weight (forward and two backward products). Attention scores
    # and weighted values cost 4 x hidden FLOP per key and layer forward,
    # times 3 with the backward.
    flop = 6 * weights + 12 * layers * d * TRAIN_SEQ
else:
    # 2 FLOP per weight and attention over the cached keys, on average the
    # prompt and half the new tokens.
    flop = 2 * weights + 4 * layers * d * (PROMPT_TOKENS + SAMPLE_TOKENS / 2)
share = lambda rate: 100 * rate * flop / (peak * 1e9)
print(f"{mode:<6} {'d%d/L%d' % (d, layers):<12} {ours:>12.0f} {peer:>12.0f} {ours / peer:>6.2f}x"
      f" {share(ours):>8.1f}% {share(peer):>8.1f}% {ours_rss / 1024:>11.0f} {peer_rss / 1024:>11.0f}")
PY
done
