#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests (GoogleTest via CTest), then the
# integration suites that start the real broker on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
echo "== unit tests"
ctest --test-dir build --output-on-failure -j"$(nproc)"
echo "== integration tests"
MUSQRATT_BIN="$PWD/build/bin/musqratt" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
