#pragma once
// `musqratt-cli import-mosquitto-conf MOSQUITTO_CONF [-o FILE]`: writes a musqratt.toml that
// does what a mosquitto.conf (Mosquitto 2.0) does: listeners and their TLS settings, anonymous
// access, password and ACL files (read by MusQraTT as they are), persistence, limits, logging,
// the files of include_dir, and bridges (`connection` sections) as [[bridge]] tables. Every
// directive that cannot be carried over is listed in the output with the reason.
#include <expected>
#include <string>
#include <vector>

#include "imported_config.hpp"
#include "mosquitto_conf.hpp"

namespace musqratt::cli {

/// Translates the directives of one mosquitto.conf (as read_mosquitto_conf returns them).
ImportedConfig import_mosquitto(const std::vector<MosquittoDirective>& directives);

int run_import_mosquitto_conf(int argc, char** argv);

}  // namespace musqratt::cli
