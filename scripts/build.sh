#!/usr/bin/env bash
# Configures and builds MusQraTT into build/ (Release by default; BUILD_TYPE, BUILD_DIR and
# CMAKE_ARGS override).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
