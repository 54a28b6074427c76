#!/usr/bin/env bash
# Runs this integration suite with the broker on a chosen network backend, without touching
# the tests: a throw-away wrapper that adds `--transport TRANSPORT` becomes MUSQRATT_BIN.
#   tests/integration/run_transport.sh io_uring [PYTEST_ARGS...]
# MUSQRATT_BIN (default build/bin/musqratt) names the real binary; MUSQRATT_TRANSPORT_ARGS adds
# more broker flags for the backend (e.g. "--uring-sqpoll true"); tests' own flags still win.
set -euo pipefail
transport=${1:?usage: run_transport.sh TRANSPORT [PYTEST_ARGS...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(realpath "${MUSQRATT_BIN:-$root/build/bin/musqratt}")
: "${MUSQRATT_CLI:=$(dirname "$bin")/musqratt-cli}"
export MUSQRATT_CLI
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# --print-config is left alone: it must print the defaults the example config is checked against.
cat >"$tmp/musqratt" <<EOF
#!/bin/sh
case " \$* " in *" --print-config "*) exec "$bin" "\$@" ;; esac
exec "$bin" --transport "$transport" ${MUSQRATT_TRANSPORT_ARGS:-} "\$@"
EOF
chmod +x "$tmp/musqratt"
# The whole suite unless test paths are given.
paths=("$here")
for a in "$@"; do [[ $a != -* && -e ${a%%::*} ]] && paths=(); done
MUSQRATT_BIN="$tmp/musqratt" /usr/bin/python3 -m pytest -q -p no:cacheprovider "${paths[@]}" "$@"
