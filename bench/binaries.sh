# Sourced by the bench scripts: which binaries to run. ROOT must be set.
# pick ENVVAR name: $ENVVAR if set, else the newer of build/bin/name and build-bench/bin/name.
pick() {
  local v="${!1:-}" best=""
  if [ -n "$v" ]; then echo "$v"; return; fi
  for d in build build-bench; do
    local f="$ROOT/$d/bin/$2"
    if [ -x "$f" ] && { [ -z "$best" ] || [ "$f" -nt "$best" ]; }; then best="$f"; fi
  done
  echo "${best:-$ROOT/build/bin/$2}"
}
BENCH="$(pick MUSQRATT_BENCH_BIN musqratt-bench)"
RELAY="$(pick MUSQRATT_RELAY_BIN musqratt-relay)"
MUSQRATT="${MUSQRATT_BIN:-$ROOT/build/bin/musqratt}"
MOSQUITTO="${MOSQUITTO_BIN:-/usr/sbin/mosquitto}"
# FlashMQ is not built here: FLASHMQ_BIN names a binary built from FlashMQ's own source tree
# (docs/benchmarks.md says how); without it the scripts leave FlashMQ out.
FLASHMQ="${FLASHMQ_BIN:-}"
