#!/usr/bin/env bash
# Sets up, builds and starts the broker on 127.0.0.1:1883 with embedded defaults.
# Extra arguments go to the broker (e.g. --threads 4 --log-level debug).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/bin/musqratt "$@"
