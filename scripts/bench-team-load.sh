#!/usr/bin/env bash
# A shared `finelab serve` under a labeling team: PEOPLE annotators (default 50), each signed in
# over HTTP with a name and password made by `finelab user add`, label EACH records (default 40)
# at once, as fast as the server answers, with overlap 2 (each record labeled by two people).
# Reports the round trip of one label (POST /api annotate, answered after the commit) p50 / p90 /
# p99 / max, and of asking for the next records (next_batch), the errors any client saw (must be
# none: no "database is locked"), and checks afterwards, from the project file, that every
# acknowledged label is there once and no record got more than two.
#
#     ./scripts/bench-team-load.sh [PEOPLE] [EACH]
#
# Results: OUT/summary.md (OUT=bench-out/team-load).
set -euo pipefail
cd "$(dirname "$0")/.."
PEOPLE=${1:-50} EACH=${2:-40}
OUT=${OUT:-bench-out/team-load}
PY=${FINELAB_PYTHON:-$PWD/.venv/bin/python}
cargo build --release -p finelab-cli
F=$PWD/target/release/finelab
rm -rf "$OUT" && mkdir -p "$OUT"
P=$OUT/project
"$F" new "$P" --kind single --labels pos,neg,neutral >/dev/null
"$PY" -c "
import json,sys
with open('$OUT/records.jsonl','w',encoding='utf-8') as f:
    for i in range($PEOPLE*$EACH//2+200):
        f.write(json.dumps({'id':f'r{i}','text':f'第{i}条评论：物流{\"很快\" if i%2 else \"太慢\"}，客服态度一般'},ensure_ascii=False)+'\n')
"
"$F" import "$P" "$OUT/records.jsonl" >/dev/null
"$F" settings "$P" --overlap 2 --retrain-every 0 >/dev/null
for i in $(seq 1 "$PEOPLE"); do
  "$F" user add "$P" "annotator$i" --role annotator --json
done > "$OUT/users.jsonl"
"$F" serve "$P" --addr 127.0.0.1:0 > "$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "Finelab serving" "$OUT/serve.log" && break; sleep 0.1; done
URL=$(grep -o 'http://[^ ]*' "$OUT/serve.log" | head -1)
BASE=${URL%%/?token=*}
"$PY" - "$BASE" "$P" "$OUT" "$EACH" <<'PYEOF'
import json, statistics, sys, threading, time, urllib.request, urllib.error
base, project, out, each = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
users = [json.loads(l) for l in open(f"{out}/users.jsonl")]

def post(path, body, cookie=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read()), r.headers.get("Set-Cookie")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), None

label_ms, next_ms, errors, acked = [], [], [], {}
lock = threading.Lock()
start = threading.Barrier(len(users))

def annotator(u):
    name, password = u["user"]["name"], u["password"]
    status, body, cookie = post("/signin", {"name": name, "password": password})
    if status != 200:
        with lock: errors.append(f"sign in {name}: {status} {body}")
        return
    cookie = cookie.split(";")[0]
    mine = []
    start.wait()
    while len(mine) < each:
        t = time.perf_counter()
        status, batch, _ = post("/api", {"cmd": "next_batch", "dir": project, "annotator": name, "n": 5, "strategy": "sequential"}, cookie)
        dt = (time.perf_counter() - t) * 1000
        if status != 200 or not batch["records"]:
            with lock: errors.append(f"next_batch {name}: {status} {batch}")
            return
        with lock: next_ms.append(dt)
        for r in batch["records"][: each - len(mine)]:
            seq = r["view"]["record"]["seq"]
            value = ["pos", "neg", "neutral"][(seq + len(mine)) % 3]
            t = time.perf_counter()
            status, body, _ = post("/api", {"cmd": "annotate", "dir": project, "seq": seq, "annotator": name,
                                            "action": {"action": "label", "value": {"label": value}}}, cookie)
            dt = (time.perf_counter() - t) * 1000
            if status != 200:
                with lock: errors.append(f"annotate {name} #{seq}: {status} {body}")
                continue
            with lock: label_ms.append(dt)
            mine.append((body["record_id"], value))
    with lock: acked[name] = mine

t0 = time.perf_counter()
threads = [threading.Thread(target=annotator, args=(u,)) for u in users]
for th in threads: th.start()
for th in threads: th.join()
wall = time.perf_counter() - t0

def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")
summary = {
    "people": len(users), "labels_each": each, "labels": len(label_ms), "wall_s": round(wall, 2),
    "labels_per_s": round(len(label_ms) / wall, 1), "errors": errors[:10], "n_errors": len(errors),
    "label_ms": {p: round(q(label_ms, p), 1) for p in (50, 90, 99, 100)},
    "next_batch_ms": {p: round(q(next_ms, p), 1) for p in (50, 90, 99, 100)},
}
json.dump({"summary": summary, "acked": acked}, open(f"{out}/load.json", "w"), ensure_ascii=False)
print(json.dumps(summary, ensure_ascii=False))
PYEOF
kill $SERVER; wait $SERVER 2>/dev/null || true
"$F" export "$P" --labeled-only --annotations -o "$OUT/export.jsonl" >/dev/null
"$PY" - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
load = json.load(open(f"{out}/load.json"))
stored = {}
for line in open(f"{out}/export.jsonl", encoding="utf-8"):
    r = json.loads(line)
    stored[r["id"]] = r.get("annotations", {})
over = [i for i, a in stored.items() if len(a) > 2]
missing = [(n, i) for n, mine in load["acked"].items() for i, v in mine if stored.get(i, {}).get(n, {}).get("label") != v]
twice = [n for n, mine in load["acked"].items() if len({i for i, _ in mine}) != len(mine)]
s = load["summary"]
ok = not over and not missing and not twice and s["n_errors"] == 0
with open(f"{out}/summary.md", "w") as f:
    f.write(f"{s['people']} annotators x {s['labels_each']} labels, overlap 2: {s['labels']} labels in {s['wall_s']} s "
            f"({s['labels_per_s']} labels/s)\n")
    f.write(f"label round trip ms p50 {s['label_ms']['50']} / p90 {s['label_ms']['90']} / p99 {s['label_ms']['99']} / max {s['label_ms']['100']}\n")
    f.write(f"next_batch ms p50 {s['next_batch_ms']['50']} / p90 {s['next_batch_ms']['90']} / p99 {s['next_batch_ms']['99']} / max {s['next_batch_ms']['100']}\n")
    f.write(f"client errors {s['n_errors']}; acknowledged labels missing {len(missing)}; served twice {len(twice)}; records over 2 labels {len(over)}\n")
print(open(f"{out}/summary.md").read())
sys.exit(0 if ok else 1)
PYEOF
