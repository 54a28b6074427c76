#!/usr/bin/env bash
# Builds the broker (and the unit tests, if any) with GCC under sanitizers and runs the tests:
#   asan: -DMUSQRATT_SANITIZE=address,undefined into build-asan; unit tests, then the whole
#         integration suite.
#   tsan: -DMUSQRATT_SANITIZE=thread into build-tsan; the unit tests that start threads, then the
#         concurrency and the persistence integration tests (the whole suite with
#         SANITIZE_TSAN_ALL=1).
# Usage: scripts/sanitize.sh [asan|tsan|all]   (default all)
#
# The integration harness (tests/integration/conftest.py) sends the broker's stdout+stderr to
# $TMPDIR/musqratt-it-*/broker-*.log and keeps those files. We point TMPDIR at a fresh
# directory per stage and, after pytest, grep every broker log for sanitizer reports; any
# report fails the stage even if pytest passed (e.g. a leak reported at exit after SIGTERM).
# Env: SANITIZE_PYTEST_ARGS (extra pytest args), SANITIZE_TIMEOUT (seconds per pytest run, 330),
#      SANITIZE_TSAN_ALL=1: run the whole integration suite under TSan, not only concurrency,
#      SANITIZE_SNAPSHOT=1: build from a copy of the working tree (tracked + untracked files, in
#      <build-dir>/snapshot) so edits made while the build runs cannot mix two versions of a
#      header into one binary.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
stages=${1:-all}
jobs=$(nproc)
pytest_timeout=${SANITIZE_TIMEOUT:-330}
failed=()

report_pat='ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|ThreadSanitizer: |runtime error:|SUMMARY: (Address|Leak|Thread|UndefinedBehavior)Sanitizer'

build() {  # dir sanitize [cmake args...]
  local dir=$1 san=$2
  shift 2
  local src=.
  if [ "${SANITIZE_SNAPSHOT:-0}" = 1 ]; then
    src=$dir/snapshot
    rm -rf "$src" && mkdir -p "$src"
    git ls-files -z -co --exclude-standard | tar -cf - --null -T - | tar -C "$src" -xf -
    echo "== [$dir] building a snapshot of the working tree ($(git rev-parse --short HEAD) + local changes)"
  fi
  # A build dir configured from the other source dir (snapshot or not) must be reconfigured.
  if [ -f "$dir/CMakeCache.txt" ] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$(realpath "$src")" "$dir/CMakeCache.txt"; then
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  fi
  echo "== [$dir] configure + build (GCC, -fsanitize=$san)"
  cmake -S "$src" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) \
    -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DMUSQRATT_SANITIZE="$san" -DMUSQRATT_TESTS=ON -DMUSQRATT_FUZZ=OFF \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" "$@" >/dev/null
  # No -DNDEBUG: assert() keeps the owner-thread checks. -O1 -g1 builds faster than -O2 -g and
  # the reports still name function, file and line.
  local targets=(musqratt)
  if ninja -C "$dir" -t targets all 2>/dev/null | grep -q '^unit_tests:'; then targets+=(unit_tests); fi
  cmake --build "$dir" -j"$jobs" --target "${targets[@]}"
}

# Runs pytest on the given files with broker logs kept under $dir/it-logs, then scans them.
integration() {  # stage dir wrapper... -- pytest-args...
  local stage=$1 dir=$2; shift 2
  local wrapper=()
  while [ "$1" != "--" ]; do wrapper+=("$1"); shift; done
  shift
  local logs="$ROOT/$dir/it-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  echo "== [$stage] integration: pytest $* (broker logs in $logs)"
  local rc=0
  TMPDIR="$logs" MUSQRATT_KEEP_LOGS=1 MUSQRATT_BIN="$ROOT/$dir/bin/musqratt" \
    timeout -k 10 "$pytest_timeout" "${wrapper[@]}" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    ${SANITIZE_PYTEST_ARGS:-} "$@" || rc=$?
  [ $rc -eq 124 ] && echo "!! [$stage] pytest timed out after ${pytest_timeout}s"
  [ $rc -ne 0 ] && failed+=("$stage: integration tests (pytest exit $rc)")
  local hits
  hits=$(grep -rlE "$report_pat" "$logs" 2>/dev/null || true)
  local nlogs
  nlogs=$(find "$logs" -name 'broker-*.log' | wc -l)
  echo "== [$stage] scanned $nlogs broker logs for sanitizer reports"
  if [ -n "$hits" ]; then
    failed+=("$stage: sanitizer reports in $(echo "$hits" | wc -l) broker log(s)")
    for f in $hits; do
      echo "!! sanitizer report in $f:"
      grep -m1 -B2 -A30 -E "$report_pat" "$f" | head -45
      grep -E '^SUMMARY: ' "$f" | sort | uniq -c
    done
  fi
}

# The unit tests as one gtest process per core (GTEST_TOTAL_SHARDS), not one process per test
# as ctest does: a sanitizer runtime's start-up for each of ~550 tests costs minutes.
unit() {  # stage dir [wrapper...]
  local stage=$1 dir=$2; shift 2
  if [ ! -x "$dir/bin/unit_tests" ]; then
    echo "== [$stage] no unit tests (tests/unit has no *_test.cpp yet)"
    return
  fi
  echo "== [$stage] unit tests ($jobs shards)"
  local i pids=() rc
  for ((i = 0; i < jobs; i++)); do
    (cd "$dir" && GTEST_TOTAL_SHARDS=$jobs GTEST_SHARD_INDEX=$i timeout -k 10 900 "$@" bin/unit_tests \
       --gtest_brief=1 >"unit-shard-$i.log" 2>&1) &
    pids+=($!)
  done
  for ((i = 0; i < jobs; i++)); do
    rc=0
    wait "${pids[$i]}" || rc=$?
    grep -E '^\[==========\]' "$dir/unit-shard-$i.log" | tail -n 1 || true
    if [ $rc -ne 0 ] || grep -qE "$report_pat" "$dir/unit-shard-$i.log"; then
      failed+=("$stage: unit tests (shard $i exit $rc, log $dir/unit-shard-$i.log)")
      grep -E -B5 -A40 "^\[  FAILED  \]|$report_pat" "$dir/unit-shard-$i.log" | head -120 || true
    fi
  done
}

if [ "$stages" = all ] || [ "$stages" = asan ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  start=$SECONDS
  build build-asan address,undefined
  unit asan build-asan
  integration asan build-asan -- tests/integration
  echo "== [asan] took $((SECONDS - start))s"
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if [ "$stages" = all ] || [ "$stages" = tsan ]; then
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  start=$SECONDS
  # The unit tests that start threads (tests/unit/CMakeLists.txt); the others ran under ASan.
  build build-tsan thread -DMUSQRATT_UNIT_TESTS_THREADED_ONLY=ON
  # GCC 12's TSan runtime cannot cope with the 28+ bit mmap randomisation of recent kernels
  # ("FATAL: ThreadSanitizer: unexpected memory mapping"); run without ASLR in that case.
  # The personality is inherited, so wrapping pytest covers the brokers it starts.
  wrap=()
  if ! build-tsan/bin/musqratt --version >/dev/null 2>&1; then
    echo "== [tsan] broker fails to start under TSan with ASLR; running under setarch -R"
    wrap=(setarch "$(uname -m)" -R)
  fi
  unit tsan build-tsan "${wrap[@]}"
  mapfile -t conc < <(ls tests/integration/test_*concurren*.py tests/integration/test_*thread*.py 2>/dev/null || true)
  # Persistence too: the store's writer thread acknowledges publishes and pages queues back
  # into sessions that workers are using.
  conc+=(tests/integration/test_23_persistence.py)
  if [ "${SANITIZE_TSAN_ALL:-0}" = 1 ]; then conc=(tests/integration); fi
  integration tsan build-tsan "${wrap[@]}" -- "${conc[@]}"
  echo "== [tsan] took $((SECONDS - start))s"
fi

if [ ${#failed[@]} -ne 0 ]; then
  printf '!! FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "== sanitize: all stages passed"
