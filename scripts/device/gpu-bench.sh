#!/usr/bin/env bash
# The transformer family (issue 4) on an NVIDIA GPU, beside PyTorch + transformers on the same GPU.
# Runs on a machine with a GPU, a driver and python3 with torch, transformers and the pip CUDA 13
# libraries (nvidia-cublas, -curand, -cuda-runtime), but no Rust: the binaries come prebuilt, from
# scripts/device/build-cuda.sh, in GPU_DIR (bin.tar.xz: bench_transformer and the test programs
# transformer_cuda and it, whose transformer_optim tests run; model/: MiniLM's config.json and tokenizer, no weights).
#   1. The CUDA tests: fused kernels equal the primitive ops and the CPU kernels (values and
#      gradients), GPU dropout, AdamW on the GPU equal to PyTorch's reference run.
#   2. Smoke: 20 training steps on one batch on the GPU; the loss must be finite and fall.
#   3. Speed: examples/bench_transformer (candle, CUDA) vs scripts/reference/bench_transformer_torch.py
#      (PyTorch eager + transformers), MiniLM's shape with random weights, batch x length in SHAPES,
#      f32 and bf16 mixed precision; training and inference samples/s; ROUNDS alternated rounds,
#      best of rounds reported. Also Finelab with its fused CUDA kernels off (FINELAB_CUDA_KERNELS=0).
# Usage: scripts/device/gpu-bench.sh [GPU_DIR] [OUT_DIR]   (defaults .gpu and $OUT or bench-out/gpu)
# Writes OUT_DIR/log.txt, results.jsonl, results.md, env.txt. Takes about 3 minutes on an H200.
set -uo pipefail
cd "$(dirname "$0")/../.."
G=${1:-.gpu}
OUT_DIR=${2:-${OUT:-bench-out/gpu}}
STEPS=${STEPS:-30}
ROUNDS=${ROUNDS:-2}
SHAPES=${SHAPES:-"16x64 32x64 16x128 32x128"}
DEVICE=${DEVICE:-cuda}   # cpu: a dry run of this script's logic where no GPU is (with SKIP_TESTS=1)
PY=${PY:-python3}
BIN=/tmp/finelab-gpu
mkdir -p "$OUT_DIR" "$BIN"
exec > >(tee -a "$OUT_DIR/log.txt") 2>&1
t_start=$SECONDS
say() { echo "== [$((SECONDS - t_start)) s] $*"; }

NV=$($PY -c 'import nvidia; print(list(nvidia.__path__)[0])')
LIBS=$(ls -d "$NV"/*/lib 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="${LIBS}/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}"
$PY -c "import tarfile; tarfile.open('$G/bin.tar.xz').extractall('$BIN')"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  $PY -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "tf32 matmul", torch.backends.cuda.matmul.allow_tf32)'
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  ldd "$BIN/bench_transformer"
} > "$OUT_DIR/env.txt" 2>&1
cat "$OUT_DIR/env.txt"

if [ "${SKIP_TESTS:-0}" != 1 ]; then
  say "1. CUDA tests"
  timeout 120 "$BIN/transformer_cuda" --test-threads=1 --nocapture; echo "transformer_cuda exit $?"
  timeout 60 "$BIN/it" transformer_optim --nocapture; echo "transformer_optim exit $?"
fi

: > "$OUT_DIR/results.jsonl"
ours() {  # ours KERNELS BATCH SEQ DTYPE [SMOKE]
  local line
  line=$(FINELAB_CUDA_KERNELS=$1 BENCH_SMOKE=${5:-0} timeout 90 "$BIN/bench_transformer" "$G/model" "$2" "$3" "$STEPS" "$2" "$DEVICE" "$4" 2>"$BIN/err.txt" | tail -1)
  if [ -z "$line" ]; then
    echo "finelab $*: FAILED: $(tail -3 "$BIN/err.txt")"
    line="{\"impl\": \"finelab (candle)\", \"batch\": $2, \"seq\": $3, \"dtype\": \"$4\", \"error\": \"failed\"}"
  fi
  echo "$line" | $PY -c "import json, sys; r = json.load(sys.stdin); r['kernels'] = '$1'; print(json.dumps(r))" | tee -a "$OUT_DIR/results.jsonl"
}

say "2. smoke: one batch, 20 steps, loss must be finite and fall"
for dtype in f32 bf16; do
  STEPS=20 ours 1 16 64 "$dtype" 1
done

for round in $(seq "$ROUNDS"); do
  say "3. speed, round $round: finelab"
  for shape in $SHAPES; do
    b=${shape%x*}; s=${shape#*x}
    ours 1 "$b" "$s" f32
    ours 1 "$b" "$s" bf16
    [ "$round" = 1 ] && ours 0 "$b" "$s" f32
  done
  say "3. speed, round $round: pytorch"
  timeout 240 $PY scripts/device/gpu_bench_torch.py "$G/model" "$STEPS" "$DEVICE" "$SHAPES" "f32 bf16" | tee -a "$OUT_DIR/results.jsonl"
done

say "4. summary"
$PY - "$OUT_DIR" <<'PYEOF'
import json, math, os, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(out, "results.jsonl")) if l.strip()]
ok = [r for r in rows if "error" not in r]
lines = []
smoke = [r for r in ok if r.get("smoke")]
for r in smoke:
    good = all(math.isfinite(r[k]) for k in ("first_loss", "last_loss")) and r["last_loss"] < r["first_loss"]
    lines.append(f"smoke {r['dtype']}: loss {r['first_loss']:.4f} -> {r['last_loss']:.4f} over {r['steps'] + 2} steps: {'ok' if good else 'FAILED'}")
bench = [r for r in ok if not r.get("smoke")]
def best(impl, kernels, dtype, b, s, key):
    vals = [r[key] for r in bench if r["impl"].startswith(impl) and r.get("dtype") == dtype and r["batch"] == b and r["seq"] == s
            and (impl != "finelab" or r.get("kernels") == kernels)]
    return max(vals) if vals else float("nan")
shapes = sorted({(r["batch"], r["seq"]) for r in bench}, key=lambda t: (t[1], t[0]))
lines.append("")
lines.append("| batch x length | precision | training samples/s finelab / pytorch (ratio) | inference samples/s finelab / pytorch (ratio) | finelab, fused kernels off: train / infer |")
lines.append("|---|---|---|---|---|")
for b, s in shapes:
    for dtype in ("f32", "bf16"):
        ft, pt = best("finelab", "1", dtype, b, s, "train_samples_per_s"), best("pytorch", None, dtype, b, s, "train_samples_per_s")
        fi, pi = best("finelab", "1", dtype, b, s, "infer_samples_per_s"), best("pytorch", None, dtype, b, s, "infer_samples_per_s")
        off = ""
        if dtype == "f32":
            off = f"{best('finelab', '0', 'f32', b, s, 'train_samples_per_s'):.0f} / {best('finelab', '0', 'f32', b, s, 'infer_samples_per_s'):.0f}"
        lines.append(f"| {b} x {s} | {dtype} | {ft:.0f} / {pt:.0f} (**{ft / pt:.2f}**) | {fi:.0f} / {pi:.0f} (**{fi / pi:.2f}**) | {off} |")
lines.append("")
lines.append("Per-phase ms a step (mean of rounds), forward / backward / optimizer:")
for b, s in shapes:
    for dtype in ("f32", "bf16"):
        for impl, kern in (("finelab", "1"), ("pytorch", None)):
            rs = [r for r in bench if r["impl"].startswith(impl) and r.get("dtype") == dtype and r["batch"] == b and r["seq"] == s
                  and (impl != "finelab" or r.get("kernels") == kern)]
            if rs:
                ph = " / ".join(f"{sum(r[k] for r in rs) / len(rs):.2f}" for k in ("forward_ms", "backward_ms", "optimizer_ms"))
                lines.append(f"- {b} x {s} {dtype} {impl}: {ph}")
failed = [r for r in rows if "error" in r]
if failed:
    lines.append("")
    lines.append(f"FAILED runs: {json.dumps(failed)}")
text = "\n".join(lines) + "\n"
open(os.path.join(out, "results.md"), "w").write(text)
print(text)
PYEOF
say "done"
