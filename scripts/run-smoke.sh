#!/usr/bin/env bash
# Set up .venv and run the main job on the embedded default model:
#   bench run --methods exo,dpo,bon --task tldr --preset smoke
# Data: $BENCH_DATA_DIR, else ../shared/data beside the checkout, else the Hugging Face hub.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${BENCH_DATA_DIR:-}" ] && [ -d ../shared/data ]; then export BENCH_DATA_DIR="$(cd ../shared/data && pwd)"; fi
exec .venv/bin/bench run --methods exo,dpo,bon --task tldr --preset smoke "$@"
