#!/usr/bin/env bash
# Generator family speed, Finelab (candle) against PyTorch + transformers + peft, side by side in one
# run: a Qwen2.5-0.5B-shaped model with random weights (vocabulary 151,936 tied to the output layer),
# LoRA r=16 on the 7 projections, batch BATCH x SEQ tokens, f32, the same thread count on both sides.
# The two sides alternate (ABAB, ROUNDS rounds) because the machine may be shared.
#
#     ./scripts/bench-generator.sh [LAYERS] [BATCH] [SEQ] [STEPS] [THREADS] [ROUNDS]
#
# Results (OUT=DIR to change): bench-out/generator/speed.jsonl (one JSON line per run) and bench-out/generator/env.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
LAYERS=${1:-2} BATCH=${2:-4} SEQ=${3:-256} STEPS=${4:-3} THREADS=${5:-2} ROUNDS=${6:-2}
OUT=${OUT:-bench-out/generator}
mkdir -p "$OUT"
cargo build --release -p finelab-train --example bench_generator
{
  date -u
  lscpu | grep -E 'Model name|^CPU\(s\)'
  uptime
  echo "layers=$LAYERS batch=$BATCH seq=$SEQ steps=$STEPS threads=$THREADS rounds=$ROUNDS"
} > "$OUT/env.txt"
: > "$OUT/speed.jsonl"
export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round: finelab" >&2
  line=$(./target/release/examples/bench_generator "$LAYERS" "$BATCH" "$SEQ" "$STEPS")
  echo "{\"side\": \"finelab\", \"round\": $round, \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\", \"result\": $line}" >> "$OUT/speed.jsonl"
  echo "round $round: pytorch" >&2
  line=$(.venv/bin/python scripts/reference/bench_generator_torch.py "$LAYERS" "$BATCH" "$SEQ" "$STEPS" "$THREADS" 2>/dev/null)
  echo "{\"side\": \"pytorch\", \"round\": $round, \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\", \"result\": $line}" >> "$OUT/speed.jsonl"
done
cat "$OUT/env.txt" "$OUT/speed.jsonl"
