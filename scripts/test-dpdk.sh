#!/usr/bin/env bash
# Builds the DPDK + lwIP transport (scripts/build-dpdk.sh) and runs its end-to-end tests in two
# throw-away network namespaces. Needs root. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-dpdk.sh
# The DPDK build, never the default one (a caller may have exported MUSQRATT_BIN for that).
export MUSQRATT_BIN=${MUSQRATT_DPDK_BIN:-$PWD/build-dpdk/bin/musqratt}
export MQ_DPDK_RUN_ID=${MQ_DPDK_RUN_ID:-t$(printf '%x' $$)}
# The test deletes its namespaces itself; this covers a pytest killed by the timeout.
trap 'bash tests/dpdk/netns.sh down "$MQ_DPDK_RUN_ID"; bash tests/dpdk/ports.sh clean any "$MQ_DPDK_RUN_ID"' EXIT
timeout -k 10 240 /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/dpdk "$@"
