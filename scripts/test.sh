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
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends postgresql
fi
if [ -z "${BENCH_DATA_DIR:-}" ] && [ -d ../shared/data ]; then export BENCH_DATA_DIR="$(cd ../shared/data && pwd)"; fi
# A throwaway PostgreSQL server on 127.0.0.1 for the tests that run bench on PostgreSQL (Debian package).
source scripts/postgres.sh
start_test_postgres
trap stop_test_postgres EXIT
.venv/bin/ruff check bench methods judges reports tests benchmarks
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
