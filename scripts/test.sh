#!/usr/bin/env bash
# Set up .venv and pass the tests: lint, unit tests on tiny models, and one end-to-end test that runs
# the real embedded model at smoke size through real vLLM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${BENCH_DATA_DIR:-}" ] && [ -d ../shared/data ]; then export BENCH_DATA_DIR="$(cd ../shared/data && pwd)"; fi
.venv/bin/ruff check bench methods judges reports tests
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
