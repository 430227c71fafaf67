#!/usr/bin/env bash
# Generator parity: the same tiny Qwen2 model (random weights, one folder) fine-tuned by Finelab
# (`finelab train`) and by PyTorch + transformers + peft (scripts/reference/hf_finetune_generator.py)
# with the same recipe on the same real dialogs, SEEDS seeds each side; train and dev loss per
# epoch, the best epoch, dev and test chrF / BLEU of greedy answers.
#
#     ./scripts/bench-generator-parity.sh [DATASETS] [SEEDS] [EPOCHS]
#
# DATASETS: a comma list of chatterbot corpora (zh, en; default both), from .cache/data/chatterbot
# (./scripts/setup.sh fetches them). SEEDS: a comma list (default 1,2). Environment: TUNING=lora
# (default) or full; HIDDEN, LAYERS, VOCAB (the tiny model: 128, 2, 2000); LR (2e-3), BATCH (8),
# RANK (16), ALPHA (32), DROPOUT (0.05), MAX_NEW (48), THREADS (2); OUT (bench-out/generator-parity).
# Results: OUT/DATASET/{finelab,pytorch}-seedN.json, OUT/summary.md, OUT/env.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
DATASETS=${1:-zh,en} SEEDS=${2:-1,2} EPOCHS=${3:-8}
TUNING=${TUNING:-lora} HIDDEN=${HIDDEN:-128} LAYERS=${LAYERS:-2} VOCAB=${VOCAB:-2000}
LR=${LR:-2e-3} BATCH=${BATCH:-8} RANK=${RANK:-16} ALPHA=${ALPHA:-32} DROPOUT=${DROPOUT:-0.05}
MAX_NEW=${MAX_NEW:-48} THREADS=${THREADS:-2}
OUT=${OUT:-bench-out/generator-parity}
PY=${FINELAB_PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
cargo build --release -p finelab-cli
FINELAB=$PWD/target/release/finelab
export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
{
  date -u
  lscpu | grep -E 'Model name|^CPU\(s\)'
  uptime
  git rev-parse --short HEAD
  "$PY" -c 'import torch, transformers, peft, sacrebleu; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__, "sacrebleu", sacrebleu.__version__)'
  echo "datasets=$DATASETS seeds=$SEEDS epochs=$EPOCHS tuning=$TUNING hidden=$HIDDEN layers=$LAYERS vocab=$VOCAB lr=$LR batch=$BATCH rank=$RANK alpha=$ALPHA dropout=$DROPOUT max_new=$MAX_NEW threads=$THREADS"
} > "$OUT/env.txt"

tuning_flags=(--lora-rank "$RANK" --lora-alpha "$ALPHA" --lora-dropout "$DROPOUT")
py_tuning=(--lora-rank "$RANK" --lora-alpha "$ALPHA" --lora-dropout "$DROPOUT")
if [ "$TUNING" = full ]; then tuning_flags=(--full-finetune); py_tuning=(--full-finetune); fi

for data in ${DATASETS//,/ }; do
  src=.cache/data/chatterbot/$data.jsonl
  [ -f "$src" ] || { echo "$src is missing: run ./scripts/setup.sh" >&2; exit 1; }
  dir=$OUT/$data
  rm -rf "$dir" && mkdir -p "$dir"
  # One project; Finelab assigns the splits (80/10/10, by dialog), the reference reads its export.
  "$FINELAB" new "$dir/project" --kind generate >/dev/null
  "$FINELAB" import "$dir/project" "$src" >/dev/null
  for split in train dev test; do
    "$FINELAB" export "$dir/project" --format openai --split "$split" -o "$dir/$split.jsonl"
  done
  "$FINELAB" make-tiny-model "$dir/base" --arch qwen2 --corpus "$dir/project" \
    --hidden "$HIDDEN" --layers "$LAYERS" --vocab "$VOCAB" --seed 7 >/dev/null
  for seed in ${SEEDS//,/ }; do
    echo "$data seed $seed: finelab" >&2
    start=$(date +%s.%N)
    "$FINELAB" train "$dir/project" --model "$dir/base" --device cpu --seed "$seed" --epochs "$EPOCHS" \
      --patience "$EPOCHS" --lr "$LR" --batch-size "$BATCH" --max-new-tokens "$MAX_NEW" "${tuning_flags[@]}" \
      --json-progress > "$dir/finelab-seed$seed.events.jsonl"
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    run=$(tail -n 1 "$dir/finelab-seed$seed.events.jsonl" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["run"])')
    "$FINELAB" eval "$dir/project" --run "$run" --split test --json > "$dir/finelab-seed$seed.test.json"
    "$FINELAB" eval "$dir/project" --run "$run" --split dev --json > "$dir/finelab-seed$seed.dev.json"
    echo "{\"seconds\": $seconds}" > "$dir/finelab-seed$seed.time.json"
    echo "$data seed $seed: pytorch" >&2
    "$PY" scripts/reference/hf_finetune_generator.py "$dir/base" "$dir/train.jsonl" "$dir/dev.jsonl" "$dir/test.jsonl" \
      --seed "$seed" --epochs "$EPOCHS" --patience "$EPOCHS" --lr "$LR" --batch-size "$BATCH" \
      --max-new-tokens "$MAX_NEW" --threads "$THREADS" "${py_tuning[@]}" 2>/dev/null > "$dir/pytorch-seed$seed.json"
  done
done

"$PY" - "$OUT" "$DATASETS" "$SEEDS" <<'EOF' | tee "$OUT/summary.md"
import json, sys
out, datasets, seeds = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
def lines(path):
    return [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
for data in datasets:
    d = f"{out}/{data}"
    runs = {}
    for seed in seeds:
        events = lines(f"{d}/finelab-seed{seed}.events.jsonl")
        epochs = [e for e in events if e["event"] == "epoch"]
        test, dev = json.load(open(f"{d}/finelab-seed{seed}.test.json")), json.load(open(f"{d}/finelab-seed{seed}.dev.json"))
        runs[f"Finelab seed {seed}"] = {
            "train": [e["train_loss"] for e in epochs], "dev": [-e["dev_macro_f1"] for e in epochs],
            "best": max((e["epoch"] for e in epochs if e.get("best")), default=None),
            "dev_chrf": dev["chrf"], "test_chrf": test["chrf"], "test_bleu": test["bleu"],
            "seconds": json.load(open(f"{d}/finelab-seed{seed}.time.json"))["seconds"],
        }
        ref = json.load(open(f"{d}/pytorch-seed{seed}.json"))
        runs[f"PyTorch seed {seed}"] = {
            "train": [e["train_loss"] for e in ref["epochs"]], "dev": [e["dev_loss"] for e in ref["epochs"]],
            "best": ref["best_epoch"], "dev_chrf": ref["dev"]["chrf"], "test_chrf": ref["test"]["chrf"],
            "test_bleu": ref["test"]["bleu"], "seconds": ref["seconds"],
        }
    n = max(len(r["train"]) for r in runs.values())
    print(f"\n### chatterbot {data}: train loss / dev loss per epoch (per target token)\n")
    print("| epoch | " + " | ".join(runs) + " |")
    print("|---" * (len(runs) + 1) + "|")
    for i in range(n):
        cells = [f"{r['train'][i]:.3f} / {r['dev'][i]:.3f}" if i < len(r["train"]) else "—" for r in runs.values()]
        print(f"| {i + 1} | " + " | ".join(cells) + " |")
    print(f"| best epoch | " + " | ".join(str(r["best"]) for r in runs.values()) + " |")
    print(f"| dev chrF | " + " | ".join(f"{r['dev_chrf']:.2f}" for r in runs.values()) + " |")
    print(f"| test chrF | " + " | ".join(f"{r['test_chrf']:.2f}" for r in runs.values()) + " |")
    print(f"| test BLEU | " + " | ".join(f"{r['test_bleu']:.2f}" for r in runs.values()) + " |")
    print(f"| seconds (train + both splits' answers) | " + " | ".join(f"{r['seconds']:.0f}" for r in runs.values()) + " |")
    mean = lambda side, key: sum(r[key] for k, r in runs.items() if k.startswith(side)) / len(seeds)
    print(f"\nmean test chrF: Finelab {mean('Finelab', 'test_chrf'):.2f}, PyTorch {mean('PyTorch', 'test_chrf'):.2f} "
          f"(difference {mean('Finelab', 'test_chrf') - mean('PyTorch', 'test_chrf'):+.2f}); "
          f"mean final dev loss: Finelab {sum(r['dev'][-1] for k, r in runs.items() if k.startswith('Finelab')) / len(seeds):.3f}, "
          f"PyTorch {sum(r['dev'][-1] for k, r in runs.items() if k.startswith('PyTorch')) / len(seeds):.3f}")
EOF
