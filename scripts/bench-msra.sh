# Sourced by scripts/bench-transformer.sh and scripts/bench-whole-commands.sh (needs F, PY, DATA).
# msra_subsample Q N_TRAIN N_DEV N_TEST HIDDEN LAYERS: the MSRA NER subsample both sides train on.
# Train/dev come from msra_train.txt (90/10, seed 42), test from msra_test.txt, each subsampled
# (bench_transformer_report.py subsample) into Q/sub-{train,dev,test,all}.jsonl; Q/base is a small
# BERT with random weights and a character vocabulary of the subsample (`finelab make-tiny-model`),
# Q/project the spans project holding the subsample.
msra_subsample() {
  local Q=$1 n_train=$2 n_dev=$3 n_test=$4 hidden=$5 layers=$6
  mkdir -p "$Q"
  $F new "$Q/full" --kind spans --labels PER,LOC,ORG --seed 42 --split 0.9,0.1,0 >/dev/null
  $F import "$Q/full" "$DATA/msra/msra_train.txt" | sed -n 1p
  $F new "$Q/testfile" --kind spans --labels PER,LOC,ORG >/dev/null
  $F import "$Q/testfile" "$DATA/msra/msra_test.txt" --keep-duplicates | sed -n 1p
  for split in train dev; do $F export "$Q/full" --split $split -o "$Q/full-$split.jsonl"; done
  $F export "$Q/testfile" -o "$Q/full-test.jsonl"
  "$PY" scripts/bench_transformer_report.py subsample "$Q" "$n_train" "$n_dev" "$n_test"
  $F make-tiny-model "$Q/base" --corpus "$Q/sub-all.jsonl" --hidden "$hidden" --layers "$layers" --seed 1 >/dev/null
  $F new "$Q/project" --kind spans --labels PER,LOC,ORG --seed 42 >/dev/null
  # Kept: the two sides must see the same records (MSRA repeats some sentences across files).
  $F import "$Q/project" "$Q/sub-all.jsonl" --keep-duplicates | sed -n 1p
}
