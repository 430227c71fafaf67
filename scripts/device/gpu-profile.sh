#!/usr/bin/env bash
# Where Finelab's training step spends its GPU time: Nsight Compute's per-kernel summary (kernel
# durations only, clocks left alone) of examples/bench_transformer on CUDA, f32, MiniLM's shape,
# batch x length BATCH x SEQ, 2 warm-up + 1 timed training steps and 4 inference batches.
# Same inputs as gpu-bench.sh (GPU_DIR with bin.tar.xz and model/).
# The same for PyTorch's side. Usage: scripts/device/gpu-profile.sh [GPU_DIR] [OUT_DIR]
# (writes OUT_DIR/ncu-summary.txt and ncu-summary-torch.txt, prints the 30 largest of each).
set -uo pipefail
cd "$(dirname "$0")/../.."
G=${1:-.gpu}
OUT_DIR=${2:-${OUT:-bench-out/gpu}}
BATCH=${BATCH:-32}
SEQ=${SEQ:-128}
BIN=/tmp/finelab-gpu
mkdir -p "$OUT_DIR" "$BIN"
NV=$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])')
export LD_LIBRARY_PATH="$(ls -d "$NV"/*/lib | tr '\n' ':')/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}"
[ -x "$BIN/bench_transformer" ] || python3 -c "import tarfile; tarfile.open('$G/bin.tar.xz').extractall('$BIN')"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
echo "ncu: $NCU"
timeout 150 "$NCU" --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
  "$BIN/bench_transformer" "$G/model" "$BATCH" "$SEQ" 1 "$BATCH" cuda f32 > "$OUT_DIR/ncu-summary.txt" 2> "$OUT_DIR/ncu-err.txt"
echo "ncu exit $?"
# The same for PyTorch (scripts/reference/bench_transformer_torch.py, 1 timed step).
timeout 120 "$NCU" --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
  python3 scripts/reference/bench_transformer_torch.py "$G/model" "$BATCH" "$SEQ" 1 "$BATCH" 1 cuda f32 > "$OUT_DIR/ncu-summary-torch.txt" 2> "$OUT_DIR/ncu-err-torch.txt"
echo "ncu (pytorch) exit $?"
for f in "$OUT_DIR/ncu-summary.txt" "$OUT_DIR/ncu-summary-torch.txt"; do
echo "== $f"
python3 - "$f" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
# Blocks look like: "  kernel_name (grid)x(block), Context 1, Stream 7, Device 0, CC 9.0\n    Section: Command line profiler metrics\n    ... gpu__time_duration.sum  ns  min  max  avg" and "Invocations N".
rows = []
for block in re.split(r"\n(?=  \S)", text):
    head = block.strip().splitlines()[0] if block.strip() else ""
    inv = re.search(r"(\d+) kernel invocations|Invocations\s+(\d+)", block)
    dur = re.search(r"gpu__time_duration\.sum\s+(\S+)\s+([\d.,]+)\s+([\d.,]+)\s+([\d.,]+)", block)
    if inv and dur:
        n = int(inv.group(1) or inv.group(2))
        unit = dur.group(1)
        avg = float(dur.group(4).replace(",", ""))
        scale = {"ns": 1e-3, "nsecond": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3}.get(unit, 1.0)
        rows.append((n * avg * scale, n, avg * scale, head[:110]))
rows.sort(reverse=True)
total = sum(r[0] for r in rows)
print(f"kernels: {sum(r[1] for r in rows)} launches, {total / 1e3:.1f} ms GPU time in all")
for t, n, avg, name in rows[:30]:
    print(f"{t / 1e3:8.2f} ms {100 * t / max(total, 1e-9):5.1f}%  {n:6d} x {avg:8.1f} us  {name}")
PYEOF
done
