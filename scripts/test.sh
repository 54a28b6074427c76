#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests (GoogleTest via CTest), then the
# integration suites that start the real broker on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
echo "== unit tests"
ctest --test-dir build --output-on-failure -j"$(nproc)"
export MUSQRATT_BIN="$PWD/build/bin/musqratt"
export MUSQRATT_CLI="$PWD/build/bin/musqratt-cli"
echo "== integration tests (broker driven by real clients)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
echo "== musqratt-bench smoke runs (MusQraTT, Mosquitto, relay; no timing assertions)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/bench
echo "== musqratt-cli tests"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/cli
