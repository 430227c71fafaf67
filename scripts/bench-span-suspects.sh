#!/usr/bin/env bash
# Noise recovery for spans: corrupt a known 10 % of the MSRA sentences that hold an entity (seeded:
# an entity removed, its type changed, or its end moved by one character), then find them.
# `finelab suspects` (5-fold cross-validation of the instant tagger; gold spans a confident
# out-of-fold prediction contradicts, confident spans the annotator missed) beside scikit-learn's
# out-of-fold per-character tag probabilities given to cleanlab's token-classification ranking
# (scripts/reference/span_suspects_sklearn_cleanlab.py).
#
#     ./scripts/bench-span-suspects.sh [N_SENTENCES] [SEEDS]      (default 2000 1,2,3)
#
# Results: OUT/summary.md (OUT=bench-out/span-suspects).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000} SEEDS=${2:-1,2,3}
OUT=${OUT:-bench-out/span-suspects}
PY=${FINELAB_PYTHON:-$PWD/.venv/bin/python}
[ -s .cache/data/msra/msra_train.txt ] || ./scripts/fetch-data.sh
cargo build --release -p finelab-cli
F=$PWD/target/release/finelab
rm -rf "$OUT" && mkdir -p "$OUT"
{
  date -u; lscpu | grep -E 'Model name|^CPU\(s\)'; uptime; git rev-parse --short HEAD
  "$PY" -c 'import cleanlab, sklearn; print("cleanlab", cleanlab.__version__, "scikit-learn", sklearn.__version__)'
  echo "sentences=$N seeds=$SEEDS"
} > "$OUT/env.txt"
echo "| seed | corrupted (k) | Finelab: suspects, precision@k, recall@k, recall (all suspects), seconds | scikit-learn + cleanlab: flagged, precision@k, recall@k, recall (all flagged), seconds |" > "$OUT/summary.md"
echo "|---|---|---|---|" >> "$OUT/summary.md"
for seed in ${SEEDS//,/ }; do
  d=$OUT/$seed
  mkdir -p "$d"
  # N sentences (a seeded draw from the training file), BMES tags read into code-point spans,
  # then 10 % of those with an entity corrupted.
  "$PY" - "$N" "$seed" "$d" <<'PYEOF'
import json, random, sys
n, seed, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
raw = open(".cache/data/msra/msra_train.txt", encoding="utf-8").read().replace("\r\n", "\n")
blocks = [b for b in raw.split("\n\n") if b.strip()]
rng = random.Random(seed)
rows = []
for bi in sorted(rng.sample(range(len(blocks)), n)):
    chars, spans, start = [], [], None
    for line in blocks[bi].split("\n"):
        parts = line.split()
        if len(parts) < 2:
            continue
        ch, tag = parts[0], parts[-1]
        i = len(chars)
        chars.append(ch)
        kind, _, typ = tag.partition("-")
        if kind in ("B", "S"):
            start = i
        if kind == "S" or (kind == "E" and start is not None):
            spans.append({"start": start, "end": i + 1, "label": typ})
            start = None
        if kind == "O":
            start = None
    rows.append({"id": f"m{bi}", "text": "".join(chars), "spans": spans})
types = sorted({s["label"] for r in rows for s in r["spans"]})
with_spans = [i for i, r in enumerate(rows) if r["spans"]]
corrupt = set(rng.sample(with_spans, len(with_spans) // 10))
for i in sorted(corrupt):
    spans = rows[i]["spans"]
    j = rng.randrange(len(spans))
    how = rng.choice(["drop", "type", "end"])
    if how == "drop":
        spans.pop(j)
    elif how == "type":
        spans[j]["label"] = rng.choice([t for t in types if t != spans[j]["label"]])
    else:
        s = spans[j]
        longer = s["end"] + 1
        free = longer <= len(rows[i]["text"]) and all(o["start"] >= longer or o["end"] <= s["start"] for o in spans if o is not s)
        s["end"] = longer if free and (s["end"] - s["start"] == 1 or rng.random() < 0.5) else s["end"] - 1
with open(f"{d}/records.jsonl", "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
with open(f"{d}/corrupted.txt", "w") as g:
    g.write("\n".join(rows[i]["id"] for i in sorted(corrupt)) + "\n")
json.dump({"types": types}, open(f"{d}/types.json", "w"))
PYEOF
  types=$("$PY" -c "import json; print(','.join(json.load(open('$d/types.json'))['types']))")
  "$F" new "$d/project" --kind spans --labels "$types" >/dev/null
  "$F" import "$d/project" "$d/records.jsonl" --keep-duplicates >/dev/null
  start=$(date +%s.%N)
  "$F" suspects "$d/project" --json > "$d/finelab.json"
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  "$PY" scripts/reference/span_suspects_sklearn_cleanlab.py "$d/records.jsonl" > "$d/reference.json"
  "$PY" - "$d" "$seed" "$secs" <<'PYEOF' >> "$OUT/summary.md"
import json, sys
d, seed, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
bad = set(open(f"{d}/corrupted.txt").read().split())
k = len(bad)
ours = [s["id"] for s in json.load(open(f"{d}/finelab.json"))["suspects"]]
ref = json.load(open(f"{d}/reference.json"))
def at_k(ids):
    hit = sum(i in bad for i in ids[:k])
    return f"{hit / k:.3f}, {hit / k:.3f}"
def recall(ids):
    return f"{sum(i in bad for i in ids) / k:.3f}"
print(f"| {seed} | {k} | {len(ours)}, {at_k(ours)}, {recall(ours)}, {secs:.1f} | {len(ref['flagged'])}, {at_k(ref['ranked'])}, {recall(ref['flagged'])}, {ref['seconds']:.1f} |")
PYEOF
done
cat "$OUT/env.txt" "$OUT/summary.md"
