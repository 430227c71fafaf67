#!/usr/bin/env bash
# Sets up and runs every test of Finelab: `./scripts/test.sh`. `.ci/run` calls this.
#   1. Rust: rustfmt and clippy (-D warnings), then every crate's unit and integration tests (real SQLite files, the real `finelab`
#      binary, the real HTTP server; metrics against scikit-learn and seqeval in .venv).
#   2. UI: type check, Vitest unit tests, production build.
#   3. Browser: Playwright (Debian's chromium) against a real `finelab serve`.
#   4. Window: the real desktop app under Xvfb, driven by tauri-driver + WebKitWebDriver.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export FINELAB_PYTHON="$PWD/.venv/bin/python"
export RUST_BACKTRACE=0
step() { echo; echo "==== $* ($(date +%H:%M:%S))"; }

step "UI: type check, unit tests, build"
(cd ui && npm run check && npm test && npm run build)

step "Rust: format (rustfmt.toml) and lints (clippy, -D warnings)"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust: cargo test (all crates, all tests)"
# The desktop app is built here too, with its UI embedded (ui/dist is built above) and the features
# the tests resolve, so the window step only packages it: `tauri build` would resolve the app's
# features alone and compile the whole dependency tree again.
cargo build --workspace --bins --tests --locked --features finelab-desktop/custom-protocol
cargo test --workspace --locked --features finelab-desktop/custom-protocol

# The browser and window steps use the `finelab` that `cargo test --workspace` just built (a
# `cargo build -p finelab-cli` would compile it again for its own feature set: 9 minutes here).
step "Browser: Playwright against finelab serve"
FINELAB_E2E_BIN="$PWD/target/debug/finelab" tests/e2e/run.sh

step "Window: the desktop app under Xvfb with tauri-driver (debug build)"
FINELAB_WINDOW_CLI="$PWD/target/debug/finelab" FINELAB_WINDOW_BUNDLE_ONLY=1 tests/window/run.sh

step "all tests passed"
