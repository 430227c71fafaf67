#!/usr/bin/env python3
"""PyTorch side of scripts/device/gpu-bench.sh: scripts/reference/bench_transformer_torch.py's
measurement for several shapes and dtypes in one process (one import of torch), one JSON line each.

    python3 scripts/device/gpu_bench_torch.py MODEL_DIR STEPS DEVICE "16x64 32x64 16x128 32x128" "f32 bf16"
"""
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from bench_transformer_torch import bench  # noqa: E402


def main():
    model_dir, steps, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    shapes = [tuple(int(v) for v in s.split("x")) for s in sys.argv[4].split()]
    dtypes = sys.argv[5].split()
    for dtype in dtypes:
        for batch, seq in shapes:
            try:
                record = bench(model_dir, batch, seq, steps, batch, 1, device, dtype)
            except Exception as e:  # one failing shape must not lose the others
                traceback.print_exc()
                record = {"impl": "pytorch", "dtype": dtype, "batch": batch, "seq": seq, "error": repr(e)}
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
