#!/usr/bin/env bash
# Sets up, builds and starts the broker on 127.0.0.1:1883 with embedded defaults.
# Extra arguments go to the broker (e.g. --threads 4 --log-level debug, or
# --listen 127.0.0.1:PORT when 1883 is taken, e.g. by Debian's mosquitto service).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
case " $* " in
  *" --listen "* | *" --config "*) ;;
  *) if ss -Hltn "sport = :1883" 2>/dev/null | grep -q .; then  # looks, does not connect
       echo "note: something already listens on 127.0.0.1:1883 (Debian's mosquitto service?);" \
            "pass --listen 127.0.0.1:PORT to use another port" >&2
     fi ;;
esac
exec build/bin/musqratt "$@"
