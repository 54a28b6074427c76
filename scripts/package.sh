#!/usr/bin/env bash
# Builds the Debian package from the tree: dist/musqratt_VERSION_ARCH.deb (and its debug
# symbols, .buildinfo and .changes). It packages the binaries of the build tree
# scripts/build.sh made (build/, or BUILD_DIR), building it first if needed, so after
# scripts/test.sh the package costs seconds, not a second compile. Then runs lintian.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
dist=${MUSQRATT_DIST:-dist}

# The Debian version is the project's (CMakeLists.txt): the package must say what it ships.
version=$(sed -nE 's/^project\(musqratt VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
deb_version=$(dpkg-parsechangelog -S Version)
if [ "$version" != "$deb_version" ]; then
  echo "package.sh: CMakeLists.txt says $version, debian/changelog $deb_version: add a changelog entry (dch -v $version)" >&2
  exit 1
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
rm -f "$dist"/musqratt_"$version"_"$arch".* "$dist"/musqratt-dbgsym_"$version"_"$arch".*

MUSQRATT_BUILD_DIR="$build_dir" MUSQRATT_DEB_DESTDIR="$dist" \
  dpkg-buildpackage --build=binary --no-pre-clean --no-sign \
  --buildinfo-option=-u"$dist" --buildinfo-file="$dist/musqratt_${version}_${arch}.buildinfo" \
  --changes-option=-u"$dist" --changes-file="$dist/musqratt_${version}_${arch}.changes" >"$dist/build.log" 2>&1 \
  || { tail -n 40 "$dist/build.log" >&2; exit 1; }
# What dh leaves in debian/ is build output, not source.
rm -rf debian/musqratt debian/.debhelper debian/musqratt.substvars debian/files debian/debhelper-build-stamp \
  debian/musqratt.toml.5 debian/*.debhelper.log debian/*.debhelper
deb="$dist/musqratt_${version}_${arch}.deb"
echo "package: $deb"

if command -v lintian >/dev/null 2>&1; then
  # Exceptions are listed, with reasons, in debian/musqratt.lintian-overrides.
  lintian --fail-on error,warning --info "$deb"
fi
