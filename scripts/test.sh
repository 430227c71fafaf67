#!/usr/bin/env bash
# Sets up and runs every test of Finelab: `./scripts/test.sh`. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export FINELAB_PYTHON="$PWD/.venv/bin/python"
export RUST_BACKTRACE=0
echo "== cargo test (all crates, all tests)"
cargo test --workspace --locked
echo "== all tests passed"
