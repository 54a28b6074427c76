#!/usr/bin/env bash
# Installs every Debian package the build and the tests need. Idempotent: packages already
# present are skipped, so a developer machine pays only for a dpkg query.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libgtest-dev libgmock-dev libbenchmark-dev
  libtomlplusplus-dev libedit-dev libmosquitto-dev libssl-dev libsqlite3-dev
  nlohmann-json3-dev libsystemd-dev
  # The broker's heap allocator (MUSQRATT_ALLOCATOR, docs/performance-analysis.md).
  libmimalloc-dev
  mosquitto mosquitto-clients openssl iproute2
  python3-paho-mqtt python3-pytest
  liburing-dev
  debhelper dpkg-dev lintian man-db systemd
  prometheus nlohmann-json3-dev
  # tests/web: headless Chromium (driven by npm puppeteer-core, which never downloads a
  # browser) and certutil, to make the test CA trusted in the browser's NSS database.
  chromium libnss3-tools curl
  # tests/cluster and tests/bridge: NATS servers (the cluster link uses the C client).
  nats-server libnats-dev
)
# nats-server: the bridge tests' upstream cluster (tests/bridge/test_05_nats.py).
# The status page's JavaScript (MQTT.js) comes from npm when the broker is built
# (src/web/CMakeLists.txt); promtool (package prometheus) checks the /metrics text in the tests.
# The web tests' clients (MQTT.js, puppeteer-core) come from npm too (tests/web/package-lock.json,
# installed by scripts/test.sh with npm ci and no install scripts).
# A Node.js from elsewhere that brings its own npm is used as it is.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
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
# Services and processes already on the machine are left alone: the tests start their own
# brokers (Mosquitto included) on free loopback ports. Debian's mosquitto package may start
# its own service on 1883; scripts/run.sh then needs --listen 127.0.0.1:PORT.
