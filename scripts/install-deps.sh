#!/usr/bin/env bash
# Installs every Debian package the build and the tests need. Idempotent: packages already
# present are skipped, so a developer machine pays only for a dpkg query.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libtomlplusplus-dev libedit-dev libmosquitto-dev libssl-dev libsqlite3-dev
  mosquitto mosquitto-clients openssl iproute2
  python3-paho-mqtt python3-pytest
  liburing-dev
  nats-server libnats-dev
)
if [ "${MUSQRATT_EXTRA_PACKAGES:-}" != "" ]; then
  # shellcheck disable=SC2206
  packages+=(${MUSQRATT_EXTRA_PACKAGES})
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
echo "installing: ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged Mosquitto service on 1883; the tests run their own brokers
# on free ports, but a developer running ours on 1883 would collide with it.
if command -v systemctl >/dev/null 2>&1; then
  "${sudo_cmd[@]}" systemctl disable --now mosquitto >/dev/null 2>&1 || true
  # Likewise the packaged NATS server: the cluster tests start their own on free ports.
  "${sudo_cmd[@]}" systemctl disable --now nats-server >/dev/null 2>&1 || true
fi
"${sudo_cmd[@]}" pkill -x mosquitto >/dev/null 2>&1 || true
