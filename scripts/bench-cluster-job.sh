#!/usr/bin/env bash
# The same recipe trained here (`finelab train`) and through a cluster job (`finelab export-job`,
# `accelerate launch` on two CPU processes with gloo, transformers' Trainer, `finelab import-run`):
# test macro-F1 of each, seed by seed, on real English reviews (Rotten Tomatoes snippets).
#
#     ./scripts/bench-cluster-job.sh [SEEDS] [N_RECORDS]
#
# SEEDS: comma list (default 1,2,3). N_RECORDS: reviews sampled (seeded) from
# .cache/data/rt/reviews.jsonl (default 3000; the project splits them 80/10/10). Environment:
# MODEL (a base encoder folder; default a tiny random BERT `finelab make-tiny-model` builds on the
# reviews, HIDDEN x LAYERS = 64 x 2), EPOCHS (6), LR (1e-3), BATCH (16), MAX_LEN (64), OUT
# (bench-out/cluster-job). Results: OUT/summary.md, OUT/env.txt, and every run's JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-1,2,3} N=${2:-3000}
EPOCHS=${EPOCHS:-6} LR=${LR:-1e-3} BATCH=${BATCH:-16} MAX_LEN=${MAX_LEN:-64} HIDDEN=${HIDDEN:-64} LAYERS=${LAYERS:-2}
OUT=${OUT:-bench-out/cluster-job}
PY=${FINELAB_PYTHON:-$PWD/.venv/bin/python}
cargo build --release -p finelab-cli
F=$PWD/target/release/finelab
rm -rf "$OUT" && mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
{
  date -u
  lscpu | grep -E 'Model name|^CPU\(s\)'
  uptime
  git rev-parse --short HEAD
  "$PY" -c 'import torch, transformers, accelerate; print("torch", torch.__version__, "transformers", transformers.__version__, "accelerate", accelerate.__version__)'
  echo "seeds=$SEEDS n=$N epochs=$EPOCHS lr=$LR batch=$BATCH max_len=$MAX_LEN model=${MODEL:-tiny ${HIDDEN}x$LAYERS}"
} > "$OUT/env.txt"
"$PY" - "$N" "$OUT/reviews.jsonl" <<'PYEOF'
import json, random, sys
n, out = int(sys.argv[1]), sys.argv[2]
rows = [json.loads(l) for l in open(".cache/data/rt/reviews.jsonl", encoding="utf-8")]
random.Random(0).shuffle(rows)
with open(out, "w", encoding="utf-8") as f:
    for r in rows[:n]:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
PYEOF
P=$OUT/project
"$F" new "$P" --kind single --labels fresh,rotten --seed 42 >/dev/null
"$F" import "$P" "$OUT/reviews.jsonl" | head -2
MODEL=${MODEL:-}
if [ -z "$MODEL" ]; then
  MODEL=$OUT/tiny-bert
  "$F" make-tiny-model "$MODEL" --corpus "$P" --hidden "$HIDDEN" --layers "$LAYERS" --seed 1 >/dev/null
fi
flags=(--epochs "$EPOCHS" --patience "$EPOCHS" --lr "$LR" --batch-size "$BATCH" --max-len "$MAX_LEN" --device cpu)
export OMP_NUM_THREADS=1
for seed in ${SEEDS//,/ }; do
  echo "seed $seed: finelab train" >&2
  "$F" train "$P" --model "$MODEL" "${flags[@]}" --seed "$seed" --json-progress | tail -n 1 > "$OUT/local-seed$seed.json"
  echo "seed $seed: cluster job (accelerate launch, 2 processes)" >&2
  "$F" export-job "$P" --model "$MODEL" "${flags[@]}" --seed "$seed" --out "$OUT/job-seed$seed" >/dev/null
  (cd "$OUT/job-seed$seed" && "$PY" -m accelerate.commands.launch --config_file accelerate_cpu.yaml train.py > trainer.log 2>&1)
  "$F" import-run "$P" "$OUT/job-seed$seed/output" --json > "$OUT/job-seed$seed.json"
done
"$PY" - "$OUT" "$SEEDS" <<'PYEOF' | tee "$OUT/summary.md"
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2].split(",")
rows = []
print("| seed | finelab train: best epoch, test macro-F1 | cluster job (Trainer, 2 processes): best epoch, test macro-F1 (Finelab's report of the imported run) | Trainer's own test macro-F1 | difference (job - local) |")
print("|---|---|---|---|---|")
for s in seeds:
    local = json.load(open(f"{out}/local-seed{s}.json"))
    job = json.load(open(f"{out}/job-seed{s}.json"))
    trainer = json.load(open(f"{out}/job-seed{s}/output/trainer_report.json"))
    rows.append((local["test_macro_f1"], job["test_macro_f1"]))
    print(f"| {s} | {local['best_epoch']}, {local['test_macro_f1']:.4f} | {trainer['best_epoch']}, {job['test_macro_f1']:.4f} | "
          f"{trainer['test']['macro_f1']:.4f} | {job['test_macro_f1'] - local['test_macro_f1']:+.4f} |")
loc, job = [r[0] for r in rows], [r[1] for r in rows]
sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
print(f"\nmean test macro-F1: finelab train {statistics.mean(loc):.4f} (sd {sd(loc):.4f}), cluster job {statistics.mean(job):.4f} (sd {sd(job):.4f}); "
      f"difference of the means {statistics.mean(job) - statistics.mean(loc):+.4f}")
PYEOF
