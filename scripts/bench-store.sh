#!/usr/bin/env bash
# Store benchmark (issue 2): 1,000,000 generated mixed Chinese/English records (~65 characters).
# Finelab's import (with the search index), export, "next unlabeled" and search, beside the same
# operations done by the sqlite3 shell on the same data. Results: bench-out/store-results.txt.
# Usage: ./scripts/bench-store.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
OUT=bench-out
mkdir -p $OUT
cargo build --release --locked -p finelab-cli -p finelab-store --examples --bins >/dev/null 2>&1 || cargo build --release --locked -p finelab-cli -p finelab-store --examples --bins
FL=./target/release/finelab
RES=$OUT/store-results.txt
: > $RES
log() { echo "$*" | tee -a $RES; }
secs() { /usr/bin/time -f "%e %M" -o $OUT/time.txt "$@" >/dev/null 2>$OUT/stderr.txt || { cat $OUT/stderr.txt; exit 1; }; cat $OUT/time.txt; }

log "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release; echo $PRETTY_NAME), sqlite3 $(sqlite3 --version | cut -d' ' -f1)"
./target/release/examples/gen_records "$N" $OUT/records 2>&1 | tee -a $RES

for round in 1 2 3; do
  rm -rf $OUT/p
  $FL new $OUT/p --kind single --labels pos,neg >/dev/null
  read -r t rss < <(secs $FL import $OUT/p $OUT/records.jsonl)
  log "finelab import JSONL + search index (round $round): $t s, peak RSS $((rss / 1024)) MB"
done
rm -rf $OUT/q
$FL new $OUT/q --kind single --labels pos,neg >/dev/null
read -r t rss < <(secs $FL import $OUT/q $OUT/records.jsonl --no-index)
log "finelab import JSONL, no search index: $t s, peak RSS $((rss / 1024)) MB"
read -r t rss < <(secs $FL index $OUT/q)
log "finelab index (afterwards, alone): $t s, peak RSS $((rss / 1024)) MB"
rm -rf $OUT/c
$FL new $OUT/c --kind single --labels pos,neg >/dev/null
read -r t rss < <(secs $FL import $OUT/c $OUT/records.csv)
log "finelab import CSV + search index: $t s, peak RSS $((rss / 1024)) MB"
for round in 1 2 3; do
  read -r t rss < <(secs $FL export $OUT/p -o $OUT/export.jsonl)
  log "finelab export JSONL (round $round): $t s, peak RSS $((rss / 1024)) MB"
done
./target/release/examples/bench_queries $OUT/p | tee -a $RES

log "--- reference: the sqlite3 shell on the same data"
rm -f $OUT/ref.db
read -r t rss < <(secs sqlite3 $OUT/ref.db ".import --csv $OUT/records.csv t")
log "sqlite3 .import CSV (no index): $t s"
read -r t rss < <(secs sqlite3 $OUT/ref.db "CREATE VIRTUAL TABLE f USING fts5(text, tokenize='trigram'); INSERT INTO f(rowid, text) SELECT rowid, text FROM t;")
log "sqlite3 FTS5 trigram index over the imported table: $t s"
read -r t rss < <(secs sqlite3 $OUT/ref.db ".mode json" ".once $OUT/ref-export.json" "SELECT id, text FROM t;")
log "sqlite3 export (.mode json): $t s"
# The shell's timer has millisecond resolution; each query runs 5 times, the worst is shown.
q() { printf '.timer on\n%s\n%s\n%s\n%s\n%s\n' "$1" "$1" "$1" "$1" "$1" | sqlite3 $OUT/ref.db 2>&1 | grep -o 'real [0-9.]*' | sort -k2 -n | tail -1; }
log "sqlite3 next row after a rowid (SELECT ... WHERE rowid > 500000 LIMIT 1): $(q 'SELECT rowid, text FROM t WHERE rowid > 500000 LIMIT 1;')"
log "sqlite3 trigram MATCH '客服态度' LIMIT 50: $(q "SELECT rowid FROM f WHERE f MATCH '\"客服态度\"' LIMIT 50;")"
log "sqlite3 LIKE '%物流%' LIMIT 50 (2-character word: trigram cannot serve it): $(q "SELECT rowid FROM t WHERE text LIKE '%物流%' LIMIT 50;")"
log "sqlite3 LIKE '%不存在的词%' (no match: full scan): $(q "SELECT count(*) FROM t WHERE text LIKE '%不存在的词%';")"
echo "results in $RES"
