#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang-19 (-fsanitize=fuzzer,address,undefined)
# into build-fuzz/ and runs each for SECONDS (default 30) on a copy of its seed corpus.
# Fails if any target crashes, leaks, times out or trips a sanitizer; the reproducer is left in
# build-fuzz/fuzz-work/<target>/artifacts/ (replay: build-fuzz/bin/<target> <file>).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]    (targets: fuzz_decoder fuzz_topic
#        fuzz_connection_engine fuzz_session_driver fuzz_config fuzz_bridge_config fuzz_http_request
#        fuzz_ws_frame fuzz_cluster_wire; default all). See docs/fuzzing.md.
# FUZZ_SNAPSHOT=1 builds from a copy of the working tree (build-fuzz/snapshot), so edits made
# during the build cannot mix two versions of a header into one binary.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
secs=${1:-30}
shift || true
all=(fuzz_decoder fuzz_topic fuzz_connection_engine fuzz_session_driver fuzz_config fuzz_bridge_config fuzz_http_request
     fuzz_ws_frame fuzz_cluster_wire)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

missing=()
for p in clang-19 libclang-rt-19-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -ne 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  echo "== installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

src=.
if [ "${FUZZ_SNAPSHOT:-0}" = 1 ]; then
  src=build-fuzz/snapshot
  rm -rf "$src" && mkdir -p "$src"
  git ls-files -z -co --exclude-standard | tar -cf - --null -T - | tar -C "$src" -xf -
fi
if [ -f build-fuzz/CMakeCache.txt ] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$(realpath "$src")" build-fuzz/CMakeCache.txt; then
  rm -rf build-fuzz/CMakeCache.txt build-fuzz/CMakeFiles
fi
echo "== configure + build build-fuzz (clang-19, sources: $src)"
cmake -S "$src" -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
  -DMUSQRATT_FUZZ=ON -DMUSQRATT_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  work=$ROOT/build-fuzz/fuzz-work/$t
  rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "fuzz/corpus/$t/." "$work/corpus/"
  opts=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1
        -artifact_prefix="$work/artifacts/")
  # These two log or print errors on stderr for almost every input; libFuzzer keeps its own
  # output and sanitizer reports on a duplicate of stderr.
  case $t in fuzz_session_driver|fuzz_config) opts+=(-close_fd_mask=2) ;; esac
  echo "== $t: ${secs}s (log: $work/fuzz.log)"
  rc=0
  (cd "$work" && TMPDIR="$work" "$ROOT/build-fuzz/bin/$t" "${opts[@]}" corpus >fuzz.log 2>&1) || rc=$?
  grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb' "$work/fuzz.log" | sed 's/^/   /' || true
  if [ $rc -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
    failed+=("$t")
    echo "!! $t failed (exit $rc); artifacts: $(ls "$work/artifacts" | tr '\n' ' ')"
    grep -m1 -A40 -E 'ERROR: |runtime error|fuzz_[a-z_]+: |deadly signal' "$work/fuzz.log" | head -50 || tail -40 "$work/fuzz.log"
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "!! FAILED: ${failed[*]}"
  exit 1
fi
echo "== fuzz: all ${#targets[@]} target(s) ran ${secs}s without findings"
