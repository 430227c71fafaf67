#!/usr/bin/env bash
# Sourced by the CUDA build scripts: CUDA 13.0 from PyPI wheels into .cache/cuda13 (nvcc, its nvvm
# and crt, the runtime, cuBLAS, cuRAND, NVRTC headers and libraries), on a machine with no GPU and no
# CUDA toolkit. 13.0 because the GPU machines' driver 580 runs CUDA 13.0 PTX.
# Then the loader shims (scripts/device/cuda_shims.py) that the binaries link against instead of
# libcuda / libcublas / libcublasLt / libcurand / libnvrtc: a binary built here starts on a machine
# without the NVIDIA driver (or without the CUDA libraries) and trains on the CPU there.
# Exports CUDA_HOME, CUDA_COMPUTE_CAP (default 90 = H100/H200), CUDARC_CUDA_VERSION, PATH and
# FINELAB_CUDA_SHIMS (the folder of the shims, to ship beside the binary).
set -euo pipefail
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
# Only the shims may answer -lcuda, -lcublas, ...: no unversioned library in the toolkit folder
# (an older build script made such links) and no driver stub.
rm -f "$C"/lib/lib{cuda,cudart,cublas,cublasLt,curand,nvrtc}.so "$C"/lib/stubs/libcuda.so
SHIMS=$ROOT/finelab-shims
if [ ! -s "$SHIMS/libcuda.so" ] || [ scripts/device/cuda_shims.py -nt "$SHIMS/libcuda.so" ]; then
  "$PY" scripts/device/cuda_shims.py "$C/lib" "$SHIMS"
fi
export CUDA_HOME=$C CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90} CUDARC_CUDA_VERSION=13000 PATH=$C/bin:$PATH
export FINELAB_CUDA_SHIMS=$SHIMS
