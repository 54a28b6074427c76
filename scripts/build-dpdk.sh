#!/usr/bin/env bash
# Builds MusQraTT with the DPDK + lwIP transport into build-dpdk/ (BUILD_DIR overrides):
# installs DPDK and the test tools from Debian, fetches lwIP's source with `apt-get source lwip`
# into $BUILD_DIR/_deps/ (lwIP is not vendored), then configures with MUSQRATT_DPDK=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build_dir=${BUILD_DIR:-build-dpdk}
mkdir -p "$build_dir/_deps"
deps=$(cd "$build_dir/_deps" && pwd)

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)

# Packages: the project's usual ones plus DPDK, the namespace tools and apt-get source's helper.
# dpdk-dev also brings dpdk-testpmd, the memif peer of tests/dpdk (ports.sh).
MUSQRATT_EXTRA_PACKAGES="dpdk-dev libdpdk-dev pkg-config ethtool iproute2 dpkg-dev xz-utils procps ${MUSQRATT_EXTRA_PACKAGES:-}" \
  bash scripts/install-deps.sh

# lwIP 2.1 source from Debian (needs deb-src entries; added beside the deb ones when missing).
lwip_dir=$(find "$deps" -maxdepth 1 -type d -name 'lwip-2.1*' | sort | tail -n1)
if [ -z "$lwip_dir" ] || [ ! -f "$lwip_dir/src/core/tcp.c" ]; then
  if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "build-dpdk: adding deb-src entries (copies of the deb ones)"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
        "${sudo_cmd[@]}" tee /etc/apt/sources.list.d/musqratt-deb-src.sources >/dev/null
    fi
    if [ -f /etc/apt/sources.list ]; then
      sed -n 's/^deb /deb-src /p' /etc/apt/sources.list |
        "${sudo_cmd[@]}" tee /etc/apt/sources.list.d/musqratt-deb-src.list >/dev/null
    fi
  fi
  "${sudo_cmd[@]}" apt-get update -qq
  echo "build-dpdk: apt-get source lwip -> $deps"
  # As root, apt warns that _apt cannot write here and downloads unsandboxed; that is fine.
  (cd "$deps" && apt-get source -qq lwip 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  lwip_dir=$(find "$deps" -maxdepth 1 -type d -name 'lwip-2.1*' | sort | tail -n1)
fi
if [ -z "$lwip_dir" ] || [ ! -f "$lwip_dir/src/core/tcp.c" ]; then
  echo "build-dpdk: no lwIP 2.1 source under $deps (apt-get source lwip failed?)" >&2
  exit 1
fi

# The broker only: the unit tests and tools are the default build's (scripts/build.sh).
# ccache, when present, serves the objects this build shares with the default one.
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "${launcher[@]}" \
  -DMUSQRATT_DPDK=ON -DLWIP_SOURCE_DIR="$lwip_dir" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target musqratt
