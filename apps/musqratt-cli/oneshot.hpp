#pragma once
// One-shot `musqratt-cli pub ...` and `musqratt-cli sub ...`, flag-compatible with
// mosquitto_pub/mosquitto_sub where they overlap.

namespace musqratt::cli {

/// Exit status of `sub -W` when the time runs out (mosquitto_sub's MOSQ_ERR_TIMEOUT).
inline constexpr int kExitTimeout = 27;

/// argv after "pub": publish one message. Returns the process exit status.
int run_oneshot_pub(int argc, char** argv);
/// argv after "sub": subscribe and print messages. Returns the process exit status.
int run_oneshot_sub(int argc, char** argv);

}  // namespace musqratt::cli
