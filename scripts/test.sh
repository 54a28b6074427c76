#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests (GoogleTest via CTest), the integration
# suites that start the real broker on free loopback ports (over epoll, then io_uring, then
# a subset over io_uring with SQPOLL), the DPDK + lwIP transport in network namespaces, then
# the tests under ASan+UBSan and TSan, and each fuzzer for a bounded time.
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

# ---- io_uring transport: the integration suite again over --transport io_uring, when the
# build has it (liburing found) and the kernel lets us create a ring (io_uring_setup = 425).
if grep -q "^LIBURING_FOUND:INTERNAL=1" build/CMakeCache.txt 2>/dev/null && /usr/bin/python3 -c \
    'import ctypes; b = ctypes.create_string_buffer(120); exit(ctypes.CDLL(None).syscall(425, 1, b) < 0)'; then
  echo "== integration tests over io_uring"
  tests/integration/run_transport.sh io_uring
  # SQPOLL rings: the core files only (about 35 s); the polling threads make a full pass slow.
  echo "== integration tests over io_uring with SQPOLL (core files)"
  MUSQRATT_TRANSPORT_ARGS="--uring-sqpoll true" tests/integration/run_transport.sh io_uring \
    tests/integration/test_01_connect.py tests/integration/test_02_publish_qos.py \
    tests/integration/test_11_concurrency.py tests/integration/test_25_tls.py \
    tests/integration/test_28_uring_sqpoll.py
else
  echo "== integration tests over io_uring: skipped (built without liburing, or io_uring refused)"
fi

# ---- DPDK + lwIP transport: built with its own script, tested in network namespaces (root).
if [ "$(id -u)" = 0 ] && ip netns add musqratt-probe-$$ 2>/dev/null; then
  ip netns del musqratt-probe-$$
  echo "== DPDK + lwIP transport (network namespaces)"
  scripts/test-dpdk.sh
else
  echo "== DPDK + lwIP transport: skipped (needs root and network namespaces)"
fi

# ---- cluster on NATS: three NATS servers with JetStream and MusQraTT nodes on loopback ports,
# started by the tests (tests/cluster, about 3 minutes; needs nats-server and a build with libnats).
if grep -q "^LIBNATS_FOUND:INTERNAL=1" build/CMakeCache.txt 2>/dev/null && command -v nats-server >/dev/null; then
  echo "== cluster tests (NATS + JetStream, three MusQraTT nodes)"
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/cluster
else
  echo "== cluster tests: skipped (built without libnats, or no nats-server)"
fi

if [ "${MUSQRATT_QUICK:-0}" != 1 ]; then
  echo "== sanitizers: ASan+UBSan (unit + integration), TSan (unit + threaded integration)"
  scripts/sanitize.sh all
  echo "== fuzzing: each libFuzzer target for ${MUSQRATT_FUZZ_SECONDS:-20} s"
  scripts/fuzz.sh "${MUSQRATT_FUZZ_SECONDS:-20}"
fi

