#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests (GoogleTest via CTest), the integration
# suites that start the real broker on free loopback ports, then the same tests under
# ASan+UBSan and TSan, and each fuzzer for a bounded time.
# MUSQRATT_QUICK=1 skips the sanitizer and fuzzing stages (for a fast local loop).
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

if [ "${MUSQRATT_QUICK:-0}" != 1 ]; then
  echo "== sanitizers: ASan+UBSan (unit + integration), TSan (unit + threaded integration)"
  scripts/sanitize.sh all
  echo "== fuzzing: each libFuzzer target for ${MUSQRATT_FUZZ_SECONDS:-20} s"
  scripts/fuzz.sh "${MUSQRATT_FUZZ_SECONDS:-20}"
fi
