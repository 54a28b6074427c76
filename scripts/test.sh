#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests (GoogleTest via CTest), the integration
# suites that start the real broker on free loopback ports (over epoll, then io_uring, then
# a subset over io_uring with SQPOLL), the bridge suite (edges and real upstreams), the DPDK +
# lwIP transport in network namespaces, then the tests under ASan+UBSan and TSan, and each
# fuzzer for a bounded time.
# MUSQRATT_QUICK=1 skips the sanitizer and fuzzing stages (for a fast local loop).
# At the end (also after a failure) it prints the time each stage took and the total.
set -euo pipefail
cd "$(dirname "$0")/.."

# ---- stage timing: `stage TITLE` ends the running stage and starts the next; `skipped TITLE
# WHY` records one that does not run. The table is printed on exit, whatever the outcome.
stage_titles=()
stage_times=()
stage_title=""
stage_t0=""
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
total_t0=$(now)
end_stage() {
  [ -n "$stage_title" ] || return 0
  stage_titles+=("$stage_title")
  stage_times+=("$(since "$stage_t0")")
  stage_title=""
}
stage() {
  end_stage
  stage_title=$1
  stage_t0=$(now)
  echo "== $1"
}
skipped() {
  end_stage
  echo "== $1: skipped ($2)"
  stage_titles+=("$1")
  stage_times+=("skipped")
}
report() {
  local rc=$?
  [ -n "$stage_title" ] && [ "$rc" -ne 0 ] && stage_title="$stage_title (FAILED)"
  end_stage
  local i w=5
  for i in "${!stage_titles[@]}"; do (( ${#stage_titles[$i]} > w )) && w=${#stage_titles[$i]}; done
  echo
  printf '%-*s %9s\n' "$w" "stage" "seconds"
  for i in "${!stage_titles[@]}"; do printf '%-*s %9s\n' "$w" "${stage_titles[$i]}" "${stage_times[$i]}"; done
  printf '%-*s %9s\n' "$w" "total" "$(since "$total_t0")"
}
trap report EXIT

stage "dependencies (scripts/install-deps.sh)"
scripts/install-deps.sh
stage "build (scripts/build.sh)"
scripts/build.sh
stage "unit tests"
ctest --test-dir build --output-on-failure -j"$(nproc)"
export MUSQRATT_BIN="$PWD/build/bin/musqratt"
export MUSQRATT_CLI="$PWD/build/bin/musqratt-cli"
stage "integration tests (broker driven by real clients)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
stage "web tests (WebSocket and HTTP listeners: paho, MQTT.js in Node and Chromium, curl, promtool, Prometheus)"
# npm ci with no install scripts: puppeteer-core drives Debian's chromium and never downloads one.
(cd tests/web && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/web
# ---- bridges: MusQraTT edges forwarding to real upstreams (Mosquitto, MusQraTT, TLS, a
# three-node NATS cluster) and the link's faults counted end to end (about three minutes).
stage "bridge tests (edge to real upstreams, faults end to end)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/bridge
stage "musqratt-bench smoke runs (MusQraTT, Mosquitto, relay; no timing assertions)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/bench
stage "musqratt-cli tests"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/cli

# ---- The Debian package, built from the tree above (no second compile), installed here, run
# as its packaged user, upgraded, removed and purged. dpkg -i needs root.
if [ "$(id -u)" = 0 ]; then
  stage "Debian package (scripts/package.sh, dpkg -i, run as musqratt, upgrade, purge)"
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/package
else
  skipped "Debian package" "dpkg -i needs root"
fi

# ---- io_uring transport: the integration suite again over --transport io_uring, when the
# build has it (liburing found) and the kernel lets us create a ring (io_uring_setup = 425).
if grep -q "^LIBURING_FOUND:INTERNAL=1" build/CMakeCache.txt 2>/dev/null && /usr/bin/python3 -c \
    'import ctypes; b = ctypes.create_string_buffer(120); exit(ctypes.CDLL(None).syscall(425, 1, b) < 0)'; then
  stage "integration tests over io_uring"
  tests/integration/run_transport.sh io_uring
  # SQPOLL rings: the core files only (about 35 s); the polling threads make a full pass slow.
  stage "integration tests over io_uring with SQPOLL (core files)"
  MUSQRATT_TRANSPORT_ARGS="--uring-sqpoll true" tests/integration/run_transport.sh io_uring \
    tests/integration/test_01_connect.py tests/integration/test_02_publish_qos.py \
    tests/integration/test_11_concurrency.py tests/integration/test_25_tls.py \
    tests/integration/test_28_uring_sqpoll.py
  # The epoll workers batch their system calls through a ring here (epoll_batch_io, on by
  # default); their plain recv/sendmsg path, what a kernel without io_uring gets, is run too.
  stage "integration tests over epoll with one system call per connection (epoll_batch_io = false; core files)"
  MUSQRATT_TRANSPORT_ARGS="--epoll-batch-io false" tests/integration/run_transport.sh epoll \
    tests/integration/test_01_connect.py tests/integration/test_02_publish_qos.py \
    tests/integration/test_11_concurrency.py tests/integration/test_25_tls.py \
    tests/integration/test_54_large_payloads.py tests/integration/test_56_epoll_batch_io.py
else
  skipped "integration tests over io_uring" "built without liburing, or io_uring refused"
fi

# ---- DPDK + lwIP transport: built with its own script, tested in network namespaces (root).
if [ "$(id -u)" = 0 ] && ip netns add musqratt-probe-$$ 2>/dev/null; then
  ip netns del musqratt-probe-$$
  stage "DPDK + lwIP transport (network namespaces)"
  scripts/test-dpdk.sh
else
  skipped "DPDK + lwIP transport" "needs root and network namespaces"
fi

# ---- cluster on NATS: three NATS servers with JetStream and MusQraTT nodes on loopback ports,
# started by the tests (tests/cluster, about 3 minutes; needs nats-server and a build with libnats).
if grep -q "^LIBNATS_FOUND:INTERNAL=1" build/CMakeCache.txt 2>/dev/null && command -v nats-server >/dev/null; then
  stage "cluster tests (three NATS servers with JetStream, three MusQraTT nodes)"
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/cluster
else
  skipped "cluster tests" "built without libnats, or no nats-server"
fi

if [ "${MUSQRATT_QUICK:-0}" != 1 ]; then
  stage "sanitizers: ASan+UBSan (unit + integration), TSan (unit + threaded integration)"
  scripts/sanitize.sh all
  stage "fuzzing: each libFuzzer target for ${MUSQRATT_FUZZ_SECONDS:-10} s"
  scripts/fuzz.sh "${MUSQRATT_FUZZ_SECONDS:-10}"
else
  skipped "sanitizers and fuzzing" "MUSQRATT_QUICK=1"
fi

