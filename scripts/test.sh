#!/usr/bin/env bash
# Set up .venv and pass the tests: lint, unit tests on tiny models, and one end-to-end test that runs
# the real embedded model at smoke size through real vLLM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The report tests open pages in headless Chromium (Debian package); install it if it is missing.
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium
fi
if [ -z "${BENCH_DATA_DIR:-}" ] && [ -d ../shared/data ]; then export BENCH_DATA_DIR="$(cd ../shared/data && pwd)"; fi
.venv/bin/ruff check bench methods judges reports tests
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
