#!/usr/bin/env bash
# Finelab's GGUF exports in llama.cpp: a generate project of real chatterbot dialogs (English and
# Chinese), tiny generators of each architecture (Qwen2, Qwen3, Llama; rows of 256 values, so
# q4_K_M's k-quants are used) fully fine-tuned on it, each run exported with
# `finelab optimize --method q8_0` and `--method q4_k_m`; then every file is
#   - read back by llama.cpp's `gguf` package (scripts/reference/check_gguf.py: metadata, tokens,
#     merges, template, every tensor within its format's rounding of the f32 weights), and
#   - loaded by llama.cpp (llama-cpp-python), which must tokenize the rendered prompts as
#     `tokenizers` does and answer them greedily word for word as `finelab serve-model` serving the
#     quantized run (scripts/reference/gguf_llama_cpp_check.py).
#
#     ./scripts/gguf-check.sh [N_PROMPTS] [MAX_TOKENS]     (default 40 24)
#
# llama-cpp-python is an sdist: its own environment (.venv-gguf) compiles llama.cpp once (about
# 15 minutes on 2 cores). Results: OUT/summary.jsonl (OUT=bench-out/gguf-check).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-40}
MAX_TOKENS=${2:-24}
OUT=${OUT:-bench-out/gguf-check}
VENV=.venv-gguf
PORT=${PORT:-18471}
if ! "$VENV/bin/python" -c "import llama_cpp, gguf, tokenizers" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  CMAKE_ARGS="-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
    "$VENV/bin/pip" install --quiet "llama-cpp-python==0.3.36" "gguf==0.19.0" "tokenizers" "safetensors" "numpy"
fi
PY=$PWD/$VENV/bin/python
[ -f .cache/data/chatterbot/en.jsonl ] || ./scripts/fetch-data.sh
cargo build --locked -p finelab-cli
F=$PWD/target/debug/finelab
rm -rf "$OUT" && mkdir -p "$OUT"
{ date -u; lscpu | grep -E 'Model name|^CPU\(s\)'; git rev-parse --short HEAD; "$PY" -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__)"; } > "$OUT/env.txt"

# The project: 300 English and 150 Chinese dialogs; prompts: N dialogs of the test split's kind,
# taken from the end of the files (not trained on).
"$PY" - "$OUT" "$N" <<'PYEOF'
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
rows = {lang: [json.loads(l) for l in open(f".cache/data/chatterbot/{lang}.jsonl", encoding="utf-8") if l.strip()] for lang in ("en", "zh")}
with open(f"{out}/chat.jsonl", "w", encoding="utf-8") as f:
    for r in rows["en"][:300] + rows["zh"][:150]:
        f.write(json.dumps({"id": r["id"], "messages": r["messages"]}, ensure_ascii=False) + "\n")
with open(f"{out}/prompts.jsonl", "w", encoding="utf-8") as f:
    held = rows["en"][-(n - n // 3):] + rows["zh"][-(n // 3):]
    for r in held:
        f.write(json.dumps({"messages": [m for m in r["messages"] if m["role"] != "assistant"][:1]}, ensure_ascii=False) + "\n")
PYEOF
"$F" new "$OUT/project" --kind generate > /dev/null
"$F" import "$OUT/project" "$OUT/chat.jsonl" > /dev/null

SERVER_PID=
stop_server() { [ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
trap stop_server EXIT
status=0
for arch in qwen2 qwen3 llama; do
  "$F" make-tiny-model "$OUT/$arch" --arch "$arch" --corpus "$OUT/project" --hidden 256 --layers 2 > /dev/null
  "$F" train "$OUT/project" --model "$OUT/$arch" --epochs 3 --lr 0.003 --full-finetune --max-new-tokens "$MAX_TOKENS" --seed 1 > "$OUT/train-$arch.log"
  parent=$("$F" runs "$OUT/project" --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
  for quant in q8_0 q4_k_m; do
    "$F" optimize "$OUT/project" --run "$parent" --method "$quant" > "$OUT/optimize-$arch-$quant.txt"
    dir=$("$F" runs "$OUT/project" --json | "$PY" -c "import json,sys; r=json.load(sys.stdin)[0]; print(r['model_dir'])")
    dir="$OUT/project/$dir"
    file="$dir/model-$quant.gguf"
    "$PY" scripts/reference/check_gguf.py "$file" "$dir" > "$OUT/gguf-$arch-$quant.json" || status=1
    "$F" serve-model "m=$dir" --addr "127.0.0.1:$PORT" > "$OUT/server.out" 2> "$OUT/server.err" &
    SERVER_PID=$!
    for _ in $(seq 300); do grep -q "serving models at" "$OUT/server.out" 2>/dev/null && break; sleep 0.1; done
    "$PY" scripts/reference/gguf_llama_cpp_check.py "$file" "$dir" "$OUT/prompts.jsonl" "http://127.0.0.1:$PORT" "$MAX_TOKENS" \
      | tee -a "$OUT/summary.jsonl" || status=1
    stop_server
  done
done
exit $status
